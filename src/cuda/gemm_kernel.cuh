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
 *   - the producer (one thread issues): for each 64-k chunk it waits
 *     until a ring stage is free, then fills it: the A tile [TN][64] with
 *     one TMA load (128-byte swizzle, zero fill past M and K), the tile's
 *     8*MR weight chunks and the group rows of scales / biases / zero
 *     points with bulk copies, all completing on the stage's "full" mbarrier;
 *   - the consumers: warpgroup q owns rows 128*MR*q .. +128*MR, i.e. MR
 *     wgmmas of 64 rows per k16 step (the layout of gpu_layout.cuh is the
 *     wgmma register-A layout, one row block per warp). Each waits for a
 *     stage, waits for its previous stage's wgmmas (wgmma.wait_group 0),
 *     releases that stage (every consumer thread arrives on its "empty"
 *     mbarrier, after its own reads of the stage), dequantizes the stage's fragments and group parameters from
 *     shared memory into registers and issues its 4*MR wgmmas back to back.
 *     While one consumer warpgroup dequantizes, the other's wgmmas keep the
 *     tensor cores busy;
 *   - epilogue: alpha, bias, beta * C, rounding to C's type, stored from the
 *     accumulators.
 * MR = 2 halves the activation bytes each stage brings per multiply-add
 * (the loads from L2 into shared memory, not the tensor cores, bound this
 * kernel on large layers); MR = 1 allows token tiles up to 256.
 * With splits == 1 the grid is persistent: CTA b takes tiles b, b + grid,
 * ... (tokens fastest, so concurrent CTAs share weight tiles in L2), and the
 * producer runs ahead into the next tile while the consumers finish one.
 * With splits > 1 the grid holds one tile per cluster of `splits` CTAs, each
 * taking a contiguous share of K; rank r > 0 parks its accumulators in its
 * (then idle) ring and rank 0 adds them in rank order through distributed
 * shared memory before the epilogue: deterministic, no workspace.
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

/* Bytes of one ring stage for a code width, 128*MR rows of W and a token
 * tile: the A tile, the tile's 8*MR weight chunks, and (quantized) up to two
 * group rows of scales, biases and zero points. Every part is a multiple of
 * 1024 bytes, so A tiles stay 1024-aligned for the 128-byte swizzle. */
template <int BITS, int MR, int TN> struct gemm_stage {
    static constexpr int A_BYTES = TN * 128;
    static constexpr int W_BYTES = 8 * MR * 128 * BITS;
    static constexpr int SCALES = 0, BIASES = 1024 * MR, ZEROS = 2048 * MR;
    static constexpr int P_BYTES = BITS <= 8 ? 3072 * MR : 0;
    static constexpr int BYTES = A_BYTES + W_BYTES + P_BYTES;
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

/* A [rows][64] box of the tensor map at (k0, m0) into shared memory. */
__device__ __forceinline__ void tma_load_a(void *dst, const CUtensorMap *map, int k0, int m0,
                                           uint64_t *bar)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                 " [%0], [%1, {%2, %3}], [%4];\n" ::"r"(smem_addr(dst)),
                 "l"((uint64_t)map), "r"(k0), "r"(m0), "r"(smem_addr(bar))
                 : "memory");
}

/* `bytes` (a multiple of 16, both addresses 16-byte aligned) into shared memory. */
__device__ __forceinline__ void bulk_load(void *dst, const void *src, uint32_t bytes,
                                          uint64_t *bar)
{
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes"
                 " [%0], [%1], %2, [%3];\n" ::"r"(smem_addr(dst)),
                 "l"(src), "r"(bytes), "r"(smem_addr(bar))
                 : "memory");
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

__device__ __forceinline__ void consumers_sync()
{
    asm volatile("bar.sync 1, 256;\n" ::: "memory");
}

/* ---- the kernel ----------------------------------------------------------- */

