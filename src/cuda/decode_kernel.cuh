/*
 * decode_kernel.cuh - the decode GEMM family: C[M][N] = alpha * A[M][K] *
 * dequant(W)[N][K]^T + bias + beta * C, for small M (any M works: token
 * tiles repeat along grid z), weights in the layout of gpu_layout.cuh.
 *
 * One warp streams one row block (16 rows of W) over its share of K:
 *   - codes come in with 16-byte non-allocating loads, U chunks per batch,
 *     two batches in flight (ping-pong registers);
 *   - each 32-bit word of codes becomes mma "A" registers with magic-number
 *     conversions (4-bit: (x >> 4r) & 0x000F000F | exponent bits; 8-bit:
 *     byte permutes), then one subtract of (magic + zero point), exact, and
 *     one fused multiply-add with the group's scale and bias in the
 *     activation type: the dequantized weight is rounded once;
 *   - activation pairs are the mma "B" registers (tokens as N), read
 *     straight from global memory (they stay in L1/L2), zero beyond K and M;
 *   - mma.m16n8k16 accumulates in f32.
 * A CTA is 4 row blocks x kw warps along K; a cluster is cs CTAs along K.
 * Partial tiles are summed in shared memory (warps, in order), then the
 * cluster's rank 0 adds the other ranks' tiles through distributed shared
 * memory (in rank order) and runs the epilogue. Deterministic, no atomics,
 * no workspace.
 *
 * This header holds the template; decode_<bits>.cu instantiate it (one
 * translation unit per code width, so that builds run in parallel) and
 * decode_launch.cu launches it.
 */
#include <cooperative_groups.h>

#ifndef UG_DECODE_KERNEL_CUH
#define UG_DECODE_KERNEL_CUH

#include "dequant.cuh"

namespace cg = cooperative_groups;

/* ---- loads of the decode family ------------------------------------------ */

__device__ __forceinline__ uint4 load_stream(const uint8_t *p)
{
    uint4 r;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];\n"
        : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
        : "l"(p));
    return r;
}

/* Two activations A[tok][k], A[tok][k+1] as one mma B register; zero past M
 * and K. k is even. */
__device__ __forceinline__ uint32_t load_act_pair(const ug_decode_params &p, int64_t tok,
                                                  int64_t k)
{
    if (tok >= p.m)
        return 0u;
    const uint16_t *row = (const uint16_t *)p.a + tok * p.lda;
    if (p.a_pairs_aligned && k + 1 < p.k)
        return __ldg((const uint32_t *)(row + k));
    uint32_t lo = k < p.k ? __ldg(row + k) : 0u;
    uint32_t hi = k + 1 < p.k ? __ldg(row + k + 1) : 0u;
    return lo | (hi << 16);
}

/* ---- the kernel ----------------------------------------------------------- */

/* Activation pairs of one k16 step for the warp's token tiles (tokens
 * tok0 + 8j + g, k = k0 + 2t and k0 + 2t + 8). Unguarded: the whole step lies
 * inside K and pairs may be loaded as 32-bit words; rows past M are not
 * loaded. */
template <int NT>
__device__ __forceinline__ void load_b_fast(const ug_decode_params &p, int64_t tok0, int64_t k0,
                                            int g, int t, uint32_t b[NT][2])
{
#pragma unroll
    for (int j = 0; j < NT; j++) {
        int64_t tok = tok0 + j * 8 + g;
        bool live = tok < p.m;
        const uint32_t *row = (const uint32_t *)((const uint16_t *)p.a + tok * p.lda + k0 + 2 * t);
        b[j][0] = live ? __ldg(row) : 0u;
        b[j][1] = live ? __ldg(row + 4) : 0u;
    }
}

template <int NT>
__device__ __forceinline__ void load_b_guarded(const ug_decode_params &p, int64_t tok0,
                                               int64_t k0, int g, int t, uint32_t b[NT][2])
{
#pragma unroll
    for (int j = 0; j < NT; j++) {
        b[j][0] = load_act_pair(p, tok0 + j * 8 + g, k0 + 2 * t);
        b[j][1] = load_act_pair(p, tok0 + j * 8 + g, k0 + 2 * t + 8);
    }
}

