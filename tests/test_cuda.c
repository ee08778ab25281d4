/*
 * test_cuda.c - the cuda backend on a GPU; every test first calls
 * tu_require_cuda() and skips, saying why, where no cuda context comes up.
 *   - random cases against the oracle through hx_check_case (A, C, bias and
 *     workspace in device buffers of exactly their spans, C poisoned with NaN
 *     where beta == 0, the padding between rows checked): every format of
 *     hx_all_formats several times, a_type f16/bf16 x c_type f32/f16/bf16,
 *     M in {1, 3, 16, 17, 33, 64, 65, 130}, N in {1, 19, 64, 100, 257}, K one
 *     group (per-channel: the row), K not a multiple of 64 (96 with G = 32,
 *     odd K for 8-bit per-channel and full precision), several groups, padded
 *     lda/ldc, bias of each type, alpha != 1, beta != 0; plus a few larger
 *     layers (M up to 300, K 2048);
 *   - the wgmma family under each of its 21 schedules (forced in turn over
 *     every format: M around the token tiles, N not a multiple of the row
 *     tile, K of each kind, lda dense or padded to a multiple of 8), M = 4097
 *     under one- and several-CTA K, and the library's own choice at M = 1000;
 *     the default family by M and the refusal of impossible schedules;
 *   - determinism: the same plan run again gives bit-identical C;
 *   - CUDA graph capture of ug_plan_execute on the context's own stream
 *     (global capture mode: any allocation or synchronization inside would
 *     break the capture) replays to the same C as a direct execute;
 *   - unpack gives back the source arrays of every format exactly;
 *   - embedding lookup (ids on the host, out on the device) within one ulp
 *     of the ref backend's, padding untouched; an id out of range is refused
 *     before anything is written;
 *   - errors: f32 activations (UG_ERR_UNSUPPORTED naming float32), a host
 *     pointer as A or C (refused, naming the argument), a device ordinal that
 *     does not exist (UG_ERR_INVALID_VALUE).
 * Inputs are random per run (UG_TEST_SEED replays one, and failures print
 * it); UG_TEST_QUICK=1 draws one case per format instead of four and
 * smaller extra layers, for runs under compute-sanitizer.
 */
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define MAX_FORMATS 256

static const ug_dtype float_types[3] = {UG_F32, UG_F16, UG_BF16};

/* Fail the test naming the CUDA call and CUDA's text unless it succeeded. */
#define CUDA_CHECK(call)                                                                           \
    do {                                                                                           \
        cudaError_t err_ = (call);                                                                 \
        TU_CHECK(err_ == cudaSuccess, "%s: %s (%s)", #call, cudaGetErrorString(err_),              \
                 cudaGetErrorName(err_));                                                          \
    } while (0)

/* A harness device call (hx_dev_*) that must succeed. */
#define DEV_CHECK(call)                                                                            \
    do {                                                                                           \
        char msg_[256] = "";                                                                       \
        bool ok_ = (call);                                                                         \
        TU_CHECK(ok_, "%s: %s", #call, msg_);                                                      \
    } while (0)
#define DEV_MSG msg_, sizeof msg_

static size_t span_bytes(int64_t rows, int64_t cols, int64_t ld, ug_dtype t)
{
    return rows > 0 ? (size_t)((rows - 1) * ld + cols) * tu_float_bytes(t) : 0;
}

static size_t formats_all(ug_weight_format formats[MAX_FORMATS])
{
    size_t count = hx_all_formats(formats, MAX_FORMATS);
    assert_int_equal(count, 147);
    return count;
}

/* ------------------------------------------------------------------------ */
/* Random cases against the oracle                                            */
/* ------------------------------------------------------------------------ */

enum k_kind { K_ONE_GROUP, K_ODD, K_SEVERAL, K_KINDS };

/* A K of the given kind that the format allows. */
static int64_t pick_k(const ug_weight_format *f, enum k_kind kind, hx_rng *r)
{
    bool quantized = f->method != UG_METHOD_NONE;
    bool four_bit = f->storage == UG_U4 || f->storage == UG_I4;
    int64_t g = quantized ? f->group_size : 0;
    uint64_t x = hx_rng_next(r);
    switch (kind) {
    case K_ONE_GROUP:
        if (g > 0)
            return g;
        return x % 2 ? 64 : 128; /* per channel: the row is the group; dense: one tile */
    case K_ODD:                  /* not a multiple of 64 where the format allows */
        if (g == 32)
            return x % 2 ? 96 : 160;
        if (g > 0)
            return 3 * g;
        if (four_bit) /* per channel, K even */
            return (int64_t[]){34, 96, 202}[x % 3];
        return (int64_t[]){1, 33, 96, 201}[x % 4]; /* 8-bit per channel or dense */
    default:
        if (g > 0)
            return g * (x % 2 ? 4 : 8);
        return x % 2 ? 256 : 1024;
    }
}

/* A random case of format f with K of the given kind. */
static hx_case random_case(const ug_weight_format *f, enum k_kind kind, hx_rng *r)
{
    static const int64_t ms[] = {1, 3, 16, 17, 33, 64, 65, 130};
    static const int64_t ns[] = {1, 19, 64, 100, 257};
    static const float alphas[3] = {0.75f, -1.5f, 2.0f};
    static const float betas[3] = {0.5f, -1.25f, 1.0f};
    hx_case c = {.format = *f};
    c.m = ms[hx_rng_next(r) % 8];
    c.n = ns[hx_rng_next(r) % 5];
    c.k = pick_k(f, kind, r);
    c.a_type = float_types[1 + hx_rng_next(r) % 2];
    c.c_type = float_types[hx_rng_next(r) % 3];
    c.lda = hx_rng_uniform(r) < 0.4 ? c.k + 1 + (int64_t)(hx_rng_next(r) % 9) : 0;
    c.ldc = hx_rng_uniform(r) < 0.4 ? c.n + 1 + (int64_t)(hx_rng_next(r) % 9) : 0;
    c.has_bias = hx_rng_uniform(r) < 0.5;
    c.bias_type = float_types[hx_rng_next(r) % 3];
    c.alpha = hx_rng_uniform(r) < 0.3 ? 1.0f : alphas[hx_rng_next(r) % 3];
    c.beta = hx_rng_uniform(r) < 0.4 ? 0.0f : betas[hx_rng_next(r) % 3];
    return c;
}

static void test_random_cases(void **state)
{
    (void)state;
    tu_require_cuda();
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_CUDA, 0), *oracle = tu_context(UG_BACKEND_REF, 0);
    ug_weight_format formats[MAX_FORMATS];
    size_t nf = formats_all(formats);
    /* Pass p gives every format one case, in a shuffled order, with K of
     * kind p (one group, not a multiple of 64, several groups; random in
     * the fourth pass and in the quick run's only one). */
    size_t passes = tu_quick() ? 1 : 4, count = 0;
    hx_case *cases = malloc(passes * nf * sizeof *cases);
    size_t *order = malloc(nf * sizeof *order);
    assert_true(cases && order);
    size_t seen_kind[K_KINDS] = {0};
    for (size_t p = 0; p < passes; p++) {
        for (size_t i = 0; i < nf; i++)
            order[i] = i;
        for (size_t i = nf - 1; i > 0; i--) { /* Fisher-Yates */
            size_t j = (size_t)(hx_rng_next(&r) % (i + 1)), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (size_t i = 0; i < nf; i++) {
            enum k_kind kind = passes > 1 && p < K_KINDS ? (enum k_kind)p
                                                         : (enum k_kind)(hx_rng_next(&r) % K_KINDS);
            seen_kind[kind]++;
            cases[count++] = random_case(&formats[order[i]], kind, &r);
        }
    }
    assert_int_equal(count, passes * nf);
    for (size_t kind = 0; kind < K_KINDS && passes > 1; kind++)
        TU_CHECK(seen_kind[kind] >= nf, "K kind %zu drawn for %zu cases only", kind,
                 seen_kind[kind]);
    print_message("%zu random cases (seed %llu)\n", count, (unsigned long long)tu_seed());
    tu_check_cases(ctx, oracle, cases, count, &r, "random cases");
    free(cases);
    free(order);
    ug_context_destroy(ctx);
    ug_context_destroy(oracle);
}

/* Layers closer to real ones, for the kernels that only larger M, N or K
 * reach (many tiles, long K loops). */
static void test_larger_layers(void **state)
{
    (void)state;
    tu_require_cuda();
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_CUDA, 0), *oracle = tu_context(UG_BACKEND_REF, 0);
    bool quick = tu_quick();
    hx_case cases[] = {
        {.format = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_F16},
         .m = 1,
         .n = 1000,
         .k = 2048,
         .a_type = UG_F16,
         .c_type = UG_F16,
         .alpha = 1.0f},
        {.format = {UG_U4, UG_METHOD_SCALE_BIAS, 64, UG_BF16},
         .m = 300,
         .n = 520,
         .k = 1024,
         .a_type = UG_BF16,
         .c_type = UG_BF16,
         .has_bias = 1,
         .bias_type = UG_BF16,
         .alpha = 1.0f},
        /* records in the layout that the wgmma kernel cannot read (f16
         * scales, bf16 activations): its group warps build the state and
         * step over the records */
        {.format = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_F16},
         .m = 300,
         .n = 520,
         .k = 1024,
         .a_type = UG_BF16,
         .c_type = UG_BF16,
         .alpha = 1.0f},
        {.format = {UG_I8, UG_METHOD_SYMMETRIC, UG_GROUP_PER_CHANNEL, UG_F32},
         .m = 256,
         .n = 384,
         .k = 2048,
         .a_type = UG_BF16,
         .c_type = UG_F32,
         .ldc = 390,
         .alpha = 0.5f,
         .beta = 1.0f},
        {.format = {UG_BF16, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
         .m = 129,
         .n = 777,
         .k = 1000,
         .a_type = UG_BF16,
         .c_type = UG_BF16,
         .lda = 1003,
         .alpha = 1.0f},
        {.format = {UG_U8, UG_METHOD_SCALE_ZERO, 32, UG_F16},
         .m = 16,
         .n = 2048,
         .k = 4096,
         .a_type = UG_F16,
         .c_type = UG_F32,
         .has_bias = 1,
         .bias_type = UG_F32,
         .alpha = 1.0f},
    };
    size_t count = sizeof cases / sizeof cases[0];
    if (quick) /* the same kernels at a size compute-sanitizer gets through */
        for (size_t i = 0; i < count; i++) {
            cases[i].m = cases[i].m > 130 ? 130 : cases[i].m;
            cases[i].n = cases[i].n > 300 ? 300 : cases[i].n;
        }
    tu_check_cases(ctx, oracle, cases, count, &r, "larger layers");
    ug_context_destroy(ctx);
    ug_context_destroy(oracle);
}

