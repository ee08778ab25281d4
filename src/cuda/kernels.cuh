/*
 * kernels.cuh - what the CUDA backend's host side passes to its kernels
 * (plain structs, by value) and the launchers that pick an instantiation.
 *
 * The decode family ("mma" schedules) computes C[M][N] = alpha*A*W^T + bias
 * + beta*C for W in the layout of gpu_layout.cuh, with tensor-core
 * mma.m16n8k16: weight rows are the instruction's M side, tokens its N side
 * (token tiles of 8, 16, 32 or 64). A CTA owns 64 rows of W and one token
 * tile; its 4*kw warps split K among themselves, and a cluster of cs CTAs
 * splits K further. Partial sums meet in shared memory and, across the
 * cluster, in distributed shared memory, always added in the same order:
 * results are deterministic and no workspace or global atomics are needed.
 */
#ifndef UG_CUDA_KERNELS_CUH
#define UG_CUDA_KERNELS_CUH

#include <cuda.h> /* CUtensorMap */
#include <cuda_runtime.h>

#include "gpu_layout.cuh"

/* Float type codes the kernels understand (match ug_dtype's meaning). */
enum { UG_KF32 = 0, UG_KF16 = 1, UG_KBF16 = 2 };

/* The packed weights as every GEMM kernel reads them (gpu_layout.cuh). */
typedef struct ug_kernel_weights {
    const uint8_t *codes;
    const void *scales, *biases; /* biases NULL unless scale_bias */
    const uint8_t *zeros;        /* biased zero points, NULL unless scale_zero */
    int64_t chunks, n_pad;
    int64_t unit_bytes; /* from one chunk's codes to the next's (gpu_layout.cuh) */
    int records;        /* each chunk's codes are followed by its rows' record */
    int bits;          /* 4, 8, 16, 32 */
    int weight_type;   /* UG_KF* of full-precision weights (bits 16/32) */
    int scale_type;    /* UG_KF* of scales and biases */
    int code_offset;   /* subtracted from every biased code when zeros is NULL */
    int group_shift;   /* log2(G), -1 per channel */
} ug_kernel_weights;

/* The output C [m][ldc] and the epilogue: C = alpha * acc + bias + beta * C. */
typedef struct ug_kernel_output {
    void *c;
    int64_t ldc, n;
    int c_type;
    const void *bias; /* [n] or NULL */
    int bias_type;
    float alpha, beta;
} ug_kernel_output;

typedef struct ug_decode_params {
    ug_kernel_weights w;
    /* activations A [m][lda], act type chosen by the launcher */
    const void *a;
    int64_t lda, m, k;
    int a_pairs_aligned; /* A and lda allow 4-byte loads of element pairs */
    ug_kernel_output out;
    /* schedule */
    int kw, cs;         /* warps along K per row block, CTAs along K per cluster */
    int64_t token_base; /* first token of this launch */
} ug_decode_params;

#define UG_DECODE_ROWS_PER_CTA 64 /* rows of W per CTA: 4 row blocks */

/* One instantiation of the decode kernel: a code width, a token tile (8,
 * 16, 32, 64) and an activation type. The spec's instantiations are
 * generated (src/generated/cuda_decode_<bits>bit.cu) and reached by their
 * registry index. */
typedef void (*ug_decode_fn)(const ug_decode_params);
ug_decode_fn ug_cuda_decode_impl(int impl);

/* Launch decode kernel `fn`, compiled for token tile `tn`. Tokens
 * token_base .. min(m, token_base + 65535 * tn) - 1 are computed; call
 * again for more. */
cudaError_t ug_decode_launch(ug_decode_fn fn, const ug_decode_params *p, int tn,
                             cudaStream_t stream);

