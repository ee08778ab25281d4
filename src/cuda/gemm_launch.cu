/*
 * gemm_launch.cu - launching the large-M family: encodes the kernel's tensor
 * maps (A, a [m][lda] f16/bf16 matrix in boxes of [tn][64] with 128-byte
 * swizzle and zero fill past m and k; the packed codes in the boxes one ring
 * stage takes, see ug_gemm_maps), sizes the shared-memory ring (as many
 * stages as fit, at most UG_GEMM_MAX_STAGES), and launches either a
 * persistent grid (one CTA per SM at most, or with a_share = 2 one cluster
 * of two CTAs sharing A tiles per pair of SMs; tiles that do not divide
 * evenly are shared by chunks, ug_gemm_plan_grid) or, with splits > 1, one
 * cluster of `splits` CTAs per tile.
 *
 * cuTensorMapEncodeTiled is a driver function; it is reached through the
 * runtime's entry-point query, so the library links no libcuda.
 */
#include <cudaTypedefs.h>
#include <string.h>

#include "../dispatch/heuristic.h"
#include "gemm_kernel.cuh"

static PFN_cuTensorMapEncodeTiled_v12000 encode_fn(cudaError_t *err)
{
    static PFN_cuTensorMapEncodeTiled_v12000 fn = NULL;
    static cudaError_t status = cudaSuccess;
    static bool looked = false;
    if (!looked) {
        cudaDriverEntryPointQueryResult q;
        void *p = NULL;
        status = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000,
                                                  cudaEnableDefault, &q);
        if (status == cudaSuccess && q != cudaDriverEntryPointSuccess)
            status = cudaErrorSymbolNotFound;
        fn = (PFN_cuTensorMapEncodeTiled_v12000)p;
        looked = true;
    }
    *err = status;
    return fn;
}

/* A tensor map of `rank` dimensions (dims innermost first, strides in
 * bytes for dims 1.., unit element strides), read through L2 in 256-byte
 * lines; false if the driver refuses it. */
static bool encode_map(PFN_cuTensorMapEncodeTiled_v12000 encode, CUtensorMap *map,
                       CUtensorMapDataType type, cuuint32_t rank, const void *base,
                       const cuuint64_t *dims, const cuuint64_t *strides, const cuuint32_t *box,
                       CUtensorMapSwizzle swizzle)
{
    cuuint32_t elem_strides[4] = {1, 1, 1, 1};
    return encode(map, type, rank, (void *)base, dims, strides, box, elem_strides,
                  CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                  CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

/* Bytes of one ring stage (gemm_ring_layout) */
static int stage_bytes(int bits, int rows, int tn, int64_t unit_bytes, bool records)
{
    return gemm_ring_layout(bits, rows / 128, tn, unit_bytes, records).bytes;
}

/* Shared memory the epilogue takes after the ring: the pass buffers of the
 * f32 and 16-bit paths, or with UG_GEMM_C_TILE the two warpgroups' whole
 * part of the tile as 16-bit values. */
static int epilogue_bytes(int rows, int tn, int c_path)
{
    const int tile = 2 * (rows / 128) * tn * 128;
    return c_path == UG_GEMM_C_TILE && tile > UG_GEMM_EPILOGUE_BYTES ? tile : UG_GEMM_EPILOGUE_BYTES;
}

/* Ring stages that fit beside an epilogue of `epilogue` bytes; 0 if too few. */
static int stages_beside(int bits, int rows, int tn, int splits, int64_t unit_bytes, bool records,
                         int smem_optin, int epilogue)
{
    const int bytes = stage_bytes(bits, rows, tn, unit_bytes, records);
    int usable = smem_optin - 1024 - epilogue - (int)(2 * UG_GEMM_MAX_STAGES * sizeof(uint64_t));
    int stages = usable / bytes;
    if (stages > UG_GEMM_MAX_STAGES)
        stages = UG_GEMM_MAX_STAGES;
    /* quantized formats without records: the three group-state warps take
     * every third slot, which needs three stages; split-K parks the tile's
     * f32 partial sums (rows * tn) in the ring */
    if (stages < (bits <= 8 && !records ? 3 : 2) || (splits > 1 && stages * bytes < rows * tn * 4))
        return 0;
    return stages;
}

int ug_gemm_stages(int bits, int rows, int tn, int splits, int64_t unit_bytes, bool records,
                   int smem_optin)
{
    return stages_beside(bits, rows, tn, splits, unit_bytes, records, smem_optin,
                         UG_GEMM_EPILOGUE_BYTES);
}

/* A launch of `fn`'s blocks with `smem` bytes of dynamic shared memory, in
 * clusters of `ctas` along x where ctas > 1 (attr holds the attribute). */
static void launch_config(cudaLaunchConfig_t *cfg, cudaLaunchAttribute *attr, size_t smem,
                          int ctas)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->blockDim = dim3(UG_GEMM_THREADS, 1, 1);
    cfg->dynamicSmemBytes = smem;
    if (ctas > 1) {
        attr->id = cudaLaunchAttributeClusterDimension;
        attr->val.clusterDim.x = (unsigned)ctas;
        attr->val.clusterDim.y = 1;
        attr->val.clusterDim.z = 1;
        cfg->attrs = attr;
        cfg->numAttrs = 1;
    }
}

cudaError_t ug_gemm_slots(ug_gemm_kernel_fn fn, int a_share, int sms, int smem_optin, int *slots)
{
    *slots = sms;
    if (a_share == 1)
        return cudaSuccess;
    /* asked with all the shared memory a block may have: one CTA per SM, as
     * every launch of the kernel (its registers allow no more) */
    cudaFuncAttributes attrs;
    cudaError_t err = cudaFuncGetAttributes(&attrs, fn);
    const int dynamic = smem_optin - (int)attrs.sharedSizeBytes;
    if (err == cudaSuccess)
        err = cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, dynamic);
    if (err != cudaSuccess)
        return err;
    cudaLaunchConfig_t cfg;
    cudaLaunchAttribute attr;
    launch_config(&cfg, &attr, (size_t)dynamic, a_share);
    cfg.gridDim = dim3((unsigned)(sms / a_share * a_share), 1, 1);
    int clusters = 0;
    err = cudaOccupancyMaxActiveClusters(&clusters, fn, &cfg);
    if (err != cudaSuccess)
        return err;
    if (clusters < 1)
        return cudaErrorInvalidConfiguration;
    *slots = clusters < sms / a_share ? clusters : sms / a_share;
    return cudaSuccess;
}

