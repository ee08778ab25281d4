/*
 * ceilings.c - the machine's ceilings, measured by the run that uses them:
 *   - read bandwidth: `threads` OpenMP threads sum one buffer of at least
 *     8 x LLC (512 MiB or more), touched first, with the widest vector loads
 *     the CPU has; best of a few passes, GB/s;
 *   - peak f32 FMA rate: each thread runs independent vector accumulators
 *     (enough to cover the FMA latency on two FMA ports) through
 *     acc = acc * x + y; AVX-512, AVX2+FMA or portable SSE code chosen with
 *     __builtin_cpu_supports; best of a few passes, GFLOP/s;
 *   - the last-level cache size that benchmarks size their rotations by.
 * Built with -O2 -ffp-contract=fast whatever the build type (see
 * CMakeLists.txt), so that the loops below become the instructions they
 * describe.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli.h"
#include "harness.h"

#define CEIL_DEFAULT_LLC ((size_t)32 << 20)
#define CEIL_MIN_READ_BYTES ((size_t)512 << 20)
#define CEIL_READ_PASSES 5
#define CEIL_PEAK_PASSES 3
#define CEIL_PEAK_MIN_SECONDS 0.05

typedef float v4f __attribute__((vector_size(16)));
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));

/* Size of cpu0's level-3 cache: the kernel's figure for one cache instance
 * first (sysconf may report the sum over a whole socket's chiplets, which a
 * core never sees), then sysconf, then 32 MiB. */
static size_t llc_bytes(void)
{
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
    if (f != NULL) {
        unsigned long long value = 0;
        char unit = '\0';
        int got = fscanf(f, "%llu%c", &value, &unit);
        fclose(f);
        if (got >= 1 && value > 0) {
            if (unit == 'K')
                value <<= 10;
            else if (unit == 'M')
                value <<= 20;
            else if (unit == 'G')
                value <<= 30;
            return (size_t)value;
        }
    }
    long sc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    return sc > 0 ? (size_t)sc : CEIL_DEFAULT_LLC;
}

/* Read kernels: the sum of floats [0, count) of buf (64-byte aligned, count a
 * multiple of 64), four independent vector accumulators, with the widest
 * loads the CPU offers (they stream a few per cent faster than 16-byte ones). */
