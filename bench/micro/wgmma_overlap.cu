/*
 * wgmma_overlap.cu - a microbenchmark of the wgmma kernel's consumer loop
 * with nothing else around it: how many cycles a ring stage of 4 x
 * m64n256k16 register-A wgmmas per consumer warpgroup (bf16, f32
 * accumulators, activations from shared memory with the 128-byte swizzle)
 * takes when the fragments are made as the library makes them, and what the
 * ring protocol and the group-state warps add. No copies: STAGES stages of
 * [256 tokens][64 k] activations, 128 rows x 64 k of int4 codes and two
 * group rows of packed state are filled once with random values. One CTA
 * per SM; prints the cycles per stage (clock64, per CTA and warpgroup,
 * median of the repeats; the ideal is 512 per consumer warpgroup).
 *   micro<MODE, WGS>: WGS warpgroups, two register sets, wait_group 1, the
 *     fragments of MODE 0 raw code words, 1 the library's dequant_step
 *     (int4 -> bf16, codes and group state read from shared memory), 2 the
 *     conversion done twice, 4 MODE 1's conversion on register inputs;
 *   micro_half<MODE, WGS>: half batches (2 wgmmas per commit group), three
 *     register sets, wait_group 2;
 *   micro_proto<MODE, PROTO, GW, BIG>: 384 threads as the kernel (setmaxnreg
 *     56 / 224); warp 8 waits on "empty" and arrives on "full", consumers
 *     wait on "full" and release a stage after the next one's wait_group 1
 *     (PROTO 1: every thread arrives, 2: one arrival per warp); GW, the
 *     group warps: 0 none; 1 warps 9-11 take the slots in turn as the
 *     kernel's group warps do (wait on "empty", store 128 rows of state,
 *     arrive on "full"); 2 as 1 without the stores; 3 warp 9 alone for
 *     every slot; 4 as 1, polling with test_wait and __nanosleep; 5 as 1
 *     with a suspend-time hint; 6 warp 10 alone; 7 warps 9 and 10 in turn;
 *     8 warps 9-11 all wait on every slot, warp 9 fills them; 9 as 1, each
 *     waiting on a named barrier per slot that the consumers arrive on; 10
 *     warp 9 alone on those named barriers; 11 as 9 without the stores; 12
 *     warp 11 alone; 13 warps 9 and 11 in turn; 14 warps 10 and 11 in turn;
 *     16 as 1, each warp also waiting on the other two's slots; 17 as 1 with
 *     lane 0 alone arriving on "full"; 18, 19, 20: warp 9 alone, three
 *     warps in turn, two in turn, each fill converting raw scales and zero
 *     points read from the stage into packed state (pack_group_row);
 *     BIG 1: activations of magnitude ~1 instead of ~0.01.
 * Build and run on the GPU machine (bench/results/h200-session13-experiments.txt
 * and h200-session14-experiments.txt have the numbers):
 *   nvcc -gencode arch=compute_90a,code=sm_90a -O3 -std=c++17 -Isrc/cuda \
 *        -Iinclude [-DSTAGES_N=3..5] bench/micro/wgmma_overlap.cu -o /tmp/overlap
 *   /tmp/overlap [stages per CTA, default 4000] [CTAs, default 132] [any
 *                third argument: the group-warp patterns only]
 */
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <algorithm>
#include "gemm_kernel.cuh"

#ifndef STAGES_N
#define STAGES_N 4
#endif
constexpr int STAGES = STAGES_N;
constexpr int B_BYTES = 256 * 128;            // 256 tokens x 64 k bf16
constexpr int C_BYTES = 128 * 64 / 2;         // 128 rows x 64 k int4
constexpr int P_BYTES = 2 * 128 * 16;         // two group rows x 128 rows x 16 B
constexpr int S_BYTES = B_BYTES + C_BYTES + P_BYTES;

