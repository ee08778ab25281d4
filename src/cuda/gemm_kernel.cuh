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
 *   - the producer (one warp): for each 64-k chunk it waits until a ring
 *     stage is free, then fills it with one tensor copy (TMA) per operand,
 *     each issued by its own lane and all completing on the stage's "full"
 *     mbarrier: the A tile [TN][64] (128-byte swizzle, zero fill past M and
 *     K), the tile's 8*MR weight chunks (one box of the 4-d view of the
 *     packed codes, gemm_launch.cu) and the group rows of scales, biases and
 *     zero points. Few large copies matter: each copy instruction costs the
 *     issuing SM about 70 ns, so a stage of 8*MR separate chunk copies took
 *     longer to fill than its wgmmas take to run (docs/cuda.md);
 *   - the consumers: warpgroup q owns rows 64*MR*q .. +64*MR, i.e. MR
 *     wgmmas of 64 rows per k16 step (the layout of gpu_layout.cuh is the
 *     wgmma register-A layout, one row block per warp). For each stage and
 *     64 of its rows it dequantizes the weight fragments from shared memory
 *     into registers and issues 4 wgmmas, keeping that batch in flight
 *     while it makes the next one's fragments (wait_group 1, two register
 *     sets); a stage goes back to the producer once its batches have
 *     retired (every consumer thread arrives on its "empty" mbarrier, after
 *     its own reads of the stage);
 *   - epilogue: alpha, bias, beta * C, rounded to C's type, staged per warp
 *     through shared memory so that each thread stores runs of four
 *     consecutive outputs (scattered 2-byte stores straight from the
 *     accumulators took 13 % of a large layer's time).
 * MR = 2 halves the activation bytes each stage brings per multiply-add;
 * MR = 1 allows token tiles up to 256.
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
/* The epilogue's staging buffers, after the ring: per consumer warp, 32
 * tokens x 16 rows of f32 at a row stride of EPI_STRIDE floats. */
#define EPI_STRIDE 20
#define UG_GEMM_EPILOGUE_BYTES (8 * 32 * EPI_STRIDE * 4)

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

/* The box of a 2-d tensor map at (x0, x1) into shared memory. */
__device__ __forceinline__ void tma_load_2d(void *dst, const CUtensorMap *map, int x0, int x1,
                                            uint64_t *bar)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                 " [%0], [%1, {%2, %3}], [%4];\n" ::"r"(smem_addr(dst)),
                 "l"((uint64_t)map), "r"(x0), "r"(x1), "r"(smem_addr(bar))
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

/* Outputs C[at .. at + valid - 1] = v (+ beta * C), rounded to C's type;
 * with `vec` (C and ldc aligned for it) and four valid, one 8- or 16-byte
 * access each way. */
__device__ __forceinline__ void store_quad(const ug_kernel_output &o, int64_t at, float4 v, int valid,
                                           bool vec)
{
    float x[4] = {v.x, v.y, v.z, v.w};
    if (!vec || valid < 4) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
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
            float4 old = *c;
            x[0] = fmaf(o.beta, old.x, x[0]);
            x[1] = fmaf(o.beta, old.y, x[1]);
            x[2] = fmaf(o.beta, old.z, x[2]);
            x[3] = fmaf(o.beta, old.w, x[3]);
        }
        *c = make_float4(x[0], x[1], x[2], x[3]);
        return;
    }
    uint2 *c = (uint2 *)((uint16_t *)o.c + at);
    if (o.beta != 0.0f) {
        uint2 old = *c;
        uint32_t w[2] = {old.x, old.y};
        for (int h = 0; h < 2; h++) {
            float2 f = o.c_type == UG_KF16 ? __half22float2(as_t2<__half2>(w[h]))
                                           : __bfloat1622float2(as_t2<__nv_bfloat162>(w[h]));
            x[2 * h] = fmaf(o.beta, f.x, x[2 * h]);
            x[2 * h + 1] = fmaf(o.beta, f.y, x[2 * h + 1]);
        }
    }
    if (o.c_type == UG_KF16)
        *c = make_uint2(as_u32(__floats2half2_rn(x[0], x[1])), as_u32(__floats2half2_rn(x[2], x[3])));
    else
        *c = make_uint2(as_u32(__floats2bfloat162_rn(x[0], x[1])),
                        as_u32(__floats2bfloat162_rn(x[2], x[3])));
}

__device__ __forceinline__ void consumers_sync()
{
    asm volatile("bar.sync 1, 256;\n" ::: "memory");
}

/* ---- the kernel ----------------------------------------------------------- */