__attribute__((target("avx512f"))) static float sum_avx512(const float *buf, size_t count)
{
    v16f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    const v16f *p = (const v16f *)buf;
    for (size_t i = 0; i < count / 16; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    v16f s = (s0 + s1) + (s2 + s3);
    return s[0] + s[15];
}

__attribute__((target("avx2"))) static float sum_avx2(const float *buf, size_t count)
{
    v8f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    const v8f *p = (const v8f *)buf;
    for (size_t i = 0; i < count / 8; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    v8f s = (s0 + s1) + (s2 + s3);
    return s[0] + s[7];
}

static float sum_portable(const float *buf, size_t count)
{
    v4f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    const v4f *p = (const v4f *)buf;
    for (size_t i = 0; i < count / 4; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    v4f s = (s0 + s1) + (s2 + s3);
    return s[0] + s[3];
}

/* Read bandwidth in GB/s over `bytes` of memory, or 0 if it can't be had. */
static double measure_read_gbps(int threads, size_t bytes)
{
    float (*sum)(const float *, size_t) = sum_portable;
    if (__builtin_cpu_supports("avx512f"))
        sum = sum_avx512;
    else if (__builtin_cpu_supports("avx2"))
        sum = sum_avx2;
    size_t floats = bytes / sizeof(float) / 64 * 64;
    float *buf = aligned_alloc(64, floats * sizeof(float));
    if (buf == NULL)
        return 0.0;
    /* Each thread touches the part it later reads (first touch places pages). */
    size_t chunk = floats / (size_t)threads / 64 * 64;
#pragma omp parallel num_threads(threads)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        size_t begin = (size_t)t * chunk;
        size_t end = t == threads - 1 ? floats : begin + chunk;
        for (size_t i = begin; i < end; i++)
            buf[i] = (float)(i & 1023) * 0x1p-10f + 1.0f;
    }
    double best = 0.0;
    volatile float sink = 0.0f;
    for (int pass = 0; pass < CEIL_READ_PASSES; pass++) {
        float total = 0.0f;
        double t0 = hx_now();
#pragma omp parallel num_threads(threads) reduction(+ : total)
        {
            int t = 0;
#ifdef _OPENMP
            t = omp_get_thread_num();
#endif
            size_t begin = (size_t)t * chunk;
            size_t end = t == threads - 1 ? floats : begin + chunk;
            total += sum(buf + begin, end - begin);
        }
        double seconds = hx_now() - t0;
        sink += total;
        double gbps = (double)(floats * sizeof(float)) / seconds * 1e-9;
        if (gbps > best)
            best = gbps;
    }
    free(buf);
    return best;
}

/* FMA kernels: `iters` rounds of one FMA on each of the accumulators; return
 * a value derived from them so that the work can't be dropped. 16 zmm
 * accumulators (of 32 registers) and 12 ymm ones (of 16) keep two FMA ports
 * busy through a 4-5 cycle latency. */
#define CEIL_ACC_AVX512 16
#define CEIL_ACC_AVX2 12
#define CEIL_ACC_PORTABLE 12

__attribute__((target("avx512f"))) static float fma_avx512(int64_t iters, float x, float y)
{
    v16f vx = x + (v16f){0}, vy = y + (v16f){0}, acc[CEIL_ACC_AVX512];
    for (int i = 0; i < CEIL_ACC_AVX512; i++)
        acc[i] = (float)i + (v16f){0};
    for (int64_t it = 0; it < iters; it++) {
#pragma GCC unroll 16
        for (int i = 0; i < CEIL_ACC_AVX512; i++)
            acc[i] = acc[i] * vx + vy;
    }
    v16f s = {0};
    for (int i = 0; i < CEIL_ACC_AVX512; i++)
        s += acc[i];
    return s[0] + s[15];
}

__attribute__((target("avx2,fma"))) static float fma_avx2(int64_t iters, float x, float y)
{
    v8f vx = x + (v8f){0}, vy = y + (v8f){0}, acc[CEIL_ACC_AVX2];
    for (int i = 0; i < CEIL_ACC_AVX2; i++)
        acc[i] = (float)i + (v8f){0};
    for (int64_t it = 0; it < iters; it++) {
#pragma GCC unroll 16
        for (int i = 0; i < CEIL_ACC_AVX2; i++)
            acc[i] = acc[i] * vx + vy;
    }
    v8f s = {0};
    for (int i = 0; i < CEIL_ACC_AVX2; i++)
        s += acc[i];
    return s[0] + s[7];
}

/* Without FMA the multiply and the add are separate instructions; both count. */
static float fma_portable(int64_t iters, float x, float y)
{
    v4f vx = x + (v4f){0}, vy = y + (v4f){0}, acc[CEIL_ACC_PORTABLE];
    for (int i = 0; i < CEIL_ACC_PORTABLE; i++)
        acc[i] = (float)i + (v4f){0};
    for (int64_t it = 0; it < iters; it++) {
#pragma GCC unroll 16
        for (int i = 0; i < CEIL_ACC_PORTABLE; i++)
            acc[i] = acc[i] * vx + vy;
    }
    v4f s = {0};
    for (int i = 0; i < CEIL_ACC_PORTABLE; i++)
        s += acc[i];
    return s[0] + s[3];
}

typedef float (*fma_kernel)(int64_t iters, float x, float y);

/* Seconds for `threads` threads to each run kernel(iters). */
static double time_fma(fma_kernel kernel, int threads, int64_t iters, volatile float *sink)
{
    /* x < 1 and y > 0 keep every accumulator finite and far from subnormal */
    volatile float x = 0.999999f, y = 1e-3f;
    float xs = x, ys = y, total = 0.0f;
    double t0 = hx_now();
#pragma omp parallel num_threads(threads) reduction(+ : total)
    total += kernel(iters, xs, ys);
    double seconds = hx_now() - t0;
    *sink += total;
    return seconds;
}

/* Peak f32 GFLOP/s with `threads` threads; names the kernel used in *isa. */
static double measure_peak_gflops(int threads, const char **isa)
{
    fma_kernel kernel = fma_portable;
    int lanes = 4, accs = CEIL_ACC_PORTABLE;
    *isa = "sse2 (no fma)";
    if (__builtin_cpu_supports("avx512f")) {
        kernel = fma_avx512;
        lanes = 16;
        accs = CEIL_ACC_AVX512;
        *isa = "avx512f";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        kernel = fma_avx2;
        lanes = 8;
        accs = CEIL_ACC_AVX2;
        *isa = "avx2+fma";
    }
    volatile float sink = 0.0f;
    int64_t iters = 1 << 14;
    while (time_fma(kernel, threads, iters, &sink) < CEIL_PEAK_MIN_SECONDS && iters < (1ll << 40))
        iters *= 2;
    double best = 0.0;
    for (int pass = 0; pass < CEIL_PEAK_PASSES; pass++) {
        double seconds = time_fma(kernel, threads, iters, &sink);
        double gflops = 2.0 * (double)lanes * accs * (double)iters * threads / seconds * 1e-9;
        if (gflops > best)
            best = gflops;
    }
    return best;
}

int bench_measure_machine(int threads, bench_machine *out)
{
    if (out == NULL || threads < 0)
        return -1;
    if (threads == 0) {
#ifdef _OPENMP
        threads = omp_get_num_procs();
#else
        threads = 1;
#endif
    }
    __builtin_cpu_init();
    memset(out, 0, sizeof *out);
    out->threads = threads;
    out->llc_bytes = llc_bytes();
    size_t read_bytes = 8 * out->llc_bytes;
    if (read_bytes < CEIL_MIN_READ_BYTES)
        read_bytes = CEIL_MIN_READ_BYTES;
    out->read_bytes = read_bytes;
    out->read_gbps = measure_read_gbps(threads, read_bytes);
    out->peak_gflops = measure_peak_gflops(threads, &out->peak_isa);
    return out->read_gbps > 0.0 && out->peak_gflops > 0.0 ? 0 : -1;
}