template <int BITS, typename Act, int MR, int TN>
__global__ void __launch_bounds__(UG_GEMM_THREADS, 1)
    gemm_kernel(const __grid_constant__ CUtensorMap a_map, const ug_gemm_params p)
{
    typedef gemm_stage<BITS, MR, TN> stage;
    constexpr int VEC = BITS / 4;    /* 16-byte words per lane per chunk */
    constexpr int CHUNK = 128 * BITS;
    constexpr int BLOCKS = 8 * MR;   /* row blocks (chunks) per stage */
    constexpr int ROWS = 128 * MR;   /* rows of W per tile */
    constexpr int ACC = TN / 2;      /* f32 accumulators per wgmma and thread */
    constexpr bool BF16 = !Act::is_f16;

    extern __shared__ uint8_t smem_raw[];
    __shared__ __align__(8) uint64_t full[UG_GEMM_MAX_STAGES], empty[UG_GEMM_MAX_STAGES];
    uint8_t *ring = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);

    const int splits = p.splits;
    const int rank = splits > 1 ? (int)cooperative_groups::this_cluster().block_rank() : 0;
    const int64_t tile_step = gridDim.x / splits;
    const int64_t c_begin = p.w.chunks * rank / splits, c_end = p.w.chunks * (rank + 1) / splits;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

    if (threadIdx.x == 0) {
        for (int i = 0; i < p.stages; i++) {
            mbar_init(&full[i], 1);
            mbar_init(&empty[i], 256); /* one arrival per consumer thread */
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
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
        /* ---- producer warpgroup: lane 0 of warp 8 issues every copy, the
         * rest only take part in cluster barriers ---- */
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
        const int sb = p.w.scale_type == UG_KF32 ? 4 : 2;
        const int group_rows = p.w.group_shift == 5 ? 2 : 1;
        const uint32_t param_bytes =
            BITS <= 8 ? (uint32_t)(group_rows * ROWS * (sb * (p.w.biases ? 2 : 1) + (p.w.zeros ? 1 : 0)))
                      : 0u;
        for (int64_t tile = blockIdx.x / splits; tile < p.tiles; tile += tile_step) {
            if (warp == 8 && lane == 0) {
                const int64_t nt = tile / p.tiles_m, m0 = (tile % p.tiles_m) * TN;
                const int64_t n0 = nt * ROWS;
                const uint8_t *w = p.w.codes + nt * BLOCKS * p.w.chunks * CHUNK;
                for (int64_t c = c_begin; c < c_end; c++) {
                    mbar_wait(&empty[s], phase ^ 1);
                    uint8_t *st = ring + (size_t)s * stage::BYTES;
                    mbar_expect_tx(&full[s], (uint32_t)(stage::A_BYTES + stage::W_BYTES) + param_bytes);
                    tma_load_a(st, &a_map, (int)(c * 64), (int)m0, &full[s]);
#pragma unroll
                    for (int rb = 0; rb < BLOCKS; rb++)
                        bulk_load(st + stage::A_BYTES + rb * CHUNK,
                                  w + ((int64_t)rb * p.w.chunks + c) * CHUNK, CHUNK, &full[s]);
                    if constexpr (BITS <= 8) {
                        uint8_t *par = st + stage::A_BYTES + stage::W_BYTES;
                        int64_t gi = p.w.group_shift < 0 ? 0 : (c * 64) >> p.w.group_shift;
                        for (int j = 0; j < group_rows; j++) {
                            int64_t at = (gi + j) * p.w.n_pad + n0;
                            bulk_load(par + stage::SCALES + j * ROWS * sb,
                                      (const uint8_t *)p.w.scales + at * sb, ROWS * sb, &full[s]);
                            if (p.w.biases)
                                bulk_load(par + stage::BIASES + j * ROWS * sb,
                                          (const uint8_t *)p.w.biases + at * sb, ROWS * sb, &full[s]);
                            if (p.w.zeros)
                                bulk_load(par + stage::ZEROS + j * ROWS, p.w.zeros + at, ROWS,
                                          &full[s]);
                        }
                    }
                    advance();
                }
            }
            __syncwarp();
            if (splits > 1) { /* the consumers' two cluster barriers */
                cooperative_groups::this_cluster().sync();
                cooperative_groups::this_cluster().sync();
            }
        }
        return;
    }

    /* ---- consumer warpgroups: warp w of warpgroup q owns row block
     * q*4*MR + 4*mi + w of the tile in its mi-th wgmma ---- */
    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
    const int ct = threadIdx.x;          /* 0..255 */
    const int q = warp >> 2, wq = warp & 3;
    const int g = lane >> 2, t = lane & 3;

    for (int64_t tile = blockIdx.x / splits; tile < p.tiles; tile += tile_step) {
        const int64_t nt = tile / p.tiles_m, m0 = (tile % p.tiles_m) * TN;
        float acc[MR][ACC];
#pragma unroll
        for (int mi = 0; mi < MR; mi++)
#pragma unroll
            for (int i = 0; i < ACC; i++) {
                acc[mi][i] = 0.0f;
                pin(acc[mi][i]);
            }
        int prev = -1; /* stage whose wgmmas may still be running */
        for (int64_t c = c_begin; c < c_end; c++) {
            mbar_wait(&full[s], phase);
            const uint8_t *st = ring + (size_t)s * stage::BYTES;
            const uint8_t *par = st + stage::A_BYTES + stage::W_BYTES;
            /* the previous stage's wgmmas are done with the registers and
             * with their ring stage */
            wg_wait<0>();
            if (prev >= 0)
                mbar_arrive(&empty[prev]);
            uint32_t a[MR][4][4];
#pragma unroll
            for (int mi = 0; mi < MR; mi++) {
                const int rb = q * 4 * MR + 4 * mi + wq;
                uint4 w[VEC];
#pragma unroll
                for (int v = 0; v < VEC; v++)
                    w[v] = *(const uint4 *)(st + stage::A_BYTES + rb * CHUNK + v * 512 + lane * 16);
                group_state<Act> gs0, gs1;
                if constexpr (BITS <= 8) {
                    const group_source src = {par + stage::SCALES,
                                              p.w.biases ? par + stage::BIASES : NULL,
                                              p.w.zeros ? par + stage::ZEROS : NULL, ROWS,
                                              p.w.scale_type, p.w.code_offset};
                    gs0.load(src, 0, rb * 16 + g);
                    if (p.w.group_shift == 5)
                        gs1.load(src, 1, rb * 16 + g);
                    else
                        gs1 = gs0;
                }
#pragma unroll
                for (int step = 0; step < 4; step++)
                    dequant_step<BITS, Act>(w, step, step < 2 ? gs0 : gs1, p.w.weight_type,
                                            a[mi][step]);
            }
            const uint32_t a_addr = smem_addr(st);
            wg_fence();
#pragma unroll
            for (int step = 0; step < 4; step++)
#pragma unroll
                for (int mi = 0; mi < MR; mi++)
                    wgmma_rs<TN, BF16>::run(acc[mi], a[mi][step], a_tile_desc(a_addr + step * 32));
            wg_commit();
#pragma unroll
            for (int mi = 0; mi < MR; mi++)
#pragma unroll
                for (int step = 0; step < 4; step++)
#pragma unroll
                    for (int r = 0; r < 4; r++)
                        pin(a[mi][step][r]);
            prev = s;
            advance();
        }
        wg_wait<0>();
#pragma unroll
        for (int mi = 0; mi < MR; mi++)
#pragma unroll
            for (int i = 0; i < ACC; i++)
                pin(acc[mi][i]);
        if (prev >= 0)
            mbar_arrive(&empty[prev]);

        if (splits > 1) {
            /* One tile per cluster: the ring is idle once every consumer
             * warp's wgmmas have retired. */
            cooperative_groups::cluster_group cluster = cooperative_groups::this_cluster();
            float *park = (float *)ring;
            consumers_sync();
            if (rank != 0) {
#pragma unroll
                for (int mi = 0; mi < MR; mi++)
#pragma unroll
                    for (int i = 0; i < ACC; i++)
                        park[(mi * ACC + i) * 256 + ct] = acc[mi][i];
            }
            cluster.sync();
            if (rank == 0) {
                for (int r = 1; r < splits; r++) {
                    const float *theirs = cluster.map_shared_rank(park, r);
#pragma unroll
                    for (int mi = 0; mi < MR; mi++)
#pragma unroll
                        for (int i = 0; i < ACC; i++)
                            acc[mi][i] += theirs[(mi * ACC + i) * 256 + ct];
                }
            }
        }

        if (rank == 0) {
#pragma unroll
            for (int mi = 0; mi < MR; mi++) {
                /* acc[mi][4j + i]: row (row block)*16 + g (+8 for i >= 2),
                 * token m0 + 8j + 2t (+1 for odd i) */
                const int64_t row = nt * ROWS + (q * 4 * MR + 4 * mi + wq) * 16 + g;
                float bias[2];
#pragma unroll
                for (int h = 0; h < 2; h++)
                    bias[h] = p.out.bias && row + 8 * h < p.out.n
                                  ? load_float(p.out.bias, p.out.bias_type, row + 8 * h)
                                  : 0.0f;
#pragma unroll
                for (int j = 0; j < TN / 8; j++)
#pragma unroll
                    for (int i = 0; i < 4; i++) {
                        int64_t tok = m0 + 8 * j + 2 * t + (i & 1), n = row + 8 * (i >> 1);
                        if (tok >= p.m || n >= p.out.n)
                            continue;
                        float out = fmaf(p.out.alpha, acc[mi][4 * j + i], bias[i >> 1]);
                        int64_t at = tok * p.out.ldc + n;
                        if (p.out.beta != 0.0f)
                            out = fmaf(p.out.beta, load_float(p.out.c, p.out.c_type, at), out);
                        store_float(p.out.c, p.out.c_type, at, out);
                    }
            }
        }
        if (splits > 1)
            cooperative_groups::this_cluster().sync(); /* rank 0 is done with the others' rings */
    }
}

#endif /* UG_GEMM_KERNEL_CUH */