// The ring's contents, once: activations of magnitude ~0.01 (BIG: ~1) with
// random signs and mantissas, random codes, and group-state rows of the
// packed form (scale ~1, bias 0.75, magic + zero point).
template <int BIG> __device__ void fill_ring(uint8_t *smem, int tid, int threads)
{
    for (int i = tid; i < STAGES * S_BYTES / 4; i += threads) {
        uint32_t h = (uint32_t)i * 2654435761u ^ (blockIdx.x * 97u);
        h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
        const int off = (i * 4) % S_BYTES;
        uint32_t v = h;
        if (off < B_BYTES)
            v = BIG ? (h & 0x80FF80FFu) | 0x3F003F00u : (h & 0x807F807Fu) | 0x3C003C00u;
        else if (off >= B_BYTES + C_BYTES) {
            const int word = ((off - B_BYTES - C_BYTES) / 4) & 3;
            v = word == 0 ? 0x3C003C00u | (h & 0x007F007Fu)
              : word == 1 ? 0x3A003A00u
              : word == 2 ? (0x4300u | (h & 15)) * 0x10001u
              : 0x4B000000u | (h & 15);
        }
        ((uint32_t *)smem)[i] = v;
    }
}

// Accumulators set to zero and pinned before the first wgmma.
__device__ __forceinline__ void clear(float (&acc)[128])
{
#pragma unroll
    for (int i = 0; i < 128; i++) {
        acc[i] = 0.0f;
        pin(acc[i]);
    }
}

// After the loop: the accumulators' sum (so that nothing is optimized away)
// and the warpgroup's cycles per CTA.
__device__ __forceinline__ void finish(float (&acc)[128], float *out, unsigned long long *cyc, int wgs,
                                       long long t0, long long t1)
{
    const int tid = threadIdx.x, q = tid >> 7;
#pragma unroll
    for (int i = 0; i < 128; i++)
        pin(acc[i]);
    float sum = 0.0f;
#pragma unroll
    for (int i = 0; i < 128; i++)
        sum += acc[i];
    out[blockIdx.x * blockDim.x + tid] = sum;
    if ((tid & 127) == 0)
        cyc[blockIdx.x * wgs + q] = (unsigned long long)(t1 - t0);
}

template <int MODE>
__device__ __forceinline__ void make(const uint8_t *st, int rb, int lane, int g, uint32_t (&a)[4][4])
{
    if constexpr (MODE == 4) {
        const uint32_t x = (uint32_t)(uintptr_t)st * 0x9E3779B9u + lane;
        const uint4 w = make_uint4(x, x ^ 0x5555u, x + 0x1234567u, x >> 3);
        group_state<act_bf16> gs;
        const uint4 row = make_uint4(0x3C013C01u ^ (x & 0x00070007u), 0x3A003A00u, 0x43034303u, 0x4B000003u);
        gs.set(0, row);
        gs.set(1, row);
#pragma unroll
        for (int s = 0; s < 4; s++)
            dequant_step<4, act_bf16>(&w, s, gs, 0, a[s]);
        return;
    }
    const uint4 w = *(const uint4 *)(st + B_BYTES + rb * 512 + lane * 16);
    if constexpr (MODE == 0) {
        const uint32_t x[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
        for (int s = 0; s < 4; s++)
#pragma unroll
            for (int r = 0; r < 4; r++)
                a[s][r] = x[s] & 0x3F3F3F3Fu;   // small values, no NaN
    } else {
        const uint4 *state = (const uint4 *)(st + B_BYTES + C_BYTES);
        group_state<act_bf16> gs0, gs1;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            gs0.set(h, state[rb * 16 + g + 8 * h]);
            gs1.set(h, state[128 + rb * 16 + g + 8 * h]);
        }
#pragma unroll
        for (int s = 0; s < 4; s++)
            dequant_step<4, act_bf16>(&w, s, s < 2 ? gs0 : gs1, 0, a[s]);
        if constexpr (MODE == 2) {
            uint4 w2 = w;
            w2.x ^= 0x11111111u; w2.y ^= 0x22222222u; w2.z ^= 0x33333333u; w2.w ^= 0x44444444u;
            uint32_t b[4][4];
#pragma unroll
            for (int s = 0; s < 4; s++) {
                dequant_step<4, act_bf16>(&w2, s, s < 2 ? gs1 : gs0, 0, b[s]);
#pragma unroll
                for (int r = 0; r < 4; r++)
                    a[s][r] = (a[s][r] & 0xFFFEFFFEu) | (b[s][r] & 0x00010001u);
            }
        }
    }
}