template <int BITS, typename Act, int TN>
__global__ void __launch_bounds__(256, TN == 8 ? 3 : 2) decode_kernel(const ug_decode_params p)
{
    constexpr int VEC = BITS / 4;          /* 16-byte loads per lane per chunk */
    constexpr int NT = TN / 8;             /* mma token tiles */
    constexpr int U_LOADS = VEC >= 4 ? 1 : 4 / VEC; /* chunks whose loads fill 64 B per lane */
    constexpr int U_MMA = 8 / NT;          /* ... and whose unrolled math stays small */
    constexpr int U0 = U_LOADS < U_MMA ? U_LOADS : U_MMA;
    constexpr int U = U0 < 1 ? 1 : U0;     /* chunks per batch */
    extern __shared__ float partial[];     /* [kw][TN][64] */

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const int block_local = warp & 3, kw_index = warp >> 2;
    const int64_t row_block = (int64_t)blockIdx.y * 4 + block_local;
    const int64_t row0 = row_block * 16 + g;
    const int splits = p.kw * p.cs, split = blockIdx.x * p.kw + kw_index;
    const int64_t c_begin = p.w.chunks * split / splits, c_end = p.w.chunks * (split + 1) / splits;
    const int64_t c_full = c_end < p.k / 64 ? c_end : p.k / 64; /* chunks wholly inside K */
    const int64_t unit = p.w.unit_bytes;                        /* a chunk's codes (and record) */
    const uint8_t *wbase = p.w.codes + row_block * p.w.chunks * unit + lane * 16;
    const int64_t tok0 = p.token_base + (int64_t)blockIdx.z * TN;
    const bool g32 = p.w.group_shift == 5; /* two groups per chunk */

    /* With one or two token tiles, even and odd k16 steps accumulate apart
     * (independent mma chains); more tiles are independent chains already. */
    constexpr int SETS = NT <= 2 ? 2 : 1;
    float acc[SETS][NT][4];
#pragma unroll
    for (int q = 0; q < SETS; q++)
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int i = 0; i < 4; i++)
                acc[q][j][i] = 0.0f;

    /* Group state of the chunk's first and (G = 32) second half. */
    group_state<Act> gs0, gs1;
    const group_source gsrc = {p.w.scales, p.w.biases, p.w.zeros, p.w.n_pad, p.w.scale_type, p.w.code_offset};
    int64_t group_now = -1;
    if (BITS <= 8 && p.w.group_shift < 0) {
        gs0.load(gsrc, 0, row0);
        gs1 = gs0;
    }
    auto groups_for = [&](int64_t c) {
        if (BITS > 8 || p.w.group_shift < 0)
            return;
        int64_t gi = (c * 64) >> p.w.group_shift;
        if (gi == group_now)
            return;
        group_now = gi;
        gs0.load(gsrc, gi, row0);
        if (g32)
            gs1.load(gsrc, gi + 1, row0);
        else
            gs1 = gs0;
    };
    /* One chunk: activations (all four steps ahead for small token tiles,
     * step by step for large ones, which would not fit in registers), the
     * chunk's groups, then dequantize and multiply step by step. */
    auto run_chunk = [&](const uint4 *w, int64_t c, bool guarded, int nsteps) {
        constexpr int AHEAD = NT <= 2 ? 4 : 1;
        uint32_t b[AHEAD][NT][2];
        auto load_b = [&](int step, uint32_t (*dst)[2]) {
            if (guarded)
                load_b_guarded<NT>(p, tok0, c * 64 + step * 16, g, t, dst);
            else
                load_b_fast<NT>(p, tok0, c * 64 + step * 16, g, t, dst);
        };
        if constexpr (AHEAD == 4) {
#pragma unroll
            for (int step = 0; step < 4; step++)
                load_b(step, b[step]);
        }
        groups_for(c);
#pragma unroll
        for (int step = 0; step < 4; step++) {
            if (step >= nsteps)
                break;
            if constexpr (AHEAD == 1)
                load_b(step, b[0]);
            uint32_t a[4];
            dequant_step<BITS, Act>(w, step, step < 2 ? gs0 : gs1, p.w.weight_type, a);
            const int bs = AHEAD == 4 ? step : 0;
#pragma unroll
            for (int j = 0; j < NT; j++)
                Act::mma(acc[step % SETS][j], a, b[bs][j][0], b[bs][j][1]);
        }
    };

    int64_t c = c_begin;
    if (p.a_pairs_aligned) {
        /* Fast path: U whole chunks per batch, all loads issued first. */
        for (; c + U <= c_full; c += U) {
            uint4 w[U * VEC];
#pragma unroll
            for (int u = 0; u < U; u++)
#pragma unroll
                for (int v = 0; v < VEC; v++)
                    w[u * VEC + v] = load_stream(wbase + (c + u) * unit + v * 512);
#pragma unroll
            for (int u = 0; u < U; u++)
                run_chunk(w + u * VEC, c + u, false, 4);
        }
    }
    /* The rest one chunk at a time, with every activation load guarded
     * (the chunk that K ends in, odd lda, misaligned A). */
    for (; c < c_end; c++) {
        uint4 w[VEC];
#pragma unroll
        for (int v = 0; v < VEC; v++)
            w[v] = load_stream(wbase + c * unit + v * 512);
        int64_t left = (p.k - c * 64 + 15) / 16;
        run_chunk(w, c, true, left < 4 ? (int)left : 4);
    }

    /* Partial tile of this warp: rows block_local*16 + g (+8), tokens j*8 + 2t (+1). */
    const int tile = TN * UG_DECODE_ROWS_PER_CTA;
    float *mine = partial + kw_index * tile;
