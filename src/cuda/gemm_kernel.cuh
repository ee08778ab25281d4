/*
 * gemm_kernel.cuh - the large-M GEMM ("wg" schedules): C[M][N] = alpha *
 * A[M][K] * dequant(W)[N][K]^T + bias + beta * C on sm_90a, computed as
 * C^T = W * A^T so that the dequantized weights are wgmma's register operand
 * (rows of W = wgmma's M, 64 per warpgroup) and the activations its
 * shared-memory operand (tokens = wgmma's N, a tile of TN = 16..256).
 *
 * A CTA is two consumer warpgroups and a producer warpgroup (registers
 * moved from the producer to the consumers with setmaxnreg), and owns tiles
 * of 128*MR rows of W (MR = 1, 2) x TN tokens:
 *   - the producer: a ring stage holds KS = 1 or 2 chunks of 64 k
 *     (gemm_chunks_per_stage). For each stage warp 8 waits until a ring
 *     slot is free, then one lane fills it with two tensor copies (TMA)
 *     completing on the stage's "full" mbarrier: the A tiles [KS][TN][64]
 *     (128-byte swizzle, zero fill past M and K; one box of a 3-d view of
 *     A where K is whole chunks, else a box per chunk) and the tile's 8*MR
 *     weight row blocks of KS chunks (one box of the 4-d view of the packed
 *     codes, gemm_launch.cu). Few copies matter: each costs the SM's copy
 *     engine ~220 cycles plus ~4 per KB (measured, docs/cuda.md). Where
 *     the layout has records (gpu_layout.cuh: each chunk's 16 rows of group
 *     parameters after its codes) and the scales are stored in the
 *     activation type, the codes' copy brings them and the consumers make
 *     the state (the RECORDS kernel). Otherwise warps 9-11 take the stages
 *     in turn, read each chunk's group rows of scales, biases and zero points from
 *     global memory (warming L2 three stages ahead), convert them into each
 *     row's packed dequantization state (pack_group_row, 16 bytes) and
 *     store that into the stage (once where both chunks are in one group;
 *     with one chunk and one 64-row batch per stage, not for the second
 *     stage of a pair in the first one's group, whose consumers read the
 *     first one's state again), then all 32 lanes arrive on "full" too;
 *   - the consumers: warpgroup q owns rows 64*MR*q .. +64*MR, i.e. MR
 *     wgmmas of 64 rows per k16 step (the layout of gpu_layout.cuh is the
 *     wgmma register-A layout, one row block per warp). For each chunk of
 *     a stage and 64 of its rows (a batch) it reads its two rows' packed
 *     group state (quantized codes: every batch's codes and state of the
 *     stage first), dequantizes the weight fragments from shared memory
 *     into registers and issues 4 wgmmas, keeping that batch in flight while it
 *     makes the next one's fragments (wait_group 1, two register sets); a
 *     stage goes back to the producer once its batches have
 *     retired (every consumer thread arrives on its "empty" mbarrier, after
 *     its own reads of the stage);
 *   - epilogue: alpha, bias (beta * C), rounded to C's type, one of three
 *     ways (p.c_path, chosen by gemm_launch.cu). A 16-bit C without beta
 *     where the whole tile fits beside a ring of four stages: stmatrix
 *     writes the warpgroup's outputs into its staging area and one thread
 *     stores them with tensor stores that nobody waits for, so the
 *     consumers go on to their next tile at once. The same C otherwise:
 *     per warpgroup and 32 tokens, stmatrix writes the outputs into one of
 *     two swizzled staging boxes and each thread stores 16-byte runs of one
 *     token's rows. Anything else: the warpgroup stages f32 values and each
 *     thread stores runs of eight consecutive outputs.
 * MR = 2 halves the activation bytes each stage brings per multiply-add;
 * MR = 1 allows token tiles up to 256.
 * With splits == 1 the grid is persistent: CTA b takes tiles b, b + grid,
 * ... (tokens fastest, so concurrent CTAs share weight tiles in L2), and the
 * producer runs ahead into the next tile while the consumers finish one.
 * Where whole tiles would leave too many SMs idle (in the last round, or
 * few tiles or less than two rounds over a long K; the rules are
 * ug_gemm_plan_grid's), the last full round and the rest, or all tiles,
 * are shared by chunks instead
 * (stream-K, work_item; a tile may then span several CTAs): each CTA
 * takes the same number of chunks, a tile split between CTAs is finished
 * by the one holding its last chunks after it has added the others'
 * partial sums from the workspace, in a fixed order.
 * With a_share = 2 (splits == 1, MR = 1) the persistent grid is one of
 * clusters of two CTAs along N: a cluster walks pairs of neighbouring row
 * tiles of the same tokens as above, one per CTA, and each CTA's producer
 * copies half of every A tile into both CTAs' stage (TMA multicast), so L2
 * sends each A tile once per pair. A stage then goes back once the consumers
 * of both CTAs are done with it (each consumer warp also arrives on the
 * other CTA's "empty" barrier).
 * With splits > 1 the grid holds one tile per cluster of `splits` CTAs, each
 * taking a contiguous share of K; the partial sums meet in a fixed order by
 * warpgroup (ranks r and r ^ 1 swap halves of the tile through distributed
 * shared memory, each adding the half it keeps; with four, ranks 2 and 3
 * then push their halves to ranks 0 and 1), and ranks 0 and 1 each write
 * half of the tile: deterministic, no workspace.
 *
 * Instantiated from spec/kernels.toml (src/generated/cuda_gemm_<bits>bit.cu); launched by
 * gemm_launch.cu.
 */
#ifndef UG_GEMM_KERNEL_CUH
#define UG_GEMM_KERNEL_CUH

#include <cooperative_groups.h>

#include "dequant.cuh"
#include "wgmma_ops.cuh"

#define UG_GEMM_THREADS 384 /* two consumer warpgroups and a producer warpgroup */
#define UG_GEMM_MAX_STAGES 8
/* The epilogue's staging buffers, after the ring: per consumer warpgroup,
 * 32 tokens x 64 rows of f32 at a token stride of EPI_ROW_STRIDE floats (the
 * 16-bit path uses the first 16 KB as 2 x 2 boxes of 32 x 64 16-bit
 * outputs). */
#define EPI_ROW_STRIDE 68
#define UG_GEMM_EPILOGUE_BYTES (2 * 32 * EPI_ROW_STRIDE * 4)

/* 64-k chunks per ring stage: two for quantized codes in 128-row tiles of
 * up to 128 tokens, where a stage's tensor work is short next to the fixed
 * cost of its copies on the SM's copy engine (docs/cuda.md), so that each
 * copy carries twice the work; one otherwise (full-precision weights were
 * no faster with two: their copies are large anyway). */
__host__ __device__ constexpr int gemm_chunks_per_stage(int bits, int mr, int tn)
{
    return bits <= 8 && mr == 1 && tn <= 128 ? 2 : 1;
}

/* One ring stage for a code width, 128*MR rows of W and a token tile, per
 * chunk of the stage (KS of them): the A tiles ([KS][TN][64]), the tile's
 * 8*MR weight row blocks ([8*MR][KS] units of `unit_bytes`, a chunk's codes
 * and its record if any, as the codes' box lands), and (quantized, without
 * records) the packed group state of every row for up to two group rows per
 * chunk ([KS][2][128*MR] x 16 bytes). Every part starts 1024-aligned, so A
 * tiles stay aligned for the 128-byte swizzle. The A part is fixed by the
 * tile; the rest depends on the layout (gemm_ring). */