// Steps s0 .. s0 + NS - 1 of the unit into a[0 .. NS-1] (MODE 1 or 2)
template <int MODE, int NS>
__device__ __forceinline__ void make_steps(const uint8_t *st, int rb, int lane, int g, int s0, uint32_t (&a)[NS][4])
{
    const uint4 *wp = (const uint4 *)(st + B_BYTES + rb * 512 + lane * 16);
    uint4 w = *wp;
    const uint4 *state = (const uint4 *)(st + B_BYTES + C_BYTES);
    group_state<act_bf16> gs;
#pragma unroll
    for (int h = 0; h < 2; h++)
        gs.set(h, state[(s0 >= 2 ? 128 : 0) + rb * 16 + g + 8 * h]);
#pragma unroll
    for (int s = 0; s < NS; s++) {
        dequant_step<4, act_bf16>(&w, s0 + s, gs, 0, a[s]);
        if constexpr (MODE == 2) {
            uint4 w2 = w;
            w2.x ^= 0x11111111u; w2.y ^= 0x22222222u; w2.z ^= 0x33333333u; w2.w ^= 0x44444444u;
            uint32_t b[4];
            dequant_step<4, act_bf16>(&w2, s0 + s, gs, 0, b);
#pragma unroll
            for (int r = 0; r < 4; r++)
                a[s][r] = (a[s][r] & 0xFFFEFFFEu) | (b[r] & 0x00010001u);
        }
    }
}

// Half batches: 2 wgmmas per commit group, three register sets of 2 steps,
// wait_group 2 (so two half batches stay in flight while the next is made)
template <int MODE, int WGS>
__global__ void __launch_bounds__(128 * WGS, 1) micro_half(float *out, unsigned long long *cyc, int iters)
{
    extern __shared__ __align__(1024) uint8_t smem[];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int q = warp >> 2, wq = warp & 3, g = lane >> 2;
    fill_ring<0>(smem, tid, blockDim.x);
    __syncthreads();
    float acc[128];
    clear(acc);
    const uint64_t desc0 = a_tile_desc(smem_addr(smem));
    const uint64_t desc_hi = desc0 & ~0xFFFFFFFFull;
    const int rb = q * 4 + wq;
    uint32_t frag[3][2][4];
    long long t0 = clock64();
    auto half = [&](int set, int s, int hb) {
        const uint8_t *st = smem + s * S_BYTES;
        make_steps<MODE, 2>(st, rb, lane, g, 2 * hb, frag[set]);
        wg_fence();
        const uint32_t lo = (uint32_t)desc0 + (uint32_t)((s * S_BYTES) >> 4);
#pragma unroll
        for (int step = 0; step < 2; step++)
            wgmma_rs<256, true>::run(acc, frag[set][step], desc_hi | (lo + 2 * (2 * hb + step)));
        wg_commit();
        wg_wait<2>();
    };
    for (int it = 0; it < iters; it += 3) {
        half(0, it & 3, 0);
        half(1, it & 3, 1);
        half(2, (it + 1) & 3, 0);
        half(0, (it + 1) & 3, 1);
        half(1, (it + 2) & 3, 0);
        half(2, (it + 2) & 3, 1);
    }
    wg_wait<0>();
    finish(acc, out, cyc, WGS, t0, clock64());
}

template <int MODE, int WGS>
__global__ void __launch_bounds__(128 * WGS, 1) micro(float *out, unsigned long long *cyc, int iters)
{
    extern __shared__ __align__(1024) uint8_t smem[];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int q = warp >> 2, wq = warp & 3, g = lane >> 2;
    fill_ring<0>(smem, tid, blockDim.x);
    __syncthreads();
    float acc[128];
    clear(acc);
    const uint64_t desc0 = a_tile_desc(smem_addr(smem));
    const uint64_t desc_hi = desc0 & ~0xFFFFFFFFull;
    const int rb = q * 4 + wq;
    uint32_t frag[2][4][4];
    long long t0 = clock64();
    auto stage = [&](int set, int s) {
        const uint8_t *st = smem + s * S_BYTES;
        uint32_t(&a)[4][4] = frag[set];
        make<MODE>(st, rb, lane, g, a);
        wg_fence();
        const uint32_t lo = (uint32_t)desc0 + (uint32_t)((s * S_BYTES) >> 4);
#pragma unroll
        for (int step = 0; step < 4; step++)
            wgmma_rs<256, true>::run(acc, a[step], desc_hi | (lo + 2 * step));
        wg_commit();
        wg_wait<1>();
    };
    for (int it = 0; it < iters; it += 2) {
        stage(0, it & 3);
        stage(1, (it + 1) & 3);
    }
    wg_wait<0>();
    finish(acc, out, cyc, WGS, t0, clock64());
}