/* The large-M family ("wg" schedules, gemm_kernel.cuh) computes the same
 * C = alpha*A*W^T + bias + beta*C with wgmma: a persistent, warp-specialized
 * kernel whose CTA owns 128 or 256 rows of W and a token tile of tn
 * (16..256) tokens; a producer warp moves A (128-byte swizzle) and the packed
 * weights with one tensor copy (TMA) each per stage through a ring of
 * shared-memory stages, three more warps stage the group parameters, two
 * consumer warpgroups dequantize their rows into registers and issue wgmma.
 * With splits > 1, a cluster of that many CTAs shares one tile's K and the
 * partial tiles meet through distributed shared memory, ranks 0 and 1 each
 * adding and writing half of the tile (no workspace); with splits == 1, tiles that would not divide evenly over
 * the SMs are shared by chunks (stream-K, partial sums through a
 * workspace). Both are deterministic. */
typedef struct ug_gemm_params {
    ug_kernel_weights w;
    int64_t m, k; /* A's logical shape; A itself comes through the tensor map */
    ug_kernel_output out;
    /* schedule */
    int splits;            /* CTAs of a cluster along K (1: persistent grid) */
    int stages;            /* depth of the shared-memory ring */
    int64_t tiles_m;       /* token tiles */
    int64_t tiles;         /* token tiles x row tiles of W */
    /* splits == 1: tiles [0, dp_tiles) go whole to the CTAs in turn; the
     * chunks of the others (sk_units = their count x chunks) are shared
     * evenly (stream-K, ug_gemm_plan_grid), partial sums meeting in
     * sk_partials ([grid][rows * tn] f32) behind sk_flags ([grid], zero at
     * launch) */
    int64_t dp_tiles, sk_units;
    float *sk_partials;
    int *sk_flags;
    int c_path;            /* how the epilogue writes C: UG_GEMM_C_* */
    /* CTAs of a cluster along N (1 or 2; with splits == 1 and 128-row
     * tiles only) that take neighbouring row tiles of the same tokens and
     * share each A tile: each copies 1/a_share of its rows to all of them
     * (TMA multicast). The persistent grid then walks pairs of tiles. */
    int a_share;
    /* A copies per ring stage: 1, or with two chunks per stage
     * (gemm_chunks_per_stage) either 1 (maps.a is the 3-d view that takes
     * both chunks in one box) or 2 (maps.a is 2-d, one box per chunk) */
    int a_copies;
} ug_gemm_params;

/* The epilogue's ways to C. TILE: 16-bit C without beta, 16-byte aligned
 * rows, n % 8 == 0, where the whole tile's staging area leaves the ring four
 * stages (or costs none): each warpgroup stages its outputs and one thread
 * stores them with a tensor store that the consumers do not wait for. RUNS:
 * the same C otherwise: staged in passes of 32 tokens, 16-byte stores.
 * GENERAL: anything else (f32 C, beta, odd alignment): staged as f32. */
enum { UG_GEMM_C_GENERAL, UG_GEMM_C_RUNS, UG_GEMM_C_TILE };

/* The tensor maps the large-M kernel copies through (encoded by
 * ug_gemm_launch): A as [m][k] in boxes of [tn][64], or as [k / 64][m][64]
 * in boxes of a stage's [chunks][tn][64]; the packed codes as [row
 * blocks][chunks][bits/4][512 bytes] (with records [row blocks][chunks][1]
 * [codes and record]) in boxes of a stage's chunks of the tile's row
 * blocks; with UG_GEMM_C_TILE, C as [m][n] in boxes of [tn][64] (128-byte
 * swizzle). */
typedef struct ug_gemm_maps {
    CUtensorMap a, codes, c;
} ug_gemm_maps;

/* One instantiation of the large-M kernel: a code width, a tile (rows 128
 * or 256 of W x tn tokens) and an activation type; generated like the
 * decode ones (src/generated/cuda_gemm_<bits>bit.cu). Two kernels: one that
 * reads the group state from the chunks' records (NULL for 16- and 32-bit
 * weights) and one that does not (ug_gemm_uses_records picks). */
typedef void (*ug_gemm_kernel_fn)(ug_gemm_maps, ug_gemm_params);

/* Whether the large-M kernel takes each row's group state from the chunks'
 * records (gpu_layout.cuh): there are records and the scales are stored in
 * the activation type. Otherwise its group warps build it. */