/* ------------------------------------------------------------------------ */
/* The wgmma family under each of its schedules                               */
/* ------------------------------------------------------------------------ */

static const char *const wg_schedules[21] = {
    "wg-n128-t16-s1", "wg-n128-t32-s1", "wg-n128-t64-s1", "wg-n128-t128-s1", "wg-n128-t256-s1",
    "wg-n256-t64-s1", "wg-n256-t128-s1",
    "wg-n128-t16-s2", "wg-n128-t32-s2", "wg-n128-t64-s2", "wg-n128-t128-s2", "wg-n128-t256-s2",
    "wg-n256-t64-s2", "wg-n256-t128-s2",
    "wg-n128-t16-s4", "wg-n128-t32-s4", "wg-n128-t64-s4", "wg-n128-t128-s4", "wg-n128-t256-s4",
    "wg-n256-t64-s4", "wg-n256-t128-s4",
};

/* Schedule i of the list, or its one-CTA form where K has fewer 64-chunks
 * than the schedule splits K into. */
static const char *wg_schedule_for(size_t i, int64_t k)
{
    int64_t chunks = (k + 63) / 64;
    size_t splits_index = (i % 21) / 7; /* 0: s1, 1: s2, 2: s4 */
    while (splits_index > 0 && chunks < ((int64_t)1 << splits_index))
        splits_index--;
    return wg_schedules[splits_index * 7 + i % 7];
}

/* Every format twice, each time under the next wg schedule; M around the
 * token tiles (64, 65, 127, 200, 257, 300), N not a multiple of the 128-row
 * tile, K of each kind; lda dense or padded to another multiple of 8 (other
 * lda take the decode fallback, which test_random_cases reaches). Then a
 * few long-M and long-K layers: M = 4097 under one- and several-CTA K.
 * The t16 cases have tiles that do not divide evenly over 132 SMs, so
 * the persistent grid shares the last of them by chunks (stream-K), or
 * all of them where less than two rounds go over a long K; the t64 and
 * t128 ones after them have few tiles over a long K, all of them shared. */