template <int BITS, int MR, int TN> struct gemm_stage {
    static constexpr int KS = gemm_chunks_per_stage(BITS, MR, TN);
    static constexpr int A_CHUNK = TN * 128;
    static constexpr int P_CHUNK = BITS <= 8 ? 4096 * MR : 0;
    static constexpr int A_BYTES = KS * A_CHUNK;
};

/* The layout-dependent sizes of a stage: the bytes the codes' box brings,
 * the room it takes, the packed group state's and the whole stage's. */
struct gemm_ring {
    int w_copy, w_bytes, p_bytes, bytes;
};
__host__ __device__ inline gemm_ring gemm_ring_layout(int bits, int mr, int tn, int64_t unit_bytes,
                                                      bool records)
{
    const int ks = gemm_chunks_per_stage(bits, mr, tn);
    gemm_ring r;
    r.w_copy = ks * 8 * mr * (int)unit_bytes;
    r.w_bytes = (r.w_copy + 1023) / 1024 * 1024;
    r.p_bytes = bits <= 8 && !records ? ks * 4096 * mr : 0;
    r.bytes = ks * tn * 128 + r.w_bytes + r.p_bytes;
    return r;
}

/* Registers per thread after setmaxnreg: the producer warpgroup's and the
 * consumers'. 128 * producer + 256 * consumer may not exceed the launch's
 * 384 x 168 (a larger request blocks forever). Quantized formats give the
 * producer warpgroup more for its group-parameter warps. */
template <int BITS> struct gemm_regs {
    static constexpr int PRODUCER = BITS <= 8 ? 56 : 40;
    static constexpr int CONSUMER = BITS <= 8 ? 224 : 232;
    static_assert(128 * PRODUCER + 256 * CONSUMER <= 384 * 168, "register budget");
};

/* ---- shared-memory barriers, copies, wgmma fences ------------------------- */

__device__ __forceinline__ uint32_t smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

__device__ __forceinline__ void mbar_init(uint64_t *bar, int count)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(count));
}

__device__ __forceinline__ void mbar_expect_tx(uint64_t *bar, uint32_t bytes)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_addr(bar)),
                 "r"(bytes)
                 : "memory");
}

__device__ __forceinline__ void mbar_arrive(uint64_t *bar)
{
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr(bar)) : "memory");
}

/* Arrive on the barrier at the same place as `bar` in CTA `cta` of the
 * cluster. Default (CTA-scope) release semantics: with .release.cluster
 * ptxas puts a cluster-wide MEMBAR before the arrive, which on the H200 made
 * the consumers stall on it and doubled the stage time. */
__device__ __forceinline__ void mbar_arrive_cluster(uint64_t *bar, uint32_t cta)
{
    asm volatile("{\n"
                 ".reg .b32 remote;\n"
                 "mapa.shared::cluster.u32 remote, %0, %1;\n"
                 "mbarrier.arrive.shared::cluster.b64 _, [remote];\n"
                 "}\n" ::"r"(smem_addr(bar)),
                 "r"(cta)
                 : "memory");
}

/* Block until the phase of `bar` with this parity has completed. */
__device__ __forceinline__ void mbar_wait(uint64_t *bar, uint32_t parity)
{
    asm volatile("{\n"
                 ".reg .pred done;\n"
                 "WAIT:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
                 "@!done bra WAIT;\n"
                 "}\n" ::"r"(smem_addr(bar)),
                 "r"(parity)
                 : "memory");
}

/* The box of a 2-d tensor map at (x0, x1) into shared memory. */
__device__ __forceinline__ void tma_load_2d(void *dst, const CUtensorMap *map, int x0, int x1,
                                            uint64_t *bar)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                 " [%0], [%1, {%2, %3}], [%4];\n" ::"r"(smem_addr(dst)),
                 "l"((uint64_t)map), "r"(x0), "r"(x1), "r"(smem_addr(bar))
                 : "memory");
}

/* The box of a 2-d tensor map at (x0, x1) into the same place of shared
 * memory in each CTA of the cluster that `ctas` has a bit for, completing
 * on each one's barrier at the place of `bar`. */
__device__ __forceinline__ void tma_load_2d_multicast(void *dst, const CUtensorMap *map, int x0, int x1,
                                                      uint64_t *bar, uint16_t ctas)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                 ".multicast::cluster [%0], [%1, {%2, %3}], [%4], %5;\n" ::"r"(smem_addr(dst)),
                 "l"((uint64_t)map), "r"(x0), "r"(x1), "r"(smem_addr(bar)), "h"(ctas)
                 : "memory");
}

/* The box of a 3-d tensor map at (x0, x1, x2) into shared memory. */
__device__ __forceinline__ void tma_load_3d(void *dst, const CUtensorMap *map, int x0, int x1,
                                            int x2, uint64_t *bar)
{
    asm volatile("cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                 " [%0], [%1, {%2, %3, %4}], [%5];\n" ::"r"(smem_addr(dst)),
                 "l"((uint64_t)map), "r"(x0), "r"(x1), "r"(x2), "r"(smem_addr(bar))
                 : "memory");
}

/* The box of a 4-d tensor map at (x0, x1, x2, x3) into shared memory. */
__device__ __forceinline__ void tma_load_4d(void *dst, const CUtensorMap *map, int x0, int x1,
                                            int x2, int x3, uint64_t *bar)
{
    asm volatile("cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                 " [%0], [%1, {%2, %3, %4, %5}], [%6];\n" ::"r"(smem_addr(dst)),
                 "l"((uint64_t)map), "r"(x0), "r"(x1), "r"(x2), "r"(x3), "r"(smem_addr(bar))
                 : "memory");
}

/* Four 8x8 16-bit matrices from their mma fragments (r[i]: matrix i), each
 * stored transposed: lane l gives the address of row l % 8 of matrix l / 8. */
__device__ __forceinline__ void stmatrix_x4_trans(uint32_t addr, const uint32_t r[4])
{
    asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(addr),
                 "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3])
                 : "memory");
}

/* A box of shared memory out to a 2-d tensor map at (x0, x1), as one bulk
 * group of this thread; the parts of the box outside the tensor are not
 * written. */
__device__ __forceinline__ void tma_store_2d(const CUtensorMap *map, const void *src, int x0, int x1)
{
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];\n"
                 "cp.async.bulk.commit_group;\n" ::"l"((uint64_t)map),
                 "r"(x0), "r"(x1), "r"(smem_addr(src))
                 : "memory");
}

/* Until this thread's bulk groups have read their shared memory; and until
 * they are complete. */
__device__ __forceinline__ void bulk_wait_read()
{
    asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
}
__device__ __forceinline__ void bulk_wait_all()
{
    asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");
}