// The ring protocol without copies: warp 8 waits on "empty" and arrives on
// "full"; the consumers wait on "full" and release a stage after the next
// stage's first wait_group 1. PROTO 1: every consumer thread arrives (count
// 256), PROTO 2: one arrival per warp after __syncwarp (count 8).
__device__ __forceinline__ bool mbar_test(uint64_t *bar, uint32_t parity)
{
    uint32_t ok;
    asm volatile("{\n.reg .pred p;\nmbarrier.test_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(ok) : "r"(smem_addr(bar)), "r"(parity) : "memory");
    return ok != 0;
}
__device__ __forceinline__ void mbar_wait_hint(uint64_t *bar, uint32_t parity)
{
    asm volatile("{\n.reg .pred done;\nWAITH:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1, 1000000;\n"
                 "@!done bra WAITH;\n}\n" ::"r"(smem_addr(bar)), "r"(parity) : "memory");
}

// Group-warp patterns (GW, see the header): whether warp 9..11 runs, and
// which warp fills stage `it` (stores its state, arrives on "full").
__device__ __forceinline__ bool gw_runs(int gw, int warp)
{
    switch (gw) {
    case 0: return false;
    case 3: case 10: return warp == 9;
    case 6: return warp == 10;
    case 12: return warp == 11;
    case 7: case 20: return warp != 11;
    case 13: return warp != 10;
    case 14: return warp != 9;
    default: return true;
    }
}
__device__ __forceinline__ int gw_filler(int gw, int it)
{
    switch (gw) {
    case 3: case 8: case 10: case 18: return 9;
    case 6: return 10;
    case 12: return 11;
    case 7: case 20: return 9 + it % 2;
    case 13: return 9 + 2 * (it % 2);
    case 14: return 10 + it % 2;
    default: return 9 + it % 3;
    }
}

template <int MODE, int PROTO, int GW = 0, int BIG = 0>
__global__ void __launch_bounds__(384, 1) micro_proto(float *out, unsigned long long *cyc, int iters)
{
    extern __shared__ __align__(1024) uint8_t smem[];
    __shared__ __align__(8) uint64_t full[STAGES], empty[STAGES];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int q = warp >> 2, wq = warp & 3, g = lane >> 2;
    fill_ring<BIG>(smem, tid, blockDim.x);
    if (tid == 0) {
        for (int i = 0; i < STAGES; i++) {
            mbar_init(&full[i], GW == 17 ? 2 : GW ? 33 : 1);
            mbar_init(&empty[i], PROTO == 1 ? 256 : 8);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    int s = 0;
    uint32_t phase = 0;
    if (warp >= 8) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 56;\n");
        if (warp > 8) {
            if (!gw_runs(GW, warp))
                return;
            for (int it = 0; it < iters; it++) {
                const bool fills = gw_filler(GW, it) == warp;
                if (fills || GW == 8 || GW == 16) {
                    if (GW == 9 || GW == 10 || GW == 11) {
                        if (it >= STAGES)
                            asm volatile("bar.sync %0, 288;\n" ::"r"(4 + s) : "memory");
                    } else if (GW == 4) {
                        while (!mbar_test(&empty[s], phase ^ 1))
                            __nanosleep(64);
                    } else if (GW == 5) {
                        mbar_wait_hint(&empty[s], phase ^ 1);
                    } else {
                        mbar_wait(&empty[s], phase ^ 1);
                    }
                }
                if (fills && GW >= 18) {
                    // the conversion of raw group rows into packed state (scales and
                    // zero points read from the stage, packed as the kernel does)
                    const uint8_t *raw = smem + s * S_BYTES;
                    uint4 *state = (uint4 *)(smem + s * S_BYTES + B_BYTES + C_BYTES);
                    group_raw_row rows[4];
#pragma unroll
                    for (int m = 0; m < 4; m++) {
                        const int r = lane + 32 * m;
                        rows[m].scale = (((const uint16_t *)raw)[r] & 0x3FFFu) | 0x3C00u;
                        rows[m].bias = 0;
                        rows[m].zero = raw[256 + r] & 15u;
                    }
                    __syncwarp();
#pragma unroll
                    for (int m = 0; m < 4; m++)
                        state[lane + 32 * m] = pack_group_row<act_bf16>(rows[m], UG_KBF16);
                    mbar_arrive(&full[s]);
                } else if (fills) {
                    uint4 *state = (uint4 *)(smem + s * S_BYTES + B_BYTES + C_BYTES);
                    if (GW != 2 && GW != 11)
#pragma unroll
                        for (int i = 0; i < 4; i++)
                            state[lane + 32 * i] =
                                make_uint4(0x3C003C00u | (lane & 7), 0x3A003A00u, 0x43034303u, 0x4B000003u);
                    if (GW != 17 || lane == 0)
                        mbar_arrive(&full[s]);
                }
                if (++s == STAGES) { s = 0; phase ^= 1; }
            }
            return;
        }
        for (int it = 0; it < iters; it++) {
            mbar_wait(&empty[s], phase ^ 1);
            if (lane == 0)
                mbar_arrive(&full[s]);
            __syncwarp();
            if (++s == STAGES) { s = 0; phase ^= 1; }
        }
        return;
    }
    asm volatile("setmaxnreg.inc.sync.aligned.u32 224;\n");
    float acc[128];
    clear(acc);
    const uint64_t desc0 = a_tile_desc(smem_addr(smem));
    const uint64_t desc_hi = desc0 & ~0xFFFFFFFFull;
    const int rb = q * 4 + wq;
    uint32_t frag[2][4][4];
    int prev = -1;
    long long t0 = clock64();
    auto stage = [&](int set) {
        mbar_wait(&full[s], phase);
        const uint8_t *st = smem + s * S_BYTES;
        uint32_t(&a)[4][4] = frag[set];
        make<MODE>(st, rb, lane, g, a);
        wg_fence();
        const uint32_t lo = (uint32_t)desc0 + (uint32_t)((s * S_BYTES) >> 4);
#pragma unroll
        for (int step = 0; step < 4; step++)
            wgmma_rs<256, true>::run(acc, a[step], desc_hi | (lo + 2 * step));
        wg_commit();
        wg_wait<1>();
        if (prev >= 0) {
            if (PROTO == 1) {
                mbar_arrive(&empty[prev]);
                if (GW >= 9 && GW <= 11) // the named barrier of the slot
                    asm volatile("bar.arrive %0, 288;\n" ::"r"(4 + prev) : "memory");
            } else {
                __syncwarp();
                if (lane == 0)
                    mbar_arrive(&empty[prev]);
            }
        }
        prev = s;
        if (++s == STAGES) { s = 0; phase ^= 1; }
    };
    for (int it = 0; it < iters; it += 2) {
        stage(0);
        stage(1);
    }
    wg_wait<0>();
    finish(acc, out, cyc, 2, t0, clock64());
}

template <int MODE, int PROTO, int GW = 0, int BIG = 0> void run_proto(int sms, int iters)
{
    const int smem = STAGES * S_BYTES;
    auto k = micro_proto<MODE, PROTO, GW, BIG>;
    cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    float *out;
    unsigned long long *cyc;
    cudaMalloc(&out, sms * 384 * 4);
    cudaMalloc(&cyc, sms * 2 * 8);
    k<<<sms, 384, smem>>>(out, cyc, iters);
    std::vector<double> per;
    for (int r = 0; r < 5; r++) {
        k<<<sms, 384, smem>>>(out, cyc, iters);
        cudaDeviceSynchronize();
        std::vector<unsigned long long> h(sms * 2);
        cudaMemcpy(h.data(), cyc, h.size() * 8, cudaMemcpyDeviceToHost);
        double t = 0;
        for (auto v : h)
            t += (double)v;
        per.push_back(t / h.size() / iters);
    }
    std::sort(per.begin(), per.end());
    printf("stages %d proto %d gw %d big %d mode %d sms %3d: %7.1f cycles/stage (ideal 1024) err=%s\n", STAGES, PROTO, GW, BIG, MODE, sms, per[2],
           cudaGetErrorString(cudaGetLastError()));
    cudaFree(out);
    cudaFree(cyc);
}

template <int MODE, int WGS, bool HALF = false> void run(int sms, int iters)
{
    const int smem = STAGES * S_BYTES;
    auto k = HALF ? micro_half<MODE, WGS> : micro<MODE, WGS>;
    cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    float *out;
    unsigned long long *cyc;
    cudaMalloc(&out, sms * 128 * WGS * 4);
    cudaMalloc(&cyc, sms * WGS * 8);
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    k<<<sms, 128 * WGS, smem>>>(out, cyc, iters);
    std::vector<float> ms;
    std::vector<double> per;
    for (int r = 0; r < 7; r++) {
        cudaEventRecord(e0);
        k<<<sms, 128 * WGS, smem>>>(out, cyc, iters);
        cudaEventRecord(e1);
        cudaEventSynchronize(e1);
        float t;
        cudaEventElapsedTime(&t, e0, e1);
        ms.push_back(t);
        std::vector<unsigned long long> h(sms * WGS);
        cudaMemcpy(h.data(), cyc, h.size() * 8, cudaMemcpyDeviceToHost);
        double s = 0;
        for (auto v : h)
            s += (double)v;
        per.push_back(s / h.size() / iters);
    }
    std::sort(ms.begin(), ms.end());
    std::sort(per.begin(), per.end());
    const double flops = 2.0 * 128 * WGS / 2 * 256 * 64 * (double)iters * sms;  // 64 rows per WG
    printf("%s mode %d wgs %d sms %3d: %7.1f cycles/stage (ideal %d)  %.3f ms  %.0f TFLOP/s  err=%s\n", HALF ? "half" : "full", MODE, WGS,
           sms, per[3], 512 * WGS, ms[3], flops / (ms[3] * 1e-3) / 1e12, cudaGetErrorString(cudaGetLastError()));
    cudaFree(out);
    cudaFree(cyc);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const int iters = argc > 1 ? atoi(argv[1]) : 4000;
    const int sms = argc > 2 ? atoi(argv[2]) : 132;
    if (argc > 3) { // the group-warp patterns only
        run_proto<1, 1, 0>(sms, iters);
        run_proto<1, 1, 1>(sms, iters);
        run_proto<1, 1, 2>(sms, iters);
        run_proto<1, 1, 3>(sms, iters);
        run_proto<1, 1, 6>(sms, iters);
        run_proto<1, 1, 7>(sms, iters);
        run_proto<1, 1, 8>(sms, iters);
        run_proto<1, 1, 9>(sms, iters);
        run_proto<1, 1, 10>(sms, iters);
        run_proto<1, 1, 11>(sms, iters);
        run_proto<1, 1, 12>(sms, iters);
        run_proto<1, 1, 13>(sms, iters);
        run_proto<1, 1, 14>(sms, iters);
        run_proto<1, 1, 16>(sms, iters);
        run_proto<1, 1, 17>(sms, iters);
        run_proto<1, 1, 18>(sms, iters);
        run_proto<1, 1, 19>(sms, iters);
        run_proto<1, 1, 20>(sms, iters);
        return 0;
    }
    run<0, 1>(sms, iters);
    run<1, 1>(sms, iters);
    run<2, 1>(sms, iters);
    run<0, 2>(sms, iters);
    run<1, 2>(sms, iters);
    run<2, 2>(sms, iters);
    run<4, 2>(sms, iters);
    run<1, 1, true>(sms, iters);
    run<2, 1, true>(sms, iters);
    run<1, 2, true>(sms, iters);
    run<2, 2, true>(sms, iters);
    run_proto<0, 1>(sms, iters);
    run_proto<0, 2>(sms, iters);
    run_proto<1, 1>(sms, iters);
    run_proto<1, 2>(sms, iters);
    run_proto<1, 1, 1>(sms, iters);
    run_proto<1, 1, 2>(sms, iters);
    run_proto<1, 1, 3>(sms, iters);
    run_proto<1, 1, 4>(sms, iters);
    run_proto<1, 1, 5>(sms, iters);
    run_proto<1, 1, 0, 1>(sms, iters);
    run_proto<1, 1, 1, 1>(sms, iters);
    return 0;
}