static void test_wg_schedules(void **state)
{
    (void)state;
    tu_require_cuda();
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_CUDA, 0), *oracle = tu_context(UG_BACKEND_REF, 0);
    ug_weight_format formats[MAX_FORMATS];
    size_t nf = formats_all(formats);
    static const int64_t ms[] = {64, 65, 127, 200, 257, 300};
    static const int64_t ns[] = {1, 19, 100, 129, 257, 300};
    size_t per_format = tu_quick() ? 1 : 2, count = 0;
    hx_case longer[] = {
        {.format = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_BF16},
         .m = 4097, .n = 200, .k = 512, .a_type = UG_BF16, .c_type = UG_BF16,
         .has_bias = 1, .bias_type = UG_BF16, .alpha = 1.0f, .schedule = "wg-n128-t256-s1"},
        {.format = {UG_I4, UG_METHOD_SYMMETRIC, 32, UG_F16},
         .m = 4097, .n = 130, .k = 320, .a_type = UG_F16, .c_type = UG_F32,
         .alpha = 1.0f, .beta = 0.5f, .schedule = "wg-n256-t128-s2"},
        {.format = {UG_BF16, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
         .m = 4097, .n = 129, .k = 200, .a_type = UG_BF16, .c_type = UG_F16,
         .alpha = 1.0f, .schedule = "wg-n256-t64-s4"},
        {.format = {UG_U8, UG_METHOD_SCALE_BIAS, 64, UG_F32},
         .m = 300, .n = 1000, .k = 4096, .a_type = UG_BF16, .c_type = UG_BF16,
         .alpha = 1.0f, .schedule = "wg-n128-t256-s4"},
        {.format = {UG_F32, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
         .m = 511, .n = 300, .k = 1030, .a_type = UG_F16, .c_type = UG_F32,
         .has_bias = 1, .bias_type = UG_F16, .alpha = -0.5f, .schedule = "wg-n128-t256-s2"},
        {.format = {UG_U4, UG_METHOD_SCALE_BIAS, 32, UG_F16},
         .m = 1000, .n = 777, .k = 2048, .a_type = UG_F16, .c_type = UG_F16,
         .alpha = 1.0f, .schedule = NULL}, /* the library's own choice */
        /* 8 x 38 tiles on the persistent grid (2.3 rounds of 132 SMs):
         * whole tiles, then the last round and the rest shared by chunks
         * (stream-K) */
        {.format = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_BF16},
         .m = 600, .n = 1000, .k = 256, .a_type = UG_BF16, .c_type = UG_BF16,
         .has_bias = 1, .bias_type = UG_BF16, .alpha = 1.0f, .schedule = "wg-n128-t16-s1"},
        {.format = {UG_I8, UG_METHOD_SYMMETRIC, 64, UG_F16},
         .m = 600, .n = 1000, .k = 448, .a_type = UG_F16, .c_type = UG_F32,
         .alpha = 1.0f, .beta = 0.5f, .schedule = "wg-n128-t16-s1"},
        /* 32 tiles over 134 chunks of K: on 132 SMs every SM takes a CTA
         * and all tiles are shared by chunks, each tile over four or five
         * CTAs (ug_wg_shares_all_tiles) */
        {.format = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_BF16},
         .m = 3, .n = 4000, .k = 8576, .a_type = UG_BF16, .c_type = UG_BF16,
         .has_bias = 1, .bias_type = UG_BF16, .alpha = 1.0f, .schedule = "wg-n128-t64-s1"},
        {.format = {UG_U8, UG_METHOD_SCALE_BIAS, 32, UG_F16},
         .m = 9, .n = 4000, .k = 8576, .a_type = UG_F16, .c_type = UG_F32,
         .alpha = 0.5f, .beta = 0.5f, .schedule = "wg-n128-t128-s1"},
        /* 71 x 2 tiles (1.08 rounds of 132 SMs) over 130 chunks of K:
         * every SM takes a CTA and all tiles are shared by chunks, each
         * tile over one or two CTAs */
        {.format = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_BF16},
         .m = 20, .n = 9000, .k = 8320, .a_type = UG_BF16, .c_type = UG_BF16,
         .has_bias = 1, .bias_type = UG_BF16, .alpha = 1.0f, .schedule = "wg-n128-t16-s1"},
        /* 8-bit codes on 256-token tiles (a ring of four stages), K of
         * five chunks, 3 x 94 tiles with the last rounds shared by chunks:
         * when the group-state warps took chunks by their index in K, the
         * warp of chunk 2 skipped five slots from tile to tile, could pass
         * a stage's "empty" wait on a phase two rounds old and overwrite
         * group state still being read */
        {.format = {UG_U8, UG_METHOD_SCALE_ZERO, 64, UG_BF16},
         .m = 600, .n = 12000, .k = 320, .a_type = UG_BF16, .c_type = UG_BF16,
         .alpha = 1.0f, .schedule = "wg-n128-t256-s1"},
        /* 16-bit C with padding (ldc > n): through the whole-tile tensor
         * store where n % 8 == 0 (clipped at n exactly), the general way
         * where it is not (a tensor store would write the padding up to
         * the next 16-byte unit) */
        {.format = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_BF16},
         .m = 300, .n = 200, .k = 256, .a_type = UG_BF16, .c_type = UG_BF16, .ldc = 216,
         .has_bias = 1, .bias_type = UG_BF16, .alpha = 1.0f, .schedule = "wg-n128-t256-s1"},
        {.format = {UG_U4, UG_METHOD_SCALE_BIAS, 64, UG_F16},
         .m = 70, .n = 203, .k = 256, .a_type = UG_F16, .c_type = UG_F16, .ldc = 208,
         .alpha = 1.0f, .schedule = "wg-n128-t128-s1"},
        /* 16-bit weights on 256-token tiles with padded 16-bit C: the
         * 16-byte runs (a whole-tile staging area would leave the ring
         * three stages); the second token tile ends inside its first half */
        {.format = {UG_BF16, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
         .m = 300, .n = 264, .k = 320, .a_type = UG_BF16, .c_type = UG_BF16, .ldc = 272,
         .has_bias = 1, .bias_type = UG_BF16, .alpha = 0.5f, .schedule = "wg-n128-t256-s1"},
        /* clusters of two CTAs sharing each A tile (-a2), each tile once:
         * an odd count of row tiles (the last pair's second one past N);
         * a token tile whose second half lies past M; the last rounds
         * shared by chunks (2 x 38 row-tile pairs over 66 clusters); all
         * tiles shared (16 pairs over 134 chunks); 16-byte runs of C */
        {.format = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_BF16},
         .m = 4097, .n = 300, .k = 512, .a_type = UG_BF16, .c_type = UG_BF16,
         .has_bias = 1, .bias_type = UG_BF16, .alpha = 1.0f, .schedule = "wg-n128-t256-s1-a2"},
        {.format = {UG_I4, UG_METHOD_SYMMETRIC, 32, UG_F16},
         .m = 70, .n = 203, .k = 256, .a_type = UG_F16, .c_type = UG_F16, .ldc = 208,
         .alpha = 1.0f, .schedule = "wg-n128-t128-s1-a2"},
        {.format = {UG_U8, UG_METHOD_SCALE_BIAS, 64, UG_F16},
         .m = 600, .n = 1000, .k = 448, .a_type = UG_F16, .c_type = UG_F32,
         .alpha = 1.0f, .beta = 0.5f, .schedule = "wg-n128-t16-s1-a2"},
        {.format = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_BF16},
         .m = 40, .n = 4000, .k = 8576, .a_type = UG_BF16, .c_type = UG_BF16,
         .has_bias = 1, .bias_type = UG_BF16, .alpha = 1.0f, .schedule = "wg-n128-t64-s1-a2"},
        {.format = {UG_BF16, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
         .m = 100, .n = 264, .k = 320, .a_type = UG_BF16, .c_type = UG_BF16, .ldc = 272,
         .alpha = 0.5f, .schedule = "wg-n128-t32-s1-a2"},
    };
    hx_case *cases = malloc((per_format * nf + sizeof longer / sizeof longer[0]) * sizeof *cases);
    assert_true(cases != NULL);
    for (size_t i = 0; i < nf; i++)
        for (size_t rep = 0; rep < per_format; rep++) {
            hx_case c = random_case(&formats[i], (enum k_kind)((i + rep) % K_KINDS), &r);
            c.m = ms[hx_rng_next(&r) % 6];
            c.n = ns[hx_rng_next(&r) % 6];
            c.lda = hx_rng_uniform(&r) < 0.3 ? (c.k + 7) / 8 * 8 + 8 : 0;
            c.ldc = hx_rng_uniform(&r) < 0.3 ? c.n + 1 + (int64_t)(hx_rng_next(&r) % 9) : 0;
            c.schedule = wg_schedule_for(count, c.k);
            cases[count++] = c;
        }
    for (size_t i = 0; i < sizeof longer / sizeof longer[0]; i++) {
        if (tu_quick() && longer[i].m > 1000)
            longer[i].m = 300;
        cases[count++] = longer[i];
    }
    print_message("%zu wg cases (seed %llu)\n", count, (unsigned long long)tu_seed());
    tu_check_cases(ctx, oracle, cases, count, &r, "wg schedules");
    free(cases);
    ug_context_destroy(ctx);
    ug_context_destroy(oracle);
}