/* This thread's shared-memory writes, made visible to tensor copies. */
__device__ __forceinline__ void fence_async_smem()
{
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

__device__ __forceinline__ void wg_fence()
{
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wg_commit()
{
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int N> __device__ __forceinline__ void wg_wait()
{
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}

/* Pin a register's value at this point: registers that an in-flight wgmma
 * reads or writes must not be reused or moved by the compiler before the
 * wait that retires it. */
__device__ __forceinline__ void pin(uint32_t &r)
{
    asm volatile("" : "+r"(r)::"memory");
}
__device__ __forceinline__ void pin(float &r)
{
    asm volatile("" : "+f"(r)::"memory");
}

/* Descriptor of a K-major [rows][64] 16-bit tile with 128-byte swizzle (8-row
 * atoms of 1024 bytes); a k16 step starts 32 bytes further. */
__device__ __forceinline__ uint64_t a_tile_desc(uint32_t addr)
{
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) |
           ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}

/* Outputs C[at .. at + valid - 1] = x (+ beta * C), rounded to C's type;
 * with `vec` (C and ldc aligned for it) and all eight valid, 16-byte
 * accesses each way. */
__device__ __forceinline__ void store_run8(const ug_kernel_output &o, int64_t at, float *x, int valid,
                                           bool vec)
{
    if (!vec || valid < 8) {
#pragma unroll
        for (int e = 0; e < 8; e++) {
            if (e >= valid)
                break;
            float out = x[e];
            if (o.beta != 0.0f)
                out = fmaf(o.beta, load_float(o.c, o.c_type, at + e), out);
            store_float(o.c, o.c_type, at + e, out);
        }
        return;
    }
    if (o.c_type == UG_KF32) {
        float4 *c = (float4 *)((float *)o.c + at);
        if (o.beta != 0.0f) {
            const float4 old0 = c[0], old1 = c[1];
            const float old[8] = {old0.x, old0.y, old0.z, old0.w, old1.x, old1.y, old1.z, old1.w};
#pragma unroll
            for (int e = 0; e < 8; e++)
                x[e] = fmaf(o.beta, old[e], x[e]);
        }
        c[0] = make_float4(x[0], x[1], x[2], x[3]);
        c[1] = make_float4(x[4], x[5], x[6], x[7]);
        return;
    }
    uint4 *c = (uint4 *)((uint16_t *)o.c + at);
    if (o.beta != 0.0f) {
        const uint4 old = *c;
        const uint32_t w[4] = {old.x, old.y, old.z, old.w};
#pragma unroll
        for (int h = 0; h < 4; h++) {
            float2 f = o.c_type == UG_KF16 ? __half22float2(as_t2<__half2>(w[h]))
                                           : __bfloat1622float2(as_t2<__nv_bfloat162>(w[h]));
            x[2 * h] = fmaf(o.beta, f.x, x[2 * h]);
            x[2 * h + 1] = fmaf(o.beta, f.y, x[2 * h + 1]);
        }
    }
    uint32_t packed[4];
#pragma unroll
    for (int h = 0; h < 4; h++)
        packed[h] = o.c_type == UG_KF16 ? as_u32(__floats2half2_rn(x[2 * h], x[2 * h + 1]))
                                        : as_u32(__floats2bfloat162_rn(x[2 * h], x[2 * h + 1]));
    *c = make_uint4(packed[0], packed[1], packed[2], packed[3]);
}

__device__ __forceinline__ void consumers_sync()
{
    asm volatile("bar.sync 1, 256;\n" ::: "memory");
}

/* The 128 threads of consumer warpgroup q (named barriers 2 and 3). */
__device__ __forceinline__ void warpgroup_sync(int q)
{
    asm volatile("bar.sync %0, 128;\n" ::"r"(2 + q) : "memory");
}

/* ---- which tiles and chunks a CTA takes ----------------------------------- */

enum { WORK_WHOLE, WORK_SHARE, WORK_FINISH };

/* One piece of a CTA's work: chunks [c_begin, c_end) of a tile. WORK_SHARE:
 * the CTA stores its partial sums for a lower CTA to finish (no epilogue);
 * WORK_FINISH: the CTA adds the partial sums of the lower CTAs that hold the
 * tile's first chunks, then runs the epilogue. */
struct gemm_work {
    int64_t tile;
    int c_begin, c_end, role;
};

/* Piece i of this CTA's work, in order (false past the last). With splits
 * > 1: tiles blockIdx / splits + i * (grid / splits), each over rank's share
 * of K. Else the data-parallel tiles blockIdx + i * grid below p.dp_tiles,
 * then this CTA's contiguous share [u0, u1) of the remaining tiles'
 * p.sk_units chunks (stream-K), walked from its top: the piece that ends
 * inside a tile (WORK_SHARE) comes first, so the CTA that finishes that
 * tile, the next higher one, finds it stored when it gets there at the end
 * of its own share; a CTA only ever waits for lower ones, and shares at
 * most one piece. Recomputed from i for each piece, so that the consumers
 * carry no walk state through their main loop. */
__device__ __forceinline__ bool work_item(const ug_gemm_params &p, int splits, int rank, int i,
                                          gemm_work &w)
{
    /* 32-bit where it is enough (tiles < 2^31, checked at launch) and shifts
     * where the divisor is a power of two (the CTAs walking as one, splits
     * (1, 2, 4) x a_share (1, 2)): divisions are long instruction sequences,
     * and the first item is on the path to the first copy */
    const int per_shift = 31 - __clz(splits * p.a_share), split_shift = 31 - __clz(splits);
    const uint32_t first = blockIdx.x >> per_shift, step = gridDim.x >> per_shift;
    const uint32_t dp_end = (uint32_t)(splits > 1 ? p.tiles : p.dp_tiles);
    const uint32_t chunks = (uint32_t)p.w.chunks;
    if (first + (uint32_t)i * step < dp_end) {
        w.tile = first + (uint32_t)i * step;
        w.c_begin = (int)((chunks * rank) >> split_shift);
        w.c_end = (int)((chunks * (rank + 1)) >> split_shift);
        w.role = WORK_WHOLE;
        return true;
    }
    if (splits > 1 || p.sk_units == 0)
        return false;
    const int n_dp = dp_end > first ? (int)((dp_end - first + step - 1) / step) : 0;
    const int64_t u0 = p.sk_units * first / step;
    int64_t u = p.sk_units * (first + 1) / step;
    for (int64_t j = n_dp;; j++) {
        if (u <= u0)
            return false;
        const int64_t t = (u - 1) / (int64_t)chunks, base = t * (int64_t)chunks;
        w.tile = p.dp_tiles + t;
        w.c_begin = (int)((u0 > base ? u0 : base) - base);
        w.c_end = (int)(u - base);
        w.role = w.c_end < (int)chunks ? WORK_SHARE : w.c_begin > 0 ? WORK_FINISH : WORK_WHOLE;
        if (j == i)
            return true;
        u = base + w.c_begin;
    }
}

/* A flag another CTA sets with release semantics, read with acquire. */
__device__ __forceinline__ int flag_acquire(const int *f)
{
    int v;
    asm volatile("ld.acquire.gpu.global.b32 %0, [%1];\n" : "=r"(v) : "l"(f) : "memory");
    return v;
}
__device__ __forceinline__ void flag_release(int *f, int v)
{
    asm volatile("st.release.gpu.global.b32 [%0], %1;\n" ::"l"(f), "r"(v) : "memory");
}

/* For stage_shares_group: the low bits of a chunk index that are zero
 * where a group starts (all ones per channel, where one group is the whole
 * column; none where a chunk holds whole groups, G <= 64). */
__device__ __forceinline__ uint32_t group_share_mask(int group_shift)
{
    return group_shift < 0 ? ~0u : group_shift <= 6 ? 0u : (1u << (group_shift - 6)) - 1;
}

/* Whether the second chunk of a stage starting at chunk c is in the first
 * one's group, so that the stage carries one chunk's group state for both
 * (mask: group_share_mask). */
__device__ __forceinline__ bool stage_shares_group(uint32_t mask, int64_t c)
{
    return ((uint32_t)(c + 1) & mask) != 0;
}

/* ---- the kernel ----------------------------------------------------------- */

/* RECORDS: the consumers take the group state from the chunks' records
 * (4- and 8-bit codes, ug_gemm_uses_records); else the group warps build it. */
template <int BITS, typename Act, int MR, int TN, bool RECORDS>
__global__ void __launch_bounds__(UG_GEMM_THREADS, 1)
    gemm_kernel(const __grid_constant__ ug_gemm_maps maps, const ug_gemm_params p)
{
    typedef gemm_stage<BITS, MR, TN> stage;
    constexpr int VEC = BITS / 4;    /* 16-byte words per lane per chunk */
    constexpr int CHUNK = 128 * BITS;
    constexpr int BLOCKS = 8 * MR;   /* row blocks (chunks) per stage */
    constexpr int ROWS = 128 * MR;   /* rows of W per tile */
    constexpr int ACC = TN / 2;      /* f32 accumulators per wgmma and thread */
    constexpr bool BF16 = !Act::is_f16;
    constexpr int EPI_TOKENS = TN < 32 ? TN : 32; /* tokens per pass of the epilogue */
    constexpr int KS = stage::KS;                 /* chunks per stage */
    constexpr int BATCHES = KS * MR;              /* wgmma batches per stage */

    extern __shared__ uint8_t smem_raw[];
    __shared__ __align__(8) uint64_t full[UG_GEMM_MAX_STAGES], empty[UG_GEMM_MAX_STAGES];
    uint8_t *ring = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);

    const int splits = p.splits;
    const int rank = splits > 1 ? (int)cooperative_groups::this_cluster().block_rank() : 0;
    /* with a_share > 1: which part of the A tiles this CTA copies to the
     * cluster, and which of the cluster's row tiles it takes */
    const int a_share = p.a_share;
    const int part = a_share > 1 ? (int)cooperative_groups::this_cluster().block_rank() : 0;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    constexpr bool records = RECORDS;
    /* one chunk's codes and record: a constant where the records are read
     * (gpu_layout.cuh: 64 bytes) and for full-precision weights (none) */
    const int unit = records ? CHUNK + 64 : BITS > 8 ? CHUNK : (int)p.w.unit_bytes;
    const gemm_ring ring_of = gemm_ring_layout(BITS, MR, TN, unit, records);

    if (threadIdx.x == 0) {
        for (int i = 0; i < p.stages; i++) {
            /* warp 8's expect_tx, and where the group warps stage the group
             * state the 32 lanes of the one that staged it */
            mbar_init(&full[i], BITS <= 8 && !records ? 33 : 1);
            /* one arrival per consumer thread, and one per consumer warp of
             * the other CTAs that the ring's A tiles go to */
            mbar_init(&empty[i], 256 + 8 * (a_share - 1));
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    if (a_share > 1)
        cooperative_groups::this_cluster().sync(); /* the other CTAs' barriers are ready */
    else
        __syncthreads();

    int s = 0;
    uint32_t phase = 0;
    auto advance = [&]() {
        if (++s == p.stages) {
            s = 0;
            phase ^= 1;
        }
    };

    if (warp >= 8) {
        /* ---- producer warpgroup: warp 8 fills the ring with the tensor
         * copies, warps 9-11 stage the group state of quantized formats
         * without records (the CTA's j-th ring slot by warp 9 + j % 3,
         * counted over all its work items); all four take part in cluster
         * barriers ---- */
        asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(gemm_regs<BITS>::PRODUCER));
        const int sb = p.w.scale_type == UG_KF32 ? 4 : 2;
        const int group_rows = p.w.group_shift == 5 ? 2 : 1;
        const uint32_t share_mask = group_share_mask(p.w.group_shift);
        const group_source src = {p.w.scales, p.w.biases, p.w.zeros, p.w.n_pad, p.w.scale_type,
                                  p.w.code_offset};
        /* scales stored in the activation type: the group state packs
         * without conversions (fewer instructions on the group warps,
         * which share the consumers' sub-partitions) */
        const bool same_type = p.w.scale_type == (Act::is_f16 ? UG_KF16 : UG_KBF16);
        /* Ring slots this CTA has filled so far. A group warp takes every
         * third slot, so that it waits on a stage's "empty" barrier at most
         * one phase ahead of the consumers' releases: a warp that skipped
         * more than `stages` slots (taking chunks by their index in K did,
         * across work items of other lengths) could see the parity of a
         * phase two rounds old and overwrite a stage still being read. */
        int slot = 0;
        gemm_work work;
        for (int item = 0; work_item(p, splits, rank, item, work); item++) {
            /* 32-bit: tiles < 2^31 (checked at launch) */
            const uint32_t tile = (uint32_t)work.tile, tiles_m = (uint32_t)p.tiles_m;
            const int nt = (int)(tile / tiles_m) * a_share + part;
            const int m0 = (int)(tile % tiles_m) * TN;
            const int c_begin = work.c_begin, c_end = work.c_end;
            if (warp == 8) {
                for (int64_t c = c_begin; c < c_end; c += KS) {
                    mbar_wait(&empty[s], phase ^ 1);
                    uint8_t *st = ring + (size_t)s * ring_of.bytes;
                    if (lane == 0) {
                        /* whole boxes: parts past k (or past the item's
                         * chunks, which the consumers skip) arrive too */
                        mbar_expect_tx(&full[s], (uint32_t)(stage::A_BYTES + ring_of.w_copy));
                        if (a_share > 1)
#pragma unroll
                            for (int kk = 0; kk < KS; kk++)
                                tma_load_2d_multicast(
                                    st + kk * stage::A_CHUNK + part * (stage::A_CHUNK / a_share),
                                    &maps.a, (int)((c + kk) * 64), m0 + part * (TN / a_share),
                                    &full[s], (uint16_t)((1u << a_share) - 1));
                        else if (KS > 1 && p.a_copies == 1)
                            tma_load_3d(st, &maps.a, 0, m0, (int)c, &full[s]);
                        else
#pragma unroll
                            for (int kk = 0; kk < KS; kk++)
                                tma_load_2d(st + kk * stage::A_CHUNK, &maps.a, (int)((c + kk) * 64),
                                            m0, &full[s]);
                        tma_load_4d(st + stage::A_BYTES, &maps.codes, 0, 0, (int)c, nt * BLOCKS,
                                    &full[s]);
                    }
                    __syncwarp();
                    advance();
                }
            } else if (BITS <= 8 && !records) {
                for (int64_t c = c_begin; c < c_end; c += KS, slot++) {
                    const bool mine = slot % 3 == warp - 9;
                    if (mine) {
                        if (c + 3 * KS < c_end) {
                            /* warm L2 with this warp's next stage of the item
                             * (slot + 3): its first chunk's group rows of
                             * scales, biases and zeros, one line per lane */
                            const int64_t gn =
                                p.w.group_shift < 0 ? 0 : ((c + 3 * KS) * 64) >> p.w.group_shift;
                            const int lines = ROWS * sb / 128;
#pragma unroll 1
                            for (int gr = 0; gr < group_rows; gr++) {
                                const int64_t at = (gn + gr) * p.w.n_pad + (int64_t)nt * ROWS;
                                const uint8_t *line = NULL;
                                if (lane < lines)
                                    line = (const uint8_t *)p.w.scales + at * sb + lane * 128;
                                else if (lane < 2 * lines && p.w.biases)
                                    line = (const uint8_t *)p.w.biases + at * sb + (lane - lines) * 128;
                                else if (lane < 2 * lines + ROWS / 128 && p.w.zeros)
                                    line = p.w.zeros + at + (lane - 2 * lines) * 128;
                                if (line)
                                    asm volatile("prefetch.global.L2 [%0];\n" ::"l"(line));
                            }
                        }
                    }
                    /* With 4-bit codes and token tiles of 128 and more,
                     * each group warp also waits on the other two warps'
                     * slots: measured 1.3-1.6 % faster at M = 4096 and
                     * ~1 % at M = 1024 (alternating timing). Elsewhere it
                     * cost: 5 % with 64-token tiles at M = 64, 2 % with
                     * 8-bit codes at M = 256 and 4096. Why is not known
                     * (bench/results/h200-session14-experiments.txt). */
                    if (mine || (BITS == 4 && TN >= 128))
                        mbar_wait(&empty[s], phase ^ 1);
                    /* one batch per stage (KS = MR = 1): the second stage
                     * of each pair of the item (the consumers' loop takes
                     * them in pairs), where it is in the first one's
                     * group, has the consumers read the first one's state
                     * again (before they release it); its slot only
                     * signals */
                    const bool reuse =
                        BATCHES == 1 && ((c - c_begin) & 1) != 0 && ((uint32_t)c & share_mask) != 0;
                    if (mine && reuse) {
                        mbar_arrive(&full[s]);
                    } else if (mine) {
                        /* each chunk's group rows, but a second chunk in
                         * the first one's group reads the first one's */
                        const int chunks_here = stage_shares_group(share_mask, c)
                                                    ? 1
                                                    : (int)min((int64_t)KS, c_end - c);
#pragma unroll 1
                        for (int kk = 0; kk < chunks_here; kk++) {
                            uint8_t *state = ring + (size_t)s * ring_of.bytes + stage::A_BYTES +
                                             ring_of.w_bytes + kk * stage::P_CHUNK;
                            const int64_t gi =
                                p.w.group_shift < 0 ? 0 : ((c + kk) * 64) >> p.w.group_shift;
#pragma unroll 1
                            for (int gr = 0; gr < group_rows; gr++)
#pragma unroll 1
                                for (int r0 = 0; r0 < ROWS; r0 += 128) {
                                    /* rows r0 + lane + 32 i: four rows' loads in flight */
                                    const int64_t at =
                                        (gi + gr) * p.w.n_pad + (int64_t)nt * ROWS + r0 + lane;
                                    group_raw_row raw[4];
#pragma unroll
                                    for (int i = 0; i < 4; i++)
                                        raw[i] = read_group_row(src, at + 32 * i);
                                    uint4 *row_state = (uint4 *)(state + (gr * ROWS + r0 + lane) * 16);
                                    if (same_type)
#pragma unroll
                                        for (int i = 0; i < 4; i++)
                                            row_state[32 * i] = pack_group_row_same_type<Act>(raw[i]);
                                    else
#pragma unroll
                                        for (int i = 0; i < 4; i++)
                                            row_state[32 * i] = pack_group_row<Act>(raw[i], p.w.scale_type);
                                }
                        }
                        mbar_arrive(&full[s]);
                    }
                    advance();
                }
            }
            __syncwarp();
            /* the consumers' cluster barriers: two per level of their
             * reduction (splits = 2: one level, 4: two) */
            for (int h = splits / 2; h >= 1; h /= 2) {
                cooperative_groups::this_cluster().sync();
                cooperative_groups::this_cluster().sync();
            }
        }
        if (a_share > 1)
            cooperative_groups::this_cluster().sync(); /* the consumers' last one */
        return;
    }

    /* ---- consumer warpgroups: warp w of warpgroup q owns row block
     * q*4*MR + 4*mi + w of the tile in its mi-th wgmma ---- */
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(gemm_regs<BITS>::CONSUMER));
    const int ct = threadIdx.x;          /* 0..255 */
    const int q = warp >> 2, wq = warp & 3;
    const int g = lane >> 2, t = lane & 3;
    /* C takes 16-byte accesses for runs of eight outputs */
    const int c_bytes = p.out.c_type == UG_KF32 ? 4 : 2;
    const bool c_vec = (uintptr_t)p.out.c % (8 * c_bytes) == 0 && p.out.ldc % 8 == 0;
    uint32_t epi_pass = 0; /* 16-bit passes so far: staging box epi_pass % 2 */
    /* descriptor of chunk kk of stage s's A tiles at k16 step j: desc_ring +
     * (s * BYTES + kk * A_CHUNK) / 16 + 2 * j (its address field counts
     * 16-byte units), added in the low word */
    const uint64_t desc_ring = a_tile_desc(smem_addr(ring));
    const uint64_t desc_hi = desc_ring & ~0xFFFFFFFFull;
    /* steps 2 and 3 of a chunk take the second group row where G = 32 */
    const int gs1_row = p.w.group_shift == 5 ? ROWS : 0;
    const uint32_t share_mask = group_share_mask(p.w.group_shift);
    /* records hold biases where the method has them, else zero points */
    const record_unpacker<Act> unpack_record(p.w.biases != NULL, p.w.code_offset);
    /* a stage goes back once this CTA's consumer threads and, where the A
     * tiles are shared, the other CTA's consumer warps have arrived: its
     * producer writes this CTA's stage too */
    auto release = [&](int slot) {
        mbar_arrive(&empty[slot]);
        if (a_share > 1) {
            __syncwarp();
            if (lane == 0)
                mbar_arrive_cluster(&empty[slot], (uint32_t)(part ^ 1));
        }
    };

    gemm_work work;
    for (int item = 0; work_item(p, splits, rank, item, work); item++) {
        /* 32-bit: tiles < 2^31 (checked at launch) */
        const uint32_t tile = (uint32_t)work.tile, tiles_m = (uint32_t)p.tiles_m;
        const int64_t nt = (int64_t)(tile / tiles_m) * a_share + part, m0 = (int64_t)(tile % tiles_m) * TN;
        const int c_begin = work.c_begin, c_end = work.c_end;
        float acc[MR][ACC];
#pragma unroll
        for (int mi = 0; mi < MR; mi++)
#pragma unroll
            for (int i = 0; i < ACC; i++) {
                acc[mi][i] = 0.0f;
                pin(acc[mi][i]);
            }
        /* Software pipeline over units of 64 rows x one stage (a warpgroup's
         * MR units per stage, each 4 wgmmas): a unit's fragments are made
         * while the previous unit's wgmmas run, in the other of two register
         * sets, so that two batches are in flight; a set is rewritten only
         * after wait_group 1 has retired the batch that read it. The set is
         * a compile-time choice on every path: mi for MR = 2, and for MR = 1
         * the parity of the stage, taken in pairs (a set rewritten on a path
         * where its batch might still be in flight makes ptxas serialize
         * every wgmma). */
        uint32_t frag[2][4][4];
        int prev = -1; /* the stage whose last batch may still be in flight */
        /* Stage s, holding chunks c .. c + KS - 1, of which the first nk
         * are used (a constant on every path, like the set: a path where a
         * register set might be rewritten while its batch is in flight
         * makes ptxas serialize every wgmma). Batch u = kk * MR + mi of the
         * stage: chunk kk, 64-row unit mi. */
        auto run_stage = [&](int set, int64_t c, int nk) {
            mbar_wait(&full[s], phase);
            const uint8_t *st = ring + (size_t)s * ring_of.bytes;
            const bool shared_group = KS > 1 && stage_shares_group(share_mask, c);
            /* Every batch's codes and group parameters are read first, so
             * that the second batch's shared loads are in flight while the
             * first one's fragments are made. Full-precision weights are
             * read batch by batch: their fragments are the loaded registers
             * themselves, and ptxas serializes every wgmma where a load
             * defines a later batch's registers while one is in flight. */
            constexpr bool READ_AHEAD = BITS <= 8;
            uint4 w_in[BATCHES][VEC];
            uint32_t record_in[BATCHES][2];
            uint4 state_in[BATCHES][2][2];
            auto read_batch = [&](int u) {
                const int kk = u / MR, mi = u % MR;
                /* with one batch per stage, the second of a pair in the
                 * first one's group reads the first one's state, which
                 * the group warps did not repeat (that slot is released
                 * only after this batch's reads) */
                const bool reuse = BATCHES == 1 && set == 1 && ((uint32_t)c & share_mask) != 0;
                const uint4 *state =
                    (const uint4 *)(ring + (size_t)(reuse ? prev : s) * ring_of.bytes +
                                    stage::A_BYTES + ring_of.w_bytes +
                                    (shared_group ? 0 : kk) * stage::P_CHUNK);
                const int rb = q * 4 * MR + 4 * mi + wq;
#pragma unroll
                for (int v = 0; v < VEC; v++)
                    w_in[u][v] = *(const uint4 *)(st + stage::A_BYTES + (rb * KS + kk) * unit +
                                                  v * 512 + lane * 16);
                if constexpr (records) {
                    /* rows g and g + 8 from the chunk's record: one group
                     * per chunk (G >= 64) */
                    const uint8_t *record = st + stage::A_BYTES + (rb * KS + kk) * unit + CHUNK;
#pragma unroll
                    for (int h = 0; h < 2; h++)
                        record_in[u][h] = *(const uint32_t *)(record + (g + 8 * h) * 4);
                } else if constexpr (BITS <= 8) {
#pragma unroll
                    for (int h = 0; h < 2; h++) {
                        state_in[u][0][h] = state[rb * 16 + g + 8 * h];
                        state_in[u][1][h] = state[gs1_row + rb * 16 + g + 8 * h];
                    }
                }
            };
            if constexpr (READ_AHEAD) {
#pragma unroll
                for (int u = 0; u < BATCHES; u++)
                    if (u / MR < nk)
                        read_batch(u);
            }
#pragma unroll
            for (int u = 0; u < BATCHES; u++) {
                const int kk = u / MR, mi = u % MR;
                if (kk >= nk)
                    break;
                if constexpr (!READ_AHEAD)
                    read_batch(u);
                /* the address field cannot carry: shared memory ends below 2^18 */
                const uint32_t desc_lo = (uint32_t)desc_ring +
                                         (uint32_t)((s * ring_of.bytes + kk * stage::A_CHUNK) >> 4);
                uint32_t(&a)[4][4] = frag[BATCHES > 1 ? u % 2 : set];
                group_state<Act> gs0, gs1;
                if constexpr (records) {
#pragma unroll
                    for (int h = 0; h < 2; h++)
                        gs0.set(h, unpack_record(record_in[u][h]));
                    gs1 = gs0;
                } else if constexpr (BITS <= 8) {
#pragma unroll
                    for (int h = 0; h < 2; h++) {
                        gs0.set(h, state_in[u][0][h]);
                        gs1.set(h, state_in[u][1][h]);
                    }
                }
#pragma unroll
                for (int step = 0; step < 4; step++)
                    dequant_step<BITS, Act>(w_in[u], step, step < 2 ? gs0 : gs1, p.w.weight_type,
                                            a[step]);
                wg_fence();
#pragma unroll
                for (int step = 0; step < 4; step++)
                    wgmma_rs<TN, BF16>::run(acc[mi], a[step], desc_hi | (desc_lo + 2 * step));
                wg_commit();
                wg_wait<1>();
                /* the batch just retired was the previous stage's last;
                 * its release, here between the batches, also keeps ptxas
                 * from moving the next batch's conversion among this
                 * batch's wgmmas (released at the next stage's top
                 * instead, the 64/128-token tiles ran 2-6 % slower:
                 * bench/results/h200-session20-experiments.txt) */
                if (u == 0) {
                    if (prev >= 0)
                        release(prev);
                    prev = s;
                }
            }
            advance();
        };
        int64_t c = c_begin;
        if constexpr (BATCHES == 1) {
            for (; c + 2 <= c_end; c += 2) {
                run_stage(0, c, 1);
                run_stage(1, c + 1, 1);
            }
            if (c < c_end)
                run_stage(0, c, 1);
        } else {
            for (; c + KS <= c_end; c += KS)
                run_stage(0, c, KS);
            if (c < c_end) /* KS = 2: the item's last chunk alone */
                run_stage(0, c, 1);
        }
        wg_wait<0>();
        if (prev >= 0)
            release(prev);
#pragma unroll
        for (int mi = 0; mi < MR; mi++)
#pragma unroll
            for (int i = 0; i < ACC; i++)
                pin(acc[mi][i]);

        /* whether this warpgroup ends with its rows of the tile and writes them */
        bool keep = true;
        if (splits > 1) {
            /* One tile per cluster, its partial sums meeting by warpgroup (a
             * reduce-scatter): at level h = 1 ranks r and r ^ 1 swap halves,
             * warpgroup q of rank r keeping its rows where q == r % 2 and
             * otherwise pushing its accumulators into the idle ring of rank
             * r ^ 1, whose warpgroup q adds them; at each further level h
             * (splits = 4: h = 2) the ranks with bit h push their kept rows
             * to rank r - h. Ranks 0 and 1 end with warpgroup 0's and 1's
             * rows and write them. So each CTA sends and receives half a
             * tile per level, and two CTAs share the epilogue: a whole tile
             * through one CTA's link took ~9,000 cycles for 128 x 256
             * (bench/results/h200-session12-experiments.txt). Pushes are
             * 16-byte remote stores ([x / 4][128 threads] float4s per
             * warpgroup, x = mi * ACC + i): a remote load waits a round trip
             * through the cluster. A ring is idle once its CTA's loop is
             * done (the first barrier of a level), and the second makes the
             * pushes visible. The order of the additions is fixed. */
            cooperative_groups::cluster_group cluster = cooperative_groups::this_cluster();
            constexpr int V = MR * ACC / 4;
            float4 *park = (float4 *)ring + q * (V * 128);
            const int tq = ct & 127;
            /* as a vote, so that the compiler sees it warp-uniform: a branch
             * it cannot prove uniform inside the item loop cost the main loop
             * its uniform registers (t64: 223 -> 243 instructions) */
            keep = __all_sync(~0u, q == (rank & 1));
            for (int h = 1; h < splits; h *= 2) {
                cluster.sync();
                if (h == 1 ? !keep : keep && (rank & h)) {
                    float4 *dst = cluster.map_shared_rank(park, h == 1 ? rank ^ 1 : rank - h);
#pragma unroll
                    for (int v = 0; v < V; v++) {
                        const int x = 4 * v;
                        dst[v * 128 + tq] = make_float4(acc[x / ACC][x % ACC], acc[x / ACC][x % ACC + 1],
                                                        acc[x / ACC][x % ACC + 2], acc[x / ACC][x % ACC + 3]);
                    }
                    keep = false;
                }
                cluster.sync();
                if (keep) {
#pragma unroll
                    for (int v = 0; v < V; v++) {
                        const int x = 4 * v;
                        const float4 theirs = park[v * 128 + tq];
                        acc[x / ACC][x % ACC] += theirs.x;
                        acc[x / ACC][x % ACC + 1] += theirs.y;
                        acc[x / ACC][x % ACC + 2] += theirs.z;
                        acc[x / ACC][x % ACC + 3] += theirs.w;
                    }
                }
            }
        }
        if (work.role == WORK_SHARE) {
            /* partial sums into this CTA's slot ([element / 4][consumer
             * thread] float4s, L2 only), then the flag once every consumer
             * thread's stores are done */
            float4 *mine = (float4 *)(p.sk_partials + (int64_t)blockIdx.x * (MR * ACC * 256)) + ct;
#pragma unroll
            for (int v = 0; v < MR * ACC / 4; v++) {
                const float *x = &acc[4 * v / ACC][4 * v % ACC];
                __stcg(mine + v * 256, make_float4(x[0], x[1], x[2], x[3]));
            }
            consumers_sync();
            if (ct == 0) {
                __threadfence();
                flag_release(&p.sk_flags[blockIdx.x], 1);
            }
            continue;
        }
        if (work.role == WORK_FINISH) {
            /* the tile's lower chunks: the CTA of the next lower walker
             * (blockIdx - a_share: the same part of its cluster) holds
             * those just below this CTA's share, and further down while its
             * share starts inside the tile too; added in that order */
            const int64_t base = (work.tile - p.dp_tiles) * p.w.chunks;
            const int64_t walkers = gridDim.x / a_share;
            int64_t from = base + c_begin;
            for (int64_t pw = (int64_t)blockIdx.x / a_share - 1; from > base; pw--) {
                const int64_t peer = pw * a_share + part;
                if (ct == 0)
                    while (flag_acquire(&p.sk_flags[peer]) == 0)
                        ;
                consumers_sync();
                const float4 *theirs =
                    (const float4 *)(p.sk_partials + peer * (MR * ACC * 256)) + ct;
                /* in batches of four float4s, the next batch's loads in
                 * flight while one is added: not all at once, which would
                 * hold registers beside the accumulators */
                constexpr int V = MR * ACC / 4, BATCH = 4;
                float4 next[BATCH];
#pragma unroll
                for (int e = 0; e < BATCH && e < V; e++)
                    next[e] = __ldcg(theirs + e * 256);
#pragma unroll
                for (int b0 = 0; b0 < V; b0 += BATCH) {
                    float4 now[BATCH];
#pragma unroll
                    for (int e = 0; e < BATCH && b0 + e < V; e++)
                        now[e] = next[e];
#pragma unroll
                    for (int e = 0; e < BATCH && b0 + BATCH + e < V; e++)
                        next[e] = __ldcg(theirs + (b0 + BATCH + e) * 256);
#pragma unroll
                    for (int e = 0; e < BATCH && b0 + e < V; e++) {
                        float *x = &acc[4 * (b0 + e) / ACC][4 * (b0 + e) % ACC];
                        x[0] += now[e].x;
                        x[1] += now[e].y;
                        x[2] += now[e].z;
                        x[3] += now[e].w;
#pragma unroll
                        for (int i = 0; i < 4; i++)
                            pin(x[i]);
                    }
                }
                from = p.sk_units * pw / walkers;
            }
        }

        /* bias of this thread's rows g and g + 8 of the 64-row unit at unit_row0 */
        auto row_biases = [&](int64_t unit_row0, float bias[2]) {
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int64_t n = unit_row0 + 16 * wq + g + 8 * h;
                bias[h] = p.out.bias && n < p.out.n ? load_float(p.out.bias, p.out.bias_type, n) : 0.0f;
            }
        };
        /* The 16-bit paths' staging: tokens 8 j .. 8 j + 15 (j even) of this
         * warpgroup's 64-row unit mi as alpha * acc + bias rounded to C's
         * type, written by stmatrix.trans (the accumulator fragments hold row
         * pairs of one token pair) as token rows of 128 bytes, 16-byte units
         * swizzled by token % 8, into the box at `box` whose first row is
         * token 8 j0. acc[mi][4j + i]: row 16 wq + g (+8 for i >= 2) of the
         * unit, token 8j + 2t (+1 for odd i) of the tile. */
        const int mx = lane >> 3, mrow = lane & 7;
        const bool f16_out = p.out.c_type == UG_KF16;
        auto stage_tokens16 = [&](int mi, int j, const float bias[2], uint32_t box, int j0) {
            /* matrix x: tokens 8 (j + x / 2) .., rows 16 wq (+8 for odd x) */
            uint32_t r[4];
#pragma unroll
            for (int x = 0; x < 4; x++) {
                const int i0 = 4 * (j + (x >> 1)) + 2 * (x & 1);
                const float lo = fmaf(p.out.alpha, acc[mi][i0], bias[x & 1]);
                const float hi = fmaf(p.out.alpha, acc[mi][i0 + 1], bias[x & 1]);
                r[x] = f16_out ? as_u32(__floats2half2_rn(lo, hi)) : as_u32(__floats2bfloat162_rn(lo, hi));
            }
            /* row mrow of matrix mx: token 8 (j + mx / 2) + mrow, its 16 bytes
             * of rows at 16-byte unit 2 wq + mx % 2, swizzled */
            const int tok = 8 * (j - j0 + (mx >> 1)) + mrow;
            stmatrix_x4_trans(box + tok * 128 + (((2 * wq + (mx & 1)) ^ mrow) << 4), r);
        };
        if (keep && p.c_path == UG_GEMM_C_TILE) {
            /* 16-bit C without beta, rows 16-byte aligned, n % 8 == 0, and
             * room for the tile (gemm_launch.cu): the warpgroup's
             * whole part of the tile goes as 16-bit values into its staging
             * area (per 64-row unit a box [TN tokens][64 rows], 128 bytes per
             * token, 16-byte units swizzled by token % 8 as the tensor map's
             * 128-byte swizzle reads them; stmatrix.trans turns the
             * accumulator fragments, row pairs of one token pair, into token
             * rows), and one thread stores each box with a tensor store that
             * nobody waits for: the warpgroup goes on to its next tile while
             * the copy engine writes C (clipped at m and n). Its next
             * epilogue first waits until those stores have read the area. */
            uint8_t *area = ring + (size_t)p.stages * ring_of.bytes + q * MR * TN * 128;
            if (ct % 128 == 0)
                bulk_wait_read();
            warpgroup_sync(q);
#pragma unroll
            for (int mi = 0; mi < MR; mi++) {
                float bias[2];
                row_biases(nt * ROWS + (q * MR + mi) * 64, bias);
                const uint32_t box = smem_addr(area + mi * TN * 128);
#pragma unroll
                for (int j = 0; j < TN / 8; j += 2)
                    stage_tokens16(mi, j, bias, box, 0);
            }
            fence_async_smem();
            warpgroup_sync(q);
            if (ct % 128 == 0)
#pragma unroll
                for (int mi = 0; mi < MR; mi++)
                    tma_store_2d(&maps.c, area + mi * TN * 128, (int)(nt * ROWS + (q * MR + mi) * 64),
                                 (int)m0);
        } else if (keep && p.c_path == UG_GEMM_C_RUNS) {
            /* 16-bit C without beta, rows 16-byte aligned, n % 8 == 0: per
             * warpgroup, 64-row unit and pass of EPI_TOKENS tokens, the
             * outputs go as 16-bit values into one of two staging boxes
             * ([token][64 rows], 128 bytes per token, 16-byte units swizzled
             * by token % 8; stmatrix.trans turns the accumulator fragments,
             * row pairs of one token pair, into token rows), then each
             * thread stores 16-byte runs of one token's rows. A box is
             * rewritten two passes later, after the barrier of the pass
             * between, which every thread reaches after its reads. */
            uint8_t *boxes = ring + (size_t)p.stages * ring_of.bytes + q * 2 * EPI_TOKENS * 128;
            const int wt = ct & 127;
            warpgroup_sync(q); /* the last tile's reads of the boxes are done */
#pragma unroll
            for (int mi = 0; mi < MR; mi++) {
                const int64_t unit_row0 = nt * ROWS + (q * MR + mi) * 64;
                float bias[2];
                row_biases(unit_row0, bias);
#pragma unroll
                for (int chunk = 0; chunk < TN / EPI_TOKENS; chunk++) {
                    if (m0 + chunk * EPI_TOKENS >= p.m)
                        break;
                    uint8_t *box = boxes + (epi_pass++ & 1) * EPI_TOKENS * 128;
                    const int j0 = EPI_TOKENS / 8 * chunk;
#pragma unroll
                    for (int j = j0; j < j0 + EPI_TOKENS / 8; j += 2)
                        stage_tokens16(mi, j, bias, smem_addr(box), j0);
                    warpgroup_sync(q);
                    /* thread wt: 16-byte unit wt % 8 of tokens wt / 8 + 16 r */
#pragma unroll
                    for (int r = 0; r < EPI_TOKENS / 16; r++) {
                        const int tl = 16 * r + (wt >> 3), u = wt & 7;
                        const int64_t tok = m0 + chunk * EPI_TOKENS + tl, n = unit_row0 + 8 * u;
                        if (tok < p.m && n < p.out.n)
                            *(uint4 *)((uint16_t *)p.out.c + tok * p.out.ldc + n) =
                                *(const uint4 *)(box + tl * 128 + ((u ^ (tl & 7)) << 4));
                    }
                }
            }
        } else if (keep) {
            /* Through the warpgroup's staging buffer, EPI_TOKENS tokens of its
             * 64-row unit at a time: the accumulators go in as [token][row]
             * (token stride EPI_ROW_STRIDE floats: conflict-free writes), and
             * each thread takes out 8 consecutive rows of one token (two
             * 16-byte reads, halves ordered so that a quarter warp meets 8
             * distinct bank groups) and stores them with 16-byte accesses
             * where C allows: one token's 64 rows are contiguous in C. */
            float *buf =
                (float *)(ring + (size_t)p.stages * ring_of.bytes) + q * 32 * EPI_ROW_STRIDE;
            const int wt = ct & 127, oct = wt & 7, half0 = (oct >> 2) & 1;
#pragma unroll
            for (int mi = 0; mi < MR; mi++) {
                const int64_t unit_row0 = nt * ROWS + (q * MR + mi) * 64;
                float bias[2];
                row_biases(unit_row0, bias);
#pragma unroll
                for (int chunk = 0; chunk < TN / EPI_TOKENS; chunk++) {
                    if (m0 + chunk * EPI_TOKENS >= p.m)
                        break;
                    warpgroup_sync(q); /* the last pass's reads are done */
#pragma unroll
                    for (int j = 0; j < EPI_TOKENS / 8; j++)
#pragma unroll
                        for (int i = 0; i < 4; i++)
                            buf[(8 * j + 2 * t + (i & 1)) * EPI_ROW_STRIDE + 16 * wq + g + 8 * (i >> 1)] =
                                fmaf(p.out.alpha, acc[mi][4 * (EPI_TOKENS / 8 * chunk + j) + i],
                                     bias[i >> 1]);
                    warpgroup_sync(q);
#pragma unroll
                    for (int r = 0; r < EPI_TOKENS / 16; r++) {
                        const int tl = 16 * r + (wt >> 3);
                        const int64_t tok = m0 + chunk * EPI_TOKENS + tl, n = unit_row0 + 8 * oct;
                        if (tok < p.m && n < p.out.n) {
                            const float *run = &buf[tl * EPI_ROW_STRIDE + 8 * oct];
                            const float4 first = *(const float4 *)(run + 4 * half0);
                            const float4 second = *(const float4 *)(run + 4 * (half0 ^ 1));
                            const float4 lo = half0 ? second : first, hi = half0 ? first : second;
                            float v[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
                            store_run8(p.out, tok * p.out.ldc + n, v, (int)min((int64_t)8, p.out.n - n),
                                       c_vec);
                        }
                    }
                }
            }
        }
    }
    /* the tile path's last tensor stores read shared memory until done */
    if (ct % 128 == 0)
        bulk_wait_all();
    /* the other CTA's last arrivals on this CTA's barriers */
    if (a_share > 1)
        cooperative_groups::this_cluster().sync();
}

/* An instantiation's kernels: the one reading records (4- and 8-bit codes)
 * and the one whose group warps build the state (or that needs none). Two
 * kernels, not one with a branch: one body holding both ways spilled in its
 * main loop (ptxas -v). */
template <int BITS, typename Act, int MR, int TN> constexpr ug_gemm_fn gemm_kernels()
{
    if constexpr (BITS <= 8)
        return ug_gemm_fn{gemm_kernel<BITS, Act, MR, TN, true>,
                          gemm_kernel<BITS, Act, MR, TN, false>};
    else
        return ug_gemm_fn{NULL, gemm_kernel<BITS, Act, MR, TN, false>};
}

#endif /* UG_GEMM_KERNEL_CUH */