/* Chunks of K from which tiles filling less than 90 % of two rounds are all
 * shared by chunks (ug_gemm_plan_grid). */
#define UG_WG_SK_TWO_ROUNDS_MIN_CHUNKS 128

void ug_gemm_plan_grid(int rows, int tn, int64_t m, int64_t n, int64_t chunks, int splits,
                       int a_share, int slots, ug_gemm_grid *g)
{
    const int64_t row_tiles = (n + rows - 1) / rows;
    g->tiles = (m + tn - 1) / tn * ((row_tiles + a_share - 1) / a_share);
    g->dp_tiles = g->tiles;
    g->sk_units = 0;
    g->workspace = 0;
    if (splits > 1) {
        g->grid = g->tiles * splits;
        return;
    }
    const int sms = slots; /* CTAs or clusters that run at once */
    g->grid = g->tiles < sms ? g->tiles : sms;
    /* Few tiles over a long K (ug_wg_shares_all_tiles): every SM gets a CTA
     * and all tiles are shared by chunks, so that K is split without more
     * token tiles (each converting the weights again) or clusters. On the
     * H200, int4 weights, K = 14336, N = 4096: 34 against 52 us at M = 64
     * (t64, against t64 over clusters of two), 41 against 52 us at M = 128
     * (t128, against t64-s2). Sharing all tiles lost where K was short
     * (K = 4096: 16 chunks per SM) and where the tiles already filled 112
     * SMs (bench/results/h200-session7-experiments.txt). */
    if (ug_wg_shares_all_tiles(g->tiles, chunks, sms)) {
        g->grid = sms;
        g->dp_tiles = 0;
    } else if (g->tiles > sms && g->tiles < 2 * sms && chunks >= UG_WG_SK_TWO_ROUNDS_MIN_CHUNKS &&
               10 * g->tiles < 9 * 2 * sms) {
        /* Between one and two rounds of tiles that fill less than 90 % of
         * two, over a long K: every SM gets a CTA and all tiles are shared.
         * The shared pieces cost about 8 us on the H200 (each CTA's f32
         * partial tile out to L2 and back in, all CTAs at once, and the
         * flags' reset), and an SM's work is ~5 % slower with 132 SMs busy
         * than with 112; so this pays where a round is long: at 224 tiles
         * with K = 8192 (N = 28672, M = 256) int4 188 -> 185 us and bf16
         * weights 216 -> 202 us, and not with K = 4096 (-1 to -5 %), nor
         * at one round of 112 or 128 tiles with K = 4096 (-9 to -13 %)
         * (bench/results/h200-session16- and -session17-experiments.txt). */
        g->grid = sms;
        g->dp_tiles = 0;
    } else {
        /* Stream-K only where whole tiles would use less than 90 % of the
         * SMs' rounds and there are two rounds or more. Its shared pieces
         * start at staggered chunks, so CTAs no longer read the same A and W
         * chunks at about the same time and L2 shares less: on the H200 it
         * lost up to 20 % where the tiles already divided nearly evenly (512
         * tiles, K = 14336) and gained 5-9 % at 448 tiles
         * (bench/results/h200-session6-experiments.txt). */
        const int64_t rounds = (g->tiles + g->grid - 1) / g->grid;
        if (g->tiles >= 2 * g->grid && 10 * g->tiles < 9 * rounds * g->grid)
            g->dp_tiles = (g->tiles / g->grid - 1) * g->grid;
    }
    g->grid *= a_share; /* in CTAs */
    g->sk_units = (g->tiles - g->dp_tiles) * chunks;
    if (g->sk_units > 0)
        g->workspace = (size_t)g->grid * ((size_t)rows * tn * 4 + 4);
}