/* M > 8 gets a wg schedule by default and M <= 8 a decode one (the bound
 * of src/dispatch/heuristic.c); a wg
 * schedule that splits K into more CTAs than K has chunks, or an unknown
 * token tile, is refused by name. */
static void test_wg_choice_and_refusals(void **state)
{
    (void)state;
    tu_require_cuda();
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_CUDA, 0);
    const ug_weight_format f = {UG_U4, UG_METHOD_SCALE_ZERO, 64, UG_BF16};
    hx_weights hw;
    assert_int_equal(hx_weights_make(ctx, &f, 256, 64, &r, &hw), UG_OK);
    ug_packed_weights *w = NULL;
    assert_int_equal(ug_weights_pack(ctx, &hw.src, &w), UG_OK);
    ug_gemm_desc d = UG_GEMM_DESC_INIT;
    d.n = 256;
    d.k = 64;
    d.a_type = UG_BF16;
    d.c_type = UG_BF16;
    static const struct {
        int64_t m;
        const char *prefix;
    } defaults[] = {{1, "mma-"}, {8, "mma-"}, {9, "wg-"}, {4097, "wg-"}};
    for (size_t i = 0; i < 4; i++) {
        d.m = defaults[i].m;
        ug_plan *plan = NULL;
        ug_status st = ug_plan_create(ctx, &d, w, NULL, &plan);
        TU_CHECK(st == UG_OK, "m = %lld: %s", (long long)d.m, ug_context_last_error(ctx));
        const char *name = ug_plan_schedule(plan);
        TU_CHECK(strncmp(name, defaults[i].prefix, strlen(defaults[i].prefix)) == 0,
                 "m = %lld runs %s, expected a %s schedule", (long long)d.m, name,
                 defaults[i].prefix);
        ug_plan_destroy(plan);
    }
    d.m = 128;
    ug_plan_options opt = UG_PLAN_OPTIONS_INIT;
    static const struct {
        const char *schedule, *words;
    } refused[] = {{"wg-n128-t64-s2", "chunk"}, {"wg-n128-t512-s1", "wg-n128-t256-s1"},
                   {"wg-n256-t256-s1", "unknown"}, {"wg-n128-t64-s3", "unknown"},
                   {"wg-n128-t64-s1x", "unknown"}, {"wg-n256-t64-s1-a2", "unknown"},
                   {"wg-n128-t64-s2-a2", "unknown"}};
    for (size_t i = 0; i < 7; i++) {
        opt.schedule = refused[i].schedule;
        ug_plan *plan = TU_NOT_NULL;
        ug_status st = ug_plan_create(ctx, &d, w, &opt, &plan);
        TU_EXPECT_ERROR(ctx, st, UG_ERR_UNSUPPORTED, refused[i].words);
        TU_CHECK(plan == NULL, "%s: a refused plan_create left *out set", refused[i].schedule);
    }
    ug_weights_destroy(w);
    hx_weights_free(&hw);

    /* 16-bit weights leave the decode family above M = 8 (docs/heuristics.md) */
    const ug_weight_format dense = {UG_BF16, UG_METHOD_NONE, 0, UG_DTYPE_NONE};
    assert_int_equal(hx_weights_make(ctx, &dense, 256, 64, &r, &hw), UG_OK);
    assert_int_equal(ug_weights_pack(ctx, &hw.src, &w), UG_OK);
    static const struct {
        int64_t m;
        const char *prefix;
    } dense_defaults[] = {{8, "mma-"}, {9, "wg-"}, {16, "wg-"}};
    for (size_t i = 0; i < 3; i++) {
        d.m = dense_defaults[i].m;
        ug_plan *plan = NULL;
        ug_status st = ug_plan_create(ctx, &d, w, NULL, &plan);
        TU_CHECK(st == UG_OK, "m = %lld: %s", (long long)d.m, ug_context_last_error(ctx));
        TU_CHECK(strncmp(ug_plan_schedule(plan), dense_defaults[i].prefix,
                         strlen(dense_defaults[i].prefix)) == 0,
                 "bf16 weights, m = %lld run %s, expected a %s schedule", (long long)d.m,
                 ug_plan_schedule(plan), dense_defaults[i].prefix);
        ug_plan_destroy(plan);
    }
    ug_weights_destroy(w);
    hx_weights_free(&hw);
    ug_context_destroy(ctx);
}

/* ------------------------------------------------------------------------ */
/* Determinism and graph capture                                              */
/* ------------------------------------------------------------------------ */

/* One plan (under the case's schedule where it names one) with its device
 * buffers: A, C (span of [m][ldc]), bias, workspace; c_init holds the host
 * C that every run starts from. */
typedef struct device_case {
    hx_case c;
    hx_weights hw;
    ug_packed_weights *w;
    ug_plan *plan;
    void *a, *c_dev, *bias, *ws;
    size_t a_bytes, c_bytes, bias_bytes, ws_bytes;
    void *c_init;
} device_case;

static void device_case_make(ug_context *ctx, const hx_case *c, hx_rng *r, device_case *dc)
{
    memset(dc, 0, sizeof *dc);
    dc->c = *c;
    char name[256];
    tu_case_str(c, UG_BACKEND_CUDA, name, sizeof name);
    assert_int_equal(hx_weights_make(ctx, &c->format, c->n, c->k, r, &dc->hw), UG_OK);
    ug_status st = ug_weights_pack(ctx, &dc->hw.src, &dc->w);
    TU_CHECK(st == UG_OK, "%s: pack: %s", name, ug_context_last_error(ctx));
    ug_gemm_desc d = hx_case_desc(c);
    ug_plan_options popt = UG_PLAN_OPTIONS_INIT;
    popt.schedule = c->schedule;
    st = ug_plan_create(ctx, &d, dc->w, &popt, &dc->plan);
    TU_CHECK(st == UG_OK, "%s: plan: %s", name, ug_context_last_error(ctx));
    assert_int_equal(ug_plan_workspace_size(dc->plan, &dc->ws_bytes), UG_OK);
    int64_t lda = c->lda ? c->lda : c->k, ldc = c->ldc ? c->ldc : c->n;
    dc->a_bytes = span_bytes(c->m, c->k, lda, c->a_type);
    dc->c_bytes = span_bytes(c->m, c->n, ldc, c->c_type);
    dc->bias_bytes = c->has_bias ? (size_t)c->n * tu_float_bytes(c->bias_type) : 0;
    void *a = malloc(dc->a_bytes + 1), *bias = malloc(dc->bias_bytes + 1);
    dc->c_init = malloc(dc->c_bytes + 1);
    assert_true(a && bias && dc->c_init);
    hx_fill(a, c->a_type, dc->a_bytes / tu_float_bytes(c->a_type), 1.0, r);
    hx_fill(bias, c->bias_type, dc->bias_bytes / tu_float_bytes(c->bias_type), 0.5, r);
    hx_fill(dc->c_init, c->c_type, dc->c_bytes / tu_float_bytes(c->c_type), 1.0, r);
    DEV_CHECK(hx_dev_alloc(&dc->a, dc->a_bytes, DEV_MSG) &&
              hx_dev_alloc(&dc->c_dev, dc->c_bytes, DEV_MSG) &&
              hx_dev_alloc(&dc->bias, dc->bias_bytes, DEV_MSG) &&
              hx_dev_alloc(&dc->ws, dc->ws_bytes, DEV_MSG) &&
              hx_dev_upload(dc->a, a, dc->a_bytes, DEV_MSG) &&
              hx_dev_upload(dc->bias, bias, dc->bias_bytes, DEV_MSG));
    free(a);
    free(bias);
}