#pragma unroll
    for (int j = 0; j < NT; j++) {
        int r = block_local * 16 + g, tk = j * 8 + 2 * t;
        float v[4];
#pragma unroll
        for (int i = 0; i < 4; i++)
            v[i] = SETS == 2 ? acc[0][j][i] + acc[SETS - 1][j][i] : acc[0][j][i];
        mine[tk * UG_DECODE_ROWS_PER_CTA + r] = v[0];
        mine[(tk + 1) * UG_DECODE_ROWS_PER_CTA + r] = v[1];
        mine[tk * UG_DECODE_ROWS_PER_CTA + r + 8] = v[2];
        mine[(tk + 1) * UG_DECODE_ROWS_PER_CTA + r + 8] = v[3];
    }
    __syncthreads();

    auto epilogue = [&](int e, float v) {
        int64_t tok = tok0 + e / UG_DECODE_ROWS_PER_CTA;
        int64_t n = (int64_t)blockIdx.y * UG_DECODE_ROWS_PER_CTA + e % UG_DECODE_ROWS_PER_CTA;
        if (tok >= p.m || n >= p.out.n)
            return;
        float out = p.out.alpha * v;
        if (p.out.bias)
            out += load_float(p.out.bias, p.out.bias_type, n);
        int64_t at = tok * p.out.ldc + n;
        if (p.out.beta != 0.0f)
            out = fmaf(p.out.beta, load_float(p.out.c, p.out.c_type, at), out);
        store_float(p.out.c, p.out.c_type, at, out);
    };

    if (p.cs == 1) {
        for (int e = threadIdx.x; e < tile; e += blockDim.x) {
            float v = partial[e];
            for (int w = 1; w < p.kw; w++)
                v += partial[w * tile + e];
            epilogue(e, v);
        }
        return;
    }
    for (int e = threadIdx.x; e < tile; e += blockDim.x) {
        float v = partial[e];
        for (int w = 1; w < p.kw; w++)
            v += partial[w * tile + e];
        partial[e] = v;
    }
    cg::cluster_group cluster = cg::this_cluster();
    cluster.sync();
    if (cluster.block_rank() == 0) {
        for (int e = threadIdx.x; e < tile; e += blockDim.x) {
            float v = partial[e];
            for (int r = 1; r < p.cs; r++)
                v += cluster.map_shared_rank(partial, r)[e];
            epilogue(e, v);
        }
    }
    cluster.sync(); /* the other ranks' shared memory must outlive rank 0's reads */
}

#endif /* UG_DECODE_KERNEL_CUH */