template <int BITS, typename Act, int MR, int TN>
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
        /* ---- producer warpgroup: warp 8 fills the ring, one lane per
         * tensor copy; the other warps only take part in cluster barriers ---- */
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
        const int sb = p.w.scale_type == UG_KF32 ? 4 : 2;
        const int group_rows = p.w.group_shift == 5 ? 2 : 1;
        const uint32_t param_bytes =
            BITS <= 8 ? (uint32_t)(group_rows * ROWS * (sb * (p.w.biases ? 2 : 1) + (p.w.zeros ? 1 : 0)))
                      : 0u;
        for (int64_t tile = blockIdx.x / splits; tile < p.tiles; tile += tile_step) {
            if (warp == 8) {
                const int nt = (int)(tile / p.tiles_m), m0 = (int)(tile % p.tiles_m) * TN;
                for (int64_t c = c_begin; c < c_end; c++) {
                    mbar_wait(&empty[s], phase ^ 1);
                    uint8_t *st = ring + (size_t)s * stage::BYTES;
                    uint8_t *par = st + stage::A_BYTES + stage::W_BYTES;
                    const int gi = p.w.group_shift < 0 ? 0 : (int)((c * 64) >> p.w.group_shift);
                    if (lane == 0)
                        mbar_expect_tx(&full[s], (uint32_t)(stage::A_BYTES + stage::W_BYTES) + param_bytes);
                    __syncwarp();
                    if (lane == 0)
                        tma_load_2d(st, &maps.a, (int)(c * 64), m0, &full[s]);
                    else if (lane == 1)
                        tma_load_4d(st + stage::A_BYTES, &maps.codes, 0, 0, (int)c, nt * BLOCKS,
                                    &full[s]);
                    else if (BITS <= 8 && lane == 2)
                        tma_load_2d(par + stage::SCALES, &maps.scales, nt * ROWS, gi, &full[s]);
                    else if (BITS <= 8 && lane == 3 && p.w.biases)
                        tma_load_2d(par + stage::BIASES, &maps.biases, nt * ROWS, gi, &full[s]);
                    else if (BITS <= 8 && lane == 4 && p.w.zeros)
                        tma_load_2d(par + stage::ZEROS, &maps.zeros, nt * ROWS, gi, &full[s]);
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
    /* C takes one vector access per four outputs of a row run */
    const int c_bytes = p.out.c_type == UG_KF32 ? 4 : 2;
    const bool c_vec = (uintptr_t)p.out.c % (4 * c_bytes) == 0 && p.out.ldc % 4 == 0;
    /* descriptor of stage s's A tile at k16 step j: desc_ring + s * (BYTES
     * >> 4) + 2 * j (its address field counts 16-byte units) */
    const uint64_t desc_ring = a_tile_desc(smem_addr(ring));

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
        auto run_stage = [&](int set) {
            mbar_wait(&full[s], phase);
            const uint8_t *st = ring + (size_t)s * stage::BYTES;
            const uint8_t *par = st + stage::A_BYTES + stage::W_BYTES;
            const uint64_t desc = desc_ring + (uint64_t)(s * (stage::BYTES >> 4));
#pragma unroll
            for (int mi = 0; mi < MR; mi++) {
                uint32_t(&a)[4][4] = frag[MR == 2 ? mi : set];
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
                                            a[step]);
                wg_fence();
#pragma unroll
                for (int step = 0; step < 4; step++)
                    wgmma_rs<TN, BF16>::run(acc[mi], a[step], desc + 2 * step);
                wg_commit();
                wg_wait<1>();
                /* the batch just retired was the previous stage's last */
                if (mi == 0) {
                    if (prev >= 0)
                        mbar_arrive(&empty[prev]);
                    prev = s;
                }
            }
            advance();
        };
        int64_t c = c_begin;
        for (; c + 2 <= c_end; c += 2) {
            run_stage(0);
            run_stage(1);
        }
        if (c < c_end)
            run_stage(0);
        wg_wait<0>();
        if (prev >= 0)
            mbar_arrive(&empty[prev]);
#pragma unroll
        for (int mi = 0; mi < MR; mi++)
#pragma unroll
            for (int i = 0; i < ACC; i++)
                pin(acc[mi][i]);

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
            /* Through the warp's staging buffer, 32 tokens at a time (all
             * of a smaller tile): the
             * accumulators of its 16 rows go in as [token][row] (row stride
             * EPI_STRIDE floats, which keeps both phases free of bank
             * conflicts), and come out as runs of four rows of one token,
             * stored with one vector access each where C allows. */
            float *buf = (float *)(ring + (size_t)p.stages * stage::BYTES) + warp * 32 * EPI_STRIDE;
#pragma unroll
            for (int mi = 0; mi < MR; mi++) {
                /* acc[mi][4j + i]: row (row block)*16 + g (+8 for i >= 2),
                 * token m0 + 8j + 2t (+1 for odd i) */
                const int64_t row0 = nt * ROWS + (q * 4 * MR + 4 * mi + wq) * 16;
                float bias[2];
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const int64_t n = row0 + g + 8 * h;
                    bias[h] = p.out.bias && n < p.out.n ? load_float(p.out.bias, p.out.bias_type, n)
                                                        : 0.0f;
                }
#pragma unroll
                for (int chunk = 0; chunk < TN / EPI_TOKENS; chunk++) {
                    if (m0 + chunk * EPI_TOKENS >= p.m)
                        break;
#pragma unroll
                    for (int j = 0; j < EPI_TOKENS / 8; j++)
#pragma unroll
                        for (int i = 0; i < 4; i++)
                            buf[(8 * j + 2 * t + (i & 1)) * EPI_STRIDE + g + 8 * (i >> 1)] = fmaf(
                                p.out.alpha, acc[mi][4 * (EPI_TOKENS / 8 * chunk + j) + i], bias[i >> 1]);
                    __syncwarp();
#pragma unroll 1
                    for (int v = 0; v < EPI_TOKENS / 8; v++) {
                        const int tl = 8 * v + (lane >> 2), quad = lane & 3;
                        const int64_t tok = m0 + chunk * EPI_TOKENS + tl, n = row0 + 4 * quad;
                        if (tok < p.m && n < p.out.n)
                            store_quad(p.out, tok * p.out.ldc + n,
                                       *(const float4 *)&buf[tl * EPI_STRIDE + 4 * quad],
                                       (int)min((int64_t)4, p.out.n - n), c_vec);
                    }
                    __syncwarp();
                }
            }
        }
        if (splits > 1)
            cooperative_groups::this_cluster().sync(); /* rank 0 is done with the others' rings */
    }
}

#endif /* UG_GEMM_KERNEL_CUH */