static void device_case_free(device_case *dc)
{
    ug_plan_destroy(dc->plan);
    ug_weights_destroy(dc->w);
    hx_weights_free(&dc->hw);
    hx_dev_free(dc->a);
    hx_dev_free(dc->c_dev);
    hx_dev_free(dc->bias);
    hx_dev_free(dc->ws);
    free(dc->c_init);
}

/* C from c_init, one execute, synchronize, C back into out. */
static void device_case_run(ug_context *ctx, device_case *dc, void *out)
{
    DEV_CHECK(hx_dev_upload(dc->c_dev, dc->c_init, dc->c_bytes, DEV_MSG) && hx_dev_sync(DEV_MSG));
    ug_status st =
        ug_plan_execute(dc->plan, dc->w, dc->a, dc->c_dev, dc->bias, dc->ws, dc->ws_bytes);
    TU_CHECK(st == UG_OK, "execute: %s (%s)", ug_status_str(st), ug_context_last_error(ctx));
    DEV_CHECK(hx_dev_sync(DEV_MSG) && hx_dev_download(out, dc->c_dev, dc->c_bytes, DEV_MSG));
}

static void test_determinism(void **state)
{
    (void)state;
    tu_require_cuda();
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_CUDA, 0);
    /* long K at M = 1 (where a kernel might split K), many tiles, beta != 0 */
    const hx_case cases[] = {
        {.format = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_F16},
         .m = 1,
         .n = 1024,
         .k = 8192,
         .a_type = UG_F16,
         .c_type = UG_F32,
         .alpha = 1.0f},
        {.format = {UG_I4, UG_METHOD_SYMMETRIC, 32, UG_BF16},
         .m = 3,
         .n = 257,
         .k = 4096,
         .a_type = UG_BF16,
         .c_type = UG_BF16,
         .has_bias = 1,
         .bias_type = UG_F32,
         .alpha = 1.0f,
         .beta = 0.5f},
        {.format = {UG_U8, UG_METHOD_SCALE_BIAS, UG_GROUP_PER_CHANNEL, UG_F32},
         .m = 130,
         .n = 300,
         .k = 2048,
         .a_type = UG_BF16,
         .c_type = UG_F16,
         .ldc = 301,
         .alpha = -1.5f},
        {.format = {UG_F16, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
         .m = 65,
         .n = 100,
         .k = 1000,
         .a_type = UG_F16,
         .c_type = UG_F32,
         .alpha = 1.0f,
         .beta = -1.25f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (tu_absent_from_build(UG_BACKEND_CUDA, NULL, cases[i].a_type, &cases[i].format))
            continue;
        device_case dc;
        device_case_make(ctx, &cases[i], &r, &dc);
        void *first = malloc(dc.c_bytes), *again = malloc(dc.c_bytes);
        assert_true(first && again);
        device_case_run(ctx, &dc, first);
        TU_CHECK(memcmp(first, dc.c_init, dc.c_bytes) != 0, "case %zu: execute left C as it was",
                 i);
        for (int rep = 0; rep < 3; rep++) {
            device_case_run(ctx, &dc, again);
            char name[256];
            tu_case_str(&cases[i], UG_BACKEND_CUDA, name, sizeof name);
            TU_CHECK(memcmp(first, again, dc.c_bytes) == 0,
                     "%s: run %d of the same plan differs from the first", name, rep + 2);
        }
        free(first);
        free(again);
        device_case_free(&dc);
    }
    ug_context_destroy(ctx);
}

/* Capture ug_plan_execute on a stream of the context's own into a graph, in
 * global capture mode (so that an allocation, a synchronization or work on
 * another stream inside execute breaks the capture), replay it and compare
 * with a direct execute, bit for bit. */