__host__ __device__ inline bool ug_gemm_uses_records(bool records, int scale_type, bool act_f16)
{
    return records && scale_type == (act_f16 ? UG_KF16 : UG_KBF16);
}

typedef struct ug_gemm_fn {
    ug_gemm_kernel_fn records, staged;
} ug_gemm_fn;
ug_gemm_fn ug_cuda_gemm_impl(int impl);

/* Ring stages the large-M kernel gets for a code width and tile in
 * smem_optin bytes of shared memory per block, with chunks of unit_bytes
 * (gpu_layout.cuh) whose records it reads or not (ug_gemm_uses_records); 0 if
 * fewer than two fit (three where quantized formats go without records), or,
 * with splits > 1, if the ring cannot hold the tile's f32 partial sums. */
int ug_gemm_stages(int bits, int rows, int tn, int splits, int64_t unit_bytes, bool records,
                   int smem_optin);

/* How many CTAs of large-M kernel `fn` (a_share = 1: the SMs) or clusters
 * of a_share CTAs along N run at once on a device of `sms` SMs: the slots of
 * its persistent grid (the H200 holds 66 clusters of two). */
cudaError_t ug_gemm_slots(ug_gemm_kernel_fn fn, int a_share, int sms, int smem_optin, int *slots);

/* How the large-M kernel spreads a problem over the GPU: its grid (in CTAs),
 * and with splits == 1 the tiles taken whole and the chunks shared
 * (stream-K), with the workspace that costs. With a_share > 1 a "tile" here
 * is a_share neighbouring row tiles of the same tokens, taken by one
 * cluster, and `slots` counts clusters. min(slots, tiles) take whole tiles
 * in turn, except:
 *   - few tiles over a long K (ug_wg_shares_all_tiles): every SM gets a CTA
 *     and all chunks are shared;
 *   - the same between one and two rounds of tiles that fill less than
 *     90 % of two, with 128 chunks or more;
 *   - two rounds of tiles or more whose last round would leave more than
 *     10 % of the rounds' SM time idle: the last full round and the rest are
 *     shared by chunks.
 * Shared chunks are spread evenly, the same number for every CTA. */
typedef struct ug_gemm_grid {
    int64_t grid, tiles, dp_tiles, sk_units;
    size_t workspace; /* bytes: partial sums, then flags */
} ug_gemm_grid;
void ug_gemm_plan_grid(int rows, int tn, int64_t m, int64_t n, int64_t chunks, int splits,
                       int a_share, int slots, ug_gemm_grid *g);

/* Launch large-M kernel `fn`, compiled for a tile of `rows` rows of W (128,
 * 256) and `tn` tokens, on activations a [m][lda] of f16 (bf16 = 0) or bf16
 * (1), with p->splits and p->a_share set. a must be 16-byte aligned and lda
 * a multiple of 8 (the tensor map's rules); `slots` (ug_gemm_slots) sizes
 * the persistent grid; `workspace` holds ug_gemm_plan_grid's bytes. Fills
 * in p->stages, p->tiles* and the stream-K fields. */
cudaError_t ug_gemm_launch(ug_gemm_fn fn, ug_gemm_params *p, const void *a, int64_t lda,
                           int rows, int tn, int bf16, int slots, int smem_optin, void *workspace,
                           cudaStream_t stream);

/* Embedding: out[i][0..k) = dequant(W)[ids[i]][0..k), in f64, rounded once. */
#define UG_EMBED_IDS_PER_LAUNCH 2048
typedef struct ug_embed_params {
    const uint8_t *codes;
    const void *scales, *biases;
    const uint8_t *zeros;
    ug_gpu_layout layout;
    int weight_type, scale_type, code_offset;
    void *out;
    int64_t ldo;
    int out_type;
    int count;
    int32_t ids[UG_EMBED_IDS_PER_LAUNCH];
} ug_embed_params;

cudaError_t ug_embed_launch(const ug_embed_params *p, cudaStream_t stream);

#endif /* UG_CUDA_KERNELS_CUH */