cudaError_t ug_gemm_launch(ug_gemm_fn fn, ug_gemm_params *p, const void *a, int64_t lda,
                           int rows, int tn, int bf16, int slots, int smem_optin, void *workspace,
                           cudaStream_t stream)
{
    const bool records =
        p->w.bits <= 8 && ug_gemm_uses_records(p->w.records, p->w.scale_type, !bf16);
    const ug_gemm_kernel_fn kernel = records ? fn.records : fn.staged;
    p->stages =
        ug_gemm_stages(p->w.bits, rows, tn, p->splits, p->w.unit_bytes, records, smem_optin);
    if (p->stages == 0 || (p->a_share > 1 && (p->splits > 1 || rows != 128)))
        return cudaErrorInvalidConfiguration;

    cudaError_t err;
    PFN_cuTensorMapEncodeTiled_v12000 encode = encode_fn(&err);
    if (encode == NULL)
        return err;
    ug_gemm_maps maps;
    memset(&maps, 0, sizeof maps);
    const ug_kernel_weights *w = &p->w;
    const int ks = gemm_chunks_per_stage(p->w.bits, rows / 128, tn);
    const CUtensorMapDataType a_type =
        bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
    /* a stage's chunks of A in one box where k is whole chunks (a chunk
     * past k is then wholly out of the view, zero-filled) and the CTA
     * takes whole A tiles, else a box per chunk */
    bool a_view = false;
    if (ks > 1 && p->k % 64 == 0 && p->a_share == 1) {
        cuuint64_t dims[3] = {64, (cuuint64_t)p->m, (cuuint64_t)p->k / 64};
        cuuint64_t strides[2] = {(cuuint64_t)lda * 2, 128};
        cuuint32_t box[3] = {64, (cuuint32_t)tn, (cuuint32_t)ks};
        a_view = encode_map(encode, &maps.a, a_type, 3, a, dims, strides, box,
                            CU_TENSOR_MAP_SWIZZLE_128B);
    }
    p->a_copies = a_view ? 1 : ks;
    bool ok = a_view;
    if (!a_view) {
        cuuint64_t dims[2] = {(cuuint64_t)p->k, (cuuint64_t)p->m};
        cuuint64_t strides[1] = {(cuuint64_t)lda * 2};
        cuuint32_t box[2] = {64, (cuuint32_t)(tn / p->a_share)};
        ok = encode_map(encode, &maps.a, a_type, 2, a, dims, strides, box,
                        CU_TENSOR_MAP_SWIZZLE_128B);
    }
    if (ok) {
        /* 8-byte elements: 64 of them are the 512 bytes a warp reads at once;
         * with records, a whole unit (codes and record, at most 1088 bytes)
         * is the innermost dimension */
        const int64_t unit = w->unit_bytes;
        const bool whole = w->records != 0;
        cuuint64_t dims[4] = {whole ? (cuuint64_t)unit / 8 : 64,
                              whole ? 1 : (cuuint64_t)w->bits / 4, (cuuint64_t)w->chunks,
                              (cuuint64_t)(w->n_pad / 16)};
        cuuint64_t strides[3] = {whole ? (cuuint64_t)unit : 512, (cuuint64_t)unit,
                                 (cuuint64_t)(w->chunks * unit)};
        cuuint32_t box[4] = {(cuuint32_t)dims[0], (cuuint32_t)dims[1], (cuuint32_t)ks,
                             (cuuint32_t)rows / 16};
        ok = encode_map(encode, &maps.codes, CU_TENSOR_MAP_DATA_TYPE_UINT64, 4, w->codes, dims,
                        strides, box, CU_TENSOR_MAP_SWIZZLE_NONE);
    }
    if (!ok)
        return cudaErrorInvalidValue;
    /* 16-bit C without beta (which reads C), rows 16-byte aligned, n % 8 ==
     * 0 (a tensor store clips a row only at 16-byte units: on the H200 it
     * wrote C's padding when n was not a multiple of 8): a tensor store of
     * the whole tile where its staging area leaves the ring four stages or
     * costs none, else 16-byte runs */
    const bool c16 = (p->out.c_type == UG_KF16 || p->out.c_type == UG_KBF16) &&
                     p->out.beta == 0.0f && (uintptr_t)p->out.c % 16 == 0 &&
                     p->out.ldc % 8 == 0 && p->out.n % 8 == 0;
    p->c_path = c16 ? UG_GEMM_C_RUNS : UG_GEMM_C_GENERAL;
    if (c16 && p->m < 0x7fffffff && p->out.n < 0x7fffffff) {
        const int tile_stages =
            stages_beside(p->w.bits, rows, tn, p->splits, p->w.unit_bytes, records, smem_optin,
                          epilogue_bytes(rows, tn, UG_GEMM_C_TILE));
        cuuint64_t dims[2] = {(cuuint64_t)p->out.n, (cuuint64_t)p->m};
        cuuint64_t strides[1] = {(cuuint64_t)p->out.ldc * 2};
        cuuint32_t box[2] = {64, (cuuint32_t)tn};
        if ((tile_stages >= 4 || tile_stages == p->stages) &&
            encode_map(encode, &maps.c,
                       p->out.c_type == UG_KF16 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16
                                                : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
                       2, p->out.c, dims, strides, box, CU_TENSOR_MAP_SWIZZLE_128B)) {
            p->c_path = UG_GEMM_C_TILE;
            p->stages = tile_stages;
        }
    }

    size_t smem = (size_t)p->stages * stage_bytes(p->w.bits, rows, tn, p->w.unit_bytes, records) +
                  epilogue_bytes(rows, tn, p->c_path) + 1024;
    err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (err != cudaSuccess)
        return err;
    cudaLaunchConfig_t cfg;
    cudaLaunchAttribute attr;
    launch_config(&cfg, &attr, smem, p->splits > 1 ? p->splits : p->a_share);
    cfg.stream = stream;
    ug_gemm_grid g;
    ug_gemm_plan_grid(rows, tn, p->m, p->out.n, p->w.chunks, p->splits, p->a_share, slots, &g);
    const int64_t grid = g.grid;
    p->tiles_m = (p->m + tn - 1) / tn;
    p->tiles = g.tiles;
    p->dp_tiles = g.dp_tiles;
    p->sk_units = g.sk_units;
    p->sk_partials = NULL;
    p->sk_flags = NULL;
    if (g.sk_units > 0) {
        if (workspace == NULL)
            return cudaErrorInvalidValue;
        p->sk_partials = (float *)workspace;
        p->sk_flags = (int *)((char *)workspace + (size_t)grid * rows * tn * 4);
        err = cudaMemsetAsync(p->sk_flags, 0, (size_t)grid * 4, stream);
        if (err != cudaSuccess)
            return err;
    }
    if (grid > 0x7fffffff || g.tiles > 0x7fffffff || p->w.chunks > 0x7fffffff)
        return cudaErrorInvalidConfiguration;
    cfg.gridDim = dim3((unsigned)grid, 1, 1);
    return cudaLaunchKernelEx(&cfg, kernel, maps, *p);
}