static void test_graph_capture(void **state)
{
    (void)state;
    tu_require_cuda();
    hx_rng r = tu_rng(__func__);
    cudaStream_t stream;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = UG_BACKEND_CUDA;
    opt.stream = stream;
    ug_context *ctx = NULL;
    char err[256] = "";
    ug_status st = ug_context_create(&opt, &ctx, err, sizeof err);
    TU_CHECK(st == UG_OK, "cuda context on a stream: %s (%s)", ug_status_str(st), err);
    const hx_case cases[] = {
        {.format = {UG_U4, UG_METHOD_SCALE_BIAS, 64, UG_F16},
         .m = 1,
         .n = 257,
         .k = 2048,
         .a_type = UG_F16,
         .c_type = UG_F16,
         .has_bias = 1,
         .bias_type = UG_F16,
         .alpha = 1.0f},
        {.format = {UG_I8, UG_METHOD_SCALE_ZERO, 128, UG_BF16},
         .m = 65,
         .n = 100,
         .k = 512,
         .a_type = UG_BF16,
         .c_type = UG_F32,
         .ldc = 103,
         .alpha = 2.0f,
         .beta = 0.5f},
        {.format = {UG_BF16, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
         .m = 130,
         .n = 64,
         .k = 96,
         .a_type = UG_BF16,
         .c_type = UG_BF16,
         .lda = 100,
         .alpha = 1.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (tu_absent_from_build(UG_BACKEND_CUDA, NULL, cases[i].a_type, &cases[i].format))
            continue;
        char name[256];
        tu_case_str(&cases[i], UG_BACKEND_CUDA, name, sizeof name);
        device_case dc;
        device_case_make(ctx, &cases[i], &r, &dc);
        void *direct = malloc(dc.c_bytes), *replayed = malloc(dc.c_bytes);
        assert_true(direct && replayed);
        device_case_run(ctx, &dc, direct);

        DEV_CHECK(hx_dev_upload(dc.c_dev, dc.c_init, dc.c_bytes, DEV_MSG) && hx_dev_sync(DEV_MSG));
        CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
        st = ug_plan_execute(dc.plan, dc.w, dc.a, dc.c_dev, dc.bias, dc.ws, dc.ws_bytes);
        enum cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
        cudaError_t query = cudaStreamIsCapturing(stream, &capturing);
        cudaGraph_t graph = NULL;
        cudaError_t ended = cudaStreamEndCapture(stream, &graph);
        TU_CHECK(st == UG_OK, "%s: execute under capture: %s (%s)", name, ug_status_str(st),
                 ug_context_last_error(ctx));
        TU_CHECK(query == cudaSuccess && capturing == cudaStreamCaptureStatusActive,
                 "%s: execute broke the capture (status %d, %s)", name, (int)capturing,
                 cudaGetErrorString(query));
        TU_CHECK(ended == cudaSuccess && graph != NULL,
                 "%s: cudaStreamEndCapture: %s (something in execute was not capturable)", name,
                 cudaGetErrorString(ended));
        size_t nodes = 0;
        CUDA_CHECK(cudaGraphGetNodes(graph, NULL, &nodes));
        TU_CHECK(nodes > 0,
                 "%s: the captured graph is empty: execute launched nothing on the "
                 "context's stream",
                 name);
        /* nothing ran during capture: C is still c_init */
        DEV_CHECK(hx_dev_download(replayed, dc.c_dev, dc.c_bytes, DEV_MSG));
        TU_CHECK(memcmp(replayed, dc.c_init, dc.c_bytes) == 0,
                 "%s: C changed while execute was only being captured", name);
        cudaGraphExec_t exec = NULL;
        CUDA_CHECK(cudaGraphInstantiateWithFlags(&exec, graph, 0));
        CUDA_CHECK(cudaGraphLaunch(exec, stream));
        CUDA_CHECK(cudaStreamSynchronize(stream));
        DEV_CHECK(hx_dev_download(replayed, dc.c_dev, dc.c_bytes, DEV_MSG));
        TU_CHECK(memcmp(direct, replayed, dc.c_bytes) == 0,
                 "%s: the replayed graph's C differs from a direct execute's", name);
        CUDA_CHECK(cudaGraphExecDestroy(exec));
        CUDA_CHECK(cudaGraphDestroy(graph));
        free(direct);
        free(replayed);
        device_case_free(&dc);
    }
    ug_context_destroy(ctx);
    CUDA_CHECK(cudaStreamDestroy(stream));
}

/* ------------------------------------------------------------------------ */
/* Unpack and embedding                                                       */
/* ------------------------------------------------------------------------ */

#define GUARD 16

/* Every format packed on cuda at N = 19 (not a multiple of 16) and a K the
 * format allows that is not a multiple of 64 where it can be, then
 * unpacked to the host: the same bytes, nothing written past them. */
static void test_unpack_every_format(void **state)
{
    (void)state;
    tu_require_cuda();
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_CUDA, 0);
    ug_weight_format formats[MAX_FORMATS];
    size_t nf = formats_all(formats);
    static const char *const names[4] = {"codes", "scales", "biases", "zeros"};
    for (size_t fi = 0; fi < nf; fi++) {
        const ug_weight_format *f = &formats[fi];
        char name[96];
        hx_format_str(f, name, sizeof name);
        int64_t n = 19, k = pick_k(f, K_ODD, &r);
        hx_weights hw;
        assert_int_equal(hx_weights_make(ctx, f, n, k, &r, &hw), UG_OK);
        size_t sizes[4];
        assert_int_equal(
            ug_weight_source_sizes(ctx, f, n, k, &sizes[0], &sizes[1], &sizes[2], &sizes[3]),
            UG_OK);
        ug_packed_weights *w = NULL;
        ug_status st = ug_weights_pack(ctx, &hw.src, &w);
        TU_CHECK(st == UG_OK, "%s (n %lld, k %lld): pack: %s", name, (long long)n, (long long)k,
                 ug_context_last_error(ctx));
        const uint8_t *source[4] = {hw.codes, hw.scales, hw.biases, hw.zeros};
        uint8_t *back[4] = {NULL};
        for (int a = 0; a < 4; a++)
            if (sizes[a]) {
                back[a] = malloc(sizes[a] + GUARD);
                assert_non_null(back[a]);
                memset(back[a], 0x5a, sizes[a] + GUARD);
            }
        st = ug_weights_unpack(ctx, w, back[0], back[1], back[2], back[3]);
        TU_CHECK(st == UG_OK, "%s (n %lld, k %lld): unpack: %s", name, (long long)n, (long long)k,
                 ug_context_last_error(ctx));
        for (int a = 0; a < 4; a++) {
            if (!sizes[a])
                continue;
            TU_CHECK(memcmp(back[a], source[a], sizes[a]) == 0,
                     "%s (n %lld, k %lld): %s differ after unpack", name, (long long)n,
                     (long long)k, names[a]);
            for (size_t i = sizes[a]; i < sizes[a] + GUARD; i++)
                TU_CHECK(back[a][i] == 0x5a, "%s: unpack wrote past the end of %s", name, names[a]);
            free(back[a]);
        }
        ug_weights_destroy(w);
        hx_weights_free(&hw);
    }
    ug_context_destroy(ctx);
}

/* Distance in ulps of two finite values of one float type (bit patterns). */
static int64_t ulps_apart(const void *x, const void *y, ug_dtype t, size_t i)
{
    int64_t a, b;
    if (t == UG_F32) {
        int32_t u, v;
        memcpy(&u, (const char *)x + 4 * i, 4);
        memcpy(&v, (const char *)y + 4 * i, 4);
        a = u < 0 ? -(int64_t)(u & 0x7fffffff) : u;
        b = v < 0 ? -(int64_t)(v & 0x7fffffff) : v;
    } else {
        uint16_t u = ((const uint16_t *)x)[i], v = ((const uint16_t *)y)[i];
        a = (u & 0x8000) ? -(int64_t)(u & 0x7fff) : u;
        b = (v & 0x8000) ? -(int64_t)(v & 0x7fff) : v;
    }
    return a > b ? a - b : b - a;
}

/* Rows gathered on cuda (out in device memory, ids on the host) are within
 * one ulp of the ref backend's (an exact dequantization rounded once; cuda
 * may round twice, through f32); the padding between rows stays as it was.
 * Ids out of range are refused before anything is written. */
static void test_embedding_matches_ref(void **state)
{
    (void)state;
    tu_require_cuda();
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_CUDA, 0), *oracle = tu_context(UG_BACKEND_REF, 1);
    static const ug_weight_format formats[] = {
        {UG_U4, UG_METHOD_SCALE_BIAS, 32, UG_BF16},
        {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_F16},
        {UG_I4, UG_METHOD_SYMMETRIC, 64, UG_F32},
        {UG_U8, UG_METHOD_SCALE_BIAS, UG_GROUP_PER_CHANNEL, UG_F16},
        {UG_I8, UG_METHOD_SYMMETRIC, UG_GROUP_PER_CHANNEL, UG_BF16},
        {UG_F32, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
        {UG_BF16, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
    };
    enum { VOCAB = 37, COUNT = 11 };
    for (size_t fi = 0; fi < sizeof formats / sizeof formats[0]; fi++) {
        const ug_weight_format *f = &formats[fi];
        char name[96];
        hx_format_str(f, name, sizeof name);
        int64_t dim = f->method == UG_METHOD_NONE ? 200
                      : f->group_size > 0         ? 3 * f->group_size
                                                  : 96;
        hx_weights hw;
        assert_int_equal(hx_weights_make(ctx, f, VOCAB, dim, &r, &hw), UG_OK);
        ug_packed_weights *table = NULL, *table_ref = NULL;
        assert_int_equal(ug_weights_pack(ctx, &hw.src, &table), UG_OK);
        assert_int_equal(ug_weights_pack(oracle, &hw.src, &table_ref), UG_OK);
        for (size_t ti = 0; ti < 3; ti++) {
            ug_dtype t = float_types[ti];
            size_t esz = tu_float_bytes(t);
            int32_t ids[COUNT];
            for (int i = 0; i < COUNT; i++)
                ids[i] = (int32_t)(hx_rng_next(&r) % VOCAB);
            ids[0] = 0;
            ids[1] = VOCAB - 1;
            ids[5] = ids[2];
            int64_t ldo = dim + 3;
            size_t bytes = span_bytes(COUNT, dim, ldo, t);
            uint8_t *init = malloc(bytes), *got = malloc(bytes), *want = malloc(bytes);
            assert_true(init && got && want);
            for (size_t i = 0; i < bytes; i++)
                init[i] = (uint8_t)hx_rng_next(&r);
            memcpy(want, init, bytes);
            ug_status st = ug_embedding_lookup(oracle, table_ref, ids, COUNT, t, want, ldo);
            TU_CHECK(st == UG_OK, "%s, out %s: ref: %s", name, ug_dtype_name(t),
                     ug_context_last_error(oracle));
            void *out = NULL;
            DEV_CHECK(hx_dev_alloc(&out, bytes, DEV_MSG) &&
                      hx_dev_upload(out, init, bytes, DEV_MSG));
            st = ug_embedding_lookup(ctx, table, ids, COUNT, t, out, ldo);
            TU_CHECK(st == UG_OK, "%s, out %s: %s (%s)", name, ug_dtype_name(t), ug_status_str(st),
                     ug_context_last_error(ctx));
            DEV_CHECK(hx_dev_sync(DEV_MSG) && hx_dev_download(got, out, bytes, DEV_MSG));
            for (int i = 0; i < COUNT; i++) {
                for (int64_t k = 0; k < dim; k++) {
                    size_t at = (size_t)(i * ldo + k);
                    TU_CHECK(ulps_apart(got, want, t, at) <= 1,
                             "%s, out %s: row %d (id %d), k %lld is %g, ref %g", name,
                             ug_dtype_name(t), i, ids[i], (long long)k, tu_load(got, t, at),
                             tu_load(want, t, at));
                }
                if (i + 1 < COUNT) {
                    size_t pad = (size_t)(i * ldo + dim) * esz;
                    TU_CHECK(memcmp(got + pad, init + pad, (size_t)(ldo - dim) * esz) == 0,
                             "%s, out %s: the padding after row %d was written", name,
                             ug_dtype_name(t), i);
                }
            }
            /* ids out of range: refused, nothing written */
            DEV_CHECK(hx_dev_upload(out, init, bytes, DEV_MSG));
            int32_t bad_ids[COUNT];
            memcpy(bad_ids, ids, sizeof ids);
            bad_ids[COUNT - 1] = hx_rng_next(&r) % 2 ? VOCAB : -1;
            st = ug_embedding_lookup(ctx, table, bad_ids, COUNT, t, out, ldo);
            TU_EXPECT_ERROR(ctx, st, UG_ERR_INVALID_VALUE, "ids[10]");
            DEV_CHECK(hx_dev_sync(DEV_MSG) && hx_dev_download(got, out, bytes, DEV_MSG));
            TU_CHECK(memcmp(got, init, bytes) == 0,
                     "%s, out %s: a refused lookup (id %d) wrote the output", name,
                     ug_dtype_name(t), (int)bad_ids[COUNT - 1]);
            hx_dev_free(out);
            free(init);
            free(got);
            free(want);
        }
        ug_weights_destroy(table);
        ug_weights_destroy(table_ref);
        hx_weights_free(&hw);
    }
    ug_context_destroy(ctx);
    ug_context_destroy(oracle);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */
/* ------------------------------------------------------------------------ */

/* f32 activations: every other part of the descriptor may be f32, the
 * activations may not. */
static void test_f32_activations_refused(void **state)
{
    (void)state;
    tu_require_cuda();
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_CUDA, 0);
    static const ug_weight_format formats[] = {
        {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_F16},
        {UG_I8, UG_METHOD_SYMMETRIC, UG_GROUP_PER_CHANNEL, UG_F32},
        {UG_F32, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
    };
    for (size_t fi = 0; fi < 3; fi++) {
        char name[96];
        hx_format_str(&formats[fi], name, sizeof name);
        hx_weights hw;
        assert_int_equal(hx_weights_make(ctx, &formats[fi], 64, 256, &r, &hw), UG_OK);
        ug_packed_weights *w = NULL;
        assert_int_equal(ug_weights_pack(ctx, &hw.src, &w), UG_OK);
        ug_gemm_desc d = UG_GEMM_DESC_INIT;
        d.m = 4;
        d.n = 64;
        d.k = 256;
        d.a_type = UG_F32;
        d.c_type = UG_F32;
        d.has_bias = 1;
        d.bias_type = UG_F32;
        ug_plan *plan = TU_NOT_NULL;
        ug_status st = ug_plan_create(ctx, &d, w, NULL, &plan);
        TU_EXPECT_ERROR(ctx, st, UG_ERR_UNSUPPORTED, "float32");
        TU_CHECK(plan == NULL, "%s: a refused plan_create left *out set", name);
        for (size_t ai = 1; ai < 3; ai++) { /* f16 / bf16 with f32 output and bias: fine */
            d.a_type = float_types[ai];
            if (tu_absent_from_build(UG_BACKEND_CUDA, NULL, d.a_type, &formats[fi]))
                continue;
            st = ug_plan_create(ctx, &d, w, NULL, &plan);
            TU_CHECK(st == UG_OK, "%s, a %s, c and bias float32: %s (%s)", name,
                     ug_dtype_name(d.a_type), ug_status_str(st), ug_context_last_error(ctx));
            ug_plan_destroy(plan);
        }
        ug_weights_destroy(w);
        hx_weights_free(&hw);
    }
    ug_context_destroy(ctx);
}

/* Whether msg names the argument `arg` the way messages do: quoted ('a',
 * "a", `a`), after a colon ("ug_plan_execute: a ..."), after "argument",
 * or followed by " =" or " (" ("a = 0x...", "a (0x...)"). The article "a"
 * of English text is none of these. */
static bool names_argument(const char *msg, const char *arg)
{
    size_t len = strlen(arg);
    for (const char *p = strstr(msg, arg); p != NULL; p = strstr(p + 1, arg)) {
        char before = p == msg ? ' ' : p[-1], after = p[len];
        bool word_start = !(before == '_' || (before >= 'a' && before <= 'z') ||
                            (before >= 'A' && before <= 'Z') || (before >= '0' && before <= '9'));
        bool word_end = !(after == '_' || (after >= 'a' && after <= 'z') ||
                          (after >= 'A' && after <= 'Z') || (after >= '0' && after <= '9'));
        if (!word_start || !word_end)
            continue;
        if (before == '\'' || before == '"' || before == '`')
            return true;
        if (p - msg >= 2 && p[-2] == ':' && p[-1] == ' ')
            return true;
        if (p - msg >= 9 && strncmp(p - 9, "argument ", 9) == 0)
            return true;
        if (after == '=' || strncmp(p + len, " =", 2) == 0 || strncmp(p + len, " (", 2) == 0)
            return true;
    }
    return false;
}

/* The library's wgmma plan for M = 4096, N = 3584 (28 x 16 tiles of
 * 128 x 256: 3.4 rounds of 132 SMs) shares the last tiles by chunks
 * (stream-K) and so asks for a workspace (the rules are in
 * ug_gemm_plan_grid); a workspace that is not 16-byte aligned is refused,
 * naming it, and C is left as it was. 71 x 2 tiles of 128 x 16 (1.08
 * rounds) are all shared over 130 chunks of K (a workspace), and taken
 * whole over 64. */
static void test_stream_k_workspace(void **state)
{
    (void)state;
    tu_require_cuda();
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_CUDA, 0);
    const hx_case c = {.format = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_BF16},
                       .m = 4096,
                       .n = 3584,
                       .k = 128,
                       .a_type = UG_BF16,
                       .c_type = UG_BF16,
                       .alpha = 1.0f};
    int sms = 0;
    assert_int_equal(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
    device_case dc;
    device_case_make(ctx, &c, &r, &dc);
    if (sms == 132)
        TU_CHECK(dc.ws_bytes > 0, "448 tiles on 132 SMs asked for no workspace");
    if (dc.ws_bytes > 0) {
        void *after = malloc(dc.c_bytes);
        assert_true(after != NULL);
        DEV_CHECK(hx_dev_upload(dc.c_dev, dc.c_init, dc.c_bytes, DEV_MSG));
        ug_status st = ug_plan_execute(dc.plan, dc.w, dc.a, dc.c_dev, NULL, (char *)dc.ws + 4,
                                       dc.ws_bytes);
        const char *msg = ug_context_last_error(ctx);
        TU_CHECK(st == UG_ERR_INVALID_VALUE && strstr(msg, "workspace") != NULL,
                 "a misaligned workspace gave %s: '%s'", ug_status_str(st), msg);
        DEV_CHECK(hx_dev_sync(DEV_MSG) && hx_dev_download(after, dc.c_dev, dc.c_bytes, DEV_MSG));
        TU_CHECK(memcmp(after, dc.c_init, dc.c_bytes) == 0, "a refused execute wrote C");
        free(after);
    }
    device_case_free(&dc);
    for (int longer = 1; longer >= 0; longer--) {
        const hx_case two_rounds = {.format = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_BF16},
                                    .m = 20,
                                    .n = 9000,
                                    .k = longer ? 8320 : 4096,
                                    .a_type = UG_BF16,
                                    .c_type = UG_BF16,
                                    .alpha = 1.0f,
                                    .schedule = "wg-n128-t16-s1"};
        device_case_make(ctx, &two_rounds, &r, &dc);
        if (sms == 132)
            TU_CHECK((dc.ws_bytes > 0) == longer,
                     "142 tiles over %d chunks asked for %zu workspace bytes", longer ? 130 : 64,
                     dc.ws_bytes);
        device_case_free(&dc);
    }
    ug_context_destroy(ctx);
}

/* A host array passed as A or as C is refused, naming the argument, and C
 * (in device memory) is left as it was. */
static void test_host_pointers_refused(void **state)
{
    (void)state;
    tu_require_cuda();
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_CUDA, 0);
    const hx_case c = {.format = {UG_U4, UG_METHOD_SCALE_BIAS, 64, UG_BF16},
                       .m = 5,
                       .n = 100,
                       .k = 256,
                       .a_type = UG_BF16,
                       .c_type = UG_F32,
                       .alpha = 1.0f,
                       .beta = 1.0f};
    device_case dc;
    device_case_make(ctx, &c, &r, &dc);
    void *host_a = malloc(dc.a_bytes), *host_c = malloc(dc.c_bytes), *after = malloc(dc.c_bytes);
    assert_true(host_a && host_c && after);
    hx_fill(host_a, c.a_type, dc.a_bytes / 2, 1.0, &r);
    memcpy(host_c, dc.c_init, dc.c_bytes);
    DEV_CHECK(hx_dev_upload(dc.c_dev, dc.c_init, dc.c_bytes, DEV_MSG));

    ug_status st = ug_plan_execute(dc.plan, dc.w, host_a, dc.c_dev, NULL, dc.ws, dc.ws_bytes);
    const char *msg = ug_context_last_error(ctx);
    TU_CHECK(st != UG_OK, "a host A was accepted");
    TU_CHECK(names_argument(msg, "a") && !names_argument(msg, "c"),
             "host A refused with %s, but the message does not name 'a' (alone): '%s'",
             ug_status_str(st), msg);
    DEV_CHECK(hx_dev_sync(DEV_MSG) && hx_dev_download(after, dc.c_dev, dc.c_bytes, DEV_MSG));
    TU_CHECK(memcmp(after, dc.c_init, dc.c_bytes) == 0, "a refused execute (host A) wrote C");

    st = ug_plan_execute(dc.plan, dc.w, dc.a, host_c, NULL, dc.ws, dc.ws_bytes);
    msg = ug_context_last_error(ctx);
    TU_CHECK(st != UG_OK, "a host C was accepted");
    TU_CHECK(names_argument(msg, "c") && !names_argument(msg, "a"),
             "host C refused with %s, but the message does not name 'c' (alone): '%s'",
             ug_status_str(st), msg);
    DEV_CHECK(hx_dev_sync(DEV_MSG));
    TU_CHECK(memcmp(host_c, dc.c_init, dc.c_bytes) == 0, "a refused execute wrote the host C");

    /* the context still works */
    device_case_run(ctx, &dc, after);
    TU_CHECK(memcmp(after, dc.c_init, dc.c_bytes) != 0, "execute after the refusals did nothing");
    free(host_a);
    free(host_c);
    free(after);
    device_case_free(&dc);
    ug_context_destroy(ctx);
}

/* names_argument itself, so that the check above means something; needs
 * no GPU. */
static void test_names_argument_rule(void **state)
{
    (void)state;
    assert_true(names_argument("ug_plan_execute: a is not device memory", "a"));
    assert_true(names_argument("execute: argument 'a' is a host pointer", "a"));
    assert_true(names_argument("a = 0x1000 is host memory", "a"));
    assert_false(names_argument("ug_plan_execute: c is a host pointer", "a"));
    assert_false(names_argument("data is bad", "a"));
}

static void test_invalid_device(void **state)
{
    (void)state;
    tu_require_cuda();
    int32_t count = ug_cuda_device_count(NULL, 0);
    assert_true(count > 0);
    const int32_t bad[2] = {count, -1};
    for (int i = 0; i < 2; i++) {
        ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
        opt.backend = UG_BACKEND_CUDA;
        opt.device = bad[i];
        ug_context *out = TU_NOT_NULL;
        char err[256] = "";
        ug_status st = ug_context_create(&opt, &out, err, sizeof err);
        TU_EXPECT_BUFFER(err, st, UG_ERR_INVALID_VALUE, "device");
        TU_CHECK(out == NULL, "device %d: a failed ug_context_create left *out set", (int)bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_cases),
        cmocka_unit_test(test_larger_layers),
        cmocka_unit_test(test_wg_schedules),
        cmocka_unit_test(test_wg_choice_and_refusals),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_graph_capture),
        cmocka_unit_test(test_unpack_every_format),
        cmocka_unit_test(test_embedding_matches_ref),
        cmocka_unit_test(test_f32_activations_refused),
        cmocka_unit_test(test_names_argument_rule),
        cmocka_unit_test(test_host_pointers_refused),
        cmocka_unit_test(test_stream_k_workspace),
        cmocka_unit_test(test_invalid_device),
    };
    return cmocka_run_group_tests_name("cuda", tests, NULL, NULL);
}
