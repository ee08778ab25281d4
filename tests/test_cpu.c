/*
 * test_cpu.c - the cpu backend's kernels, on every instruction set this
 * machine runs (UG_CPU_ISA forces the lower ones: portable everywhere, avx2
 * and avx512 where CPUID reports them):
 *   - random cases against the oracle through hx_check_case, for both kernel
 *     families forced by schedule (decode and prefill), every format of
 *     hx_all_formats: M in {1, 2, 3, 5, 13, 17}, N in {1, 15, 17, 33, 70},
 *     K one group (per-channel: the row), two groups, and a K that crosses
 *     the prefill's k blocks (640 or 1000), odd K for 8-bit per-channel and
 *     full precision, every a_type x c_type, padded lda/ldc, bias, alpha,
 *     beta (C poisoned with NaN when beta == 0, row padding checked);
 *   - a prefill case large enough to cross column chunks and row blocks;
 *   - results bit-identical for 1, 2 and 3 threads, for both families;
 *   - UG_CPU_ISA: the name the context reports, an unknown name refused
 *     (UG_ERR_UNKNOWN_NAME), an instruction set the CPU lacks refused
 *     (UG_ERR_UNSUPPORTED); forced schedules that are unknown or above the
 *     context's instruction set are refused with a message listing offers.
 * Inputs are random per run (UG_TEST_SEED replays one).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define MAX_FORMATS 256

static const ug_dtype float_types[3] = {UG_F32, UG_F16, UG_BF16};
static const char *const isa_names[3] = {"portable", "avx2", "avx512"};
static const char *const prefill_names[3] = {"portable-prefill-4x16", "avx2-prefill-6x16",
                                             "avx512-prefill-12x32"};

/* A cpu context with `threads` threads on instruction set `isa` (forced
 * through UG_CPU_ISA), or NULL when this CPU does not run it. */
static ug_context *isa_context(int isa, int32_t threads)
{
    setenv("UG_CPU_ISA", isa_names[isa], 1);
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = UG_BACKEND_CPU;
    opt.num_threads = threads;
    ug_context *ctx = NULL;
    char err[256];
    ug_status st = ug_context_create(&opt, &ctx, err, sizeof err);
    unsetenv("UG_CPU_ISA");
    if (st == UG_ERR_UNSUPPORTED)
        return NULL;
    TU_CHECK(st == UG_OK, "cpu context on %s: %s", isa_names[isa], err);
    TU_CHECK(strcmp(ug_context_cpu_isa(ctx), isa_names[isa]) == 0,
             "UG_CPU_ISA = %s gave a context on %s", isa_names[isa], ug_context_cpu_isa(ctx));
    return ctx;
}

/* K of kind 0 (one group), 1 (two groups), 2 (crossing the prefill's k
 * blocks of 256). Per-channel and full precision take any K (even for
 * 4-bit), so they get odd ones where allowed. */
static int64_t pick_k(const ug_weight_format *f, int kind, hx_rng *r)
{
    bool any_k = f->group_size == UG_GROUP_PER_CHANNEL || f->method == UG_METHOD_NONE;
    bool even = f->storage == UG_U4 || f->storage == UG_I4;
    if (any_k) {
        static const int64_t ks[3][3] = {{1, 7, 32}, {96, 130, 255}, {640, 999, 1000}};
        int64_t k = ks[kind][hx_rng_next(r) % 3];
        return even && k % 2 ? k + 1 : k;
    }
    if (kind == 0)
        return f->group_size;
    if (kind == 1)
        return 2 * f->group_size;
    return 640 / f->group_size * f->group_size;
}

static hx_case random_case(const ug_weight_format *f, int kind, hx_rng *r)
{
    static const int64_t ms[] = {1, 2, 3, 5, 13, 17};
    static const int64_t ns[] = {1, 15, 17, 33, 70};
    hx_case c = {.format = *f};
    c.m = ms[hx_rng_next(r) % 6];
    c.n = ns[hx_rng_next(r) % 5];
    c.k = pick_k(f, kind, r);
    c.a_type = float_types[hx_rng_next(r) % 3];
    c.c_type = float_types[hx_rng_next(r) % 3];
    c.lda = hx_rng_uniform(r) < 0.3 ? c.k + 1 + (int64_t)(hx_rng_next(r) % 5) : 0;
    c.ldc = hx_rng_uniform(r) < 0.3 ? c.n + 1 + (int64_t)(hx_rng_next(r) % 5) : 0;
    c.has_bias = hx_rng_uniform(r) < 0.5;
    c.bias_type = float_types[hx_rng_next(r) % 3];
    c.alpha = hx_rng_uniform(r) < 0.5 ? 1.0f : -0.75f;
    c.beta = hx_rng_uniform(r) < 0.5 ? 0.0f : 0.5f;
    return c;
}

static void test_every_isa_and_family(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *oracle = tu_context(UG_BACKEND_REF, 0);
    ug_weight_format formats[MAX_FORMATS];
    size_t nf = hx_all_formats(formats, MAX_FORMATS);
    hx_case *cases = malloc(nf * 3 * sizeof *cases);
    assert_non_null(cases);
    int isas_run = 0;
    for (int isa = 0; isa < 3; isa++) {
        ug_context *ctx = isa_context(isa, 2);
        if (ctx == NULL) {
            print_message("cpu: this CPU does not run %s; its kernels are not tested here\n",
                          isa_names[isa]);
            continue;
        }
        isas_run++;
        for (int family = 0; family < 2; family++) {
            char decode_name[32];
            snprintf(decode_name, sizeof decode_name, "%s-decode", isa_names[isa]);
            size_t count = 0;
            for (size_t i = 0; i < nf; i++)
                for (int kind = 0; kind < 3; kind++) {
                    hx_case c = random_case(&formats[i], kind, &r);
                    c.schedule = family ? prefill_names[isa] : decode_name;
                    cases[count++] = c;
                }
            char what[64];
            snprintf(what, sizeof what, "%s, %s", isa_names[isa], family ? "prefill" : "decode");
            tu_check_cases(ctx, oracle, cases, count, &r, what);
        }
        ug_context_destroy(ctx);
    }
    TU_CHECK(isas_run >= 1, "not even the portable kernels ran");
    free(cases);
    ug_context_destroy(oracle);
}

/* Crossing column chunks (64), k blocks (256) and, on the default choice,
 * both families, with the machine's best instruction set. */
static void test_larger_layers(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_CPU, 0), *oracle = tu_context(UG_BACKEND_REF, 0);
    const hx_case cases[] = {
        {.format = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_F16}, .m = 37, .n = 200, .k = 768,
         .a_type = UG_F32, .c_type = UG_F32, .alpha = 1.0f},
        {.format = {UG_I8, UG_METHOD_SYMMETRIC, 32, UG_BF16}, .m = 70, .n = 131, .k = 544,
         .a_type = UG_BF16, .c_type = UG_BF16, .has_bias = 1, .bias_type = UG_F32,
         .alpha = 1.0f, .beta = 0.5f},
        {.format = {UG_F16, UG_METHOD_NONE, 0, UG_DTYPE_NONE}, .m = 9, .n = 97, .k = 1031,
         .a_type = UG_F16, .c_type = UG_F32, .alpha = 2.0f},
        {.format = {UG_U4, UG_METHOD_SCALE_BIAS, 64, UG_F32}, .m = 4, .n = 300, .k = 512,
         .a_type = UG_F32, .c_type = UG_F16, .alpha = 1.0f},
    };
    tu_check_cases(ctx, oracle, cases, sizeof cases / sizeof cases[0], &r, "larger layers");
    ug_context_destroy(ctx);
    ug_context_destroy(oracle);
}

/* C of one case computed with `threads` threads and schedule `schedule`. */
static void run_with_threads(const hx_weights *hw, const ug_gemm_desc *d, const void *a,
                             int32_t threads, const char *schedule, float *c)
{
    ug_context *ctx = tu_context(UG_BACKEND_CPU, threads);
    ug_packed_weights *w = NULL;
    ug_plan *plan = NULL;
    ug_plan_options opt = UG_PLAN_OPTIONS_INIT;
    opt.schedule = schedule;
    TU_CHECK(ug_weights_pack(ctx, &hw->src, &w) == UG_OK, "pack: %s", ug_context_last_error(ctx));
    TU_CHECK(ug_plan_create(ctx, d, w, &opt, &plan) == UG_OK, "plan %s: %s", schedule,
             ug_context_last_error(ctx));
    TU_CHECK(ug_plan_execute(plan, w, a, c, NULL, NULL, 0) == UG_OK, "execute: %s",
             ug_context_last_error(ctx));
    ug_plan_destroy(plan);
    ug_weights_destroy(w);
    ug_context_destroy(ctx);
}

static void test_thread_count_does_not_change_results(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_CPU, 0);
    const char *isa = ug_context_cpu_isa(ctx);
    char decode_name[32];
    snprintf(decode_name, sizeof decode_name, "%s-decode", isa);
    const char *prefill = prefill_names[strcmp(isa, "avx512") == 0 ? 2
                                        : strcmp(isa, "avx2") == 0 ? 1
                                                                   : 0];
    const char *names[2] = {decode_name, prefill};
    const ug_weight_format f = {UG_U4, UG_METHOD_SCALE_BIAS, 32, UG_BF16};
    const int64_t m = 11, n = 333, k = 1024;
    hx_weights hw;
    TU_CHECK(hx_weights_make(ctx, &f, n, k, &r, &hw) == UG_OK, "weights");
    float *a = malloc((size_t)(m * k) * sizeof(float));
    float *c[3];
    for (int i = 0; i < 3; i++)
        c[i] = malloc((size_t)(m * n) * sizeof(float));
    assert_true(a && c[0] && c[1] && c[2]);
    hx_fill(a, UG_F32, (size_t)(m * k), 1.0, &r);
    ug_gemm_desc d = UG_GEMM_DESC_INIT;
    d.m = m;
    d.n = n;
    d.k = k;
    for (int s = 0; s < 2; s++) {
        for (int t = 0; t < 3; t++)
            run_with_threads(&hw, &d, a, t + 1, names[s], c[t]);
        for (int t = 1; t < 3; t++)
            TU_CHECK(memcmp(c[0], c[t], (size_t)(m * n) * sizeof(float)) == 0,
                     "%s: %d threads gave other bits than 1 thread", names[s], t + 1);
    }
    for (int i = 0; i < 3; i++)
        free(c[i]);
    free(a);
    hx_weights_free(&hw);
    ug_context_destroy(ctx);
}

static void test_isa_selection_and_refusals(void **state)
{
    (void)state;
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = UG_BACKEND_CPU;
    ug_context *ctx = TU_NOT_NULL;
    char err[256] = "";
    setenv("UG_CPU_ISA", "sse9", 1);
    ug_status st = ug_context_create(&opt, &ctx, err, sizeof err);
    unsetenv("UG_CPU_ISA");
    TU_EXPECT_BUFFER(err, st, UG_ERR_UNKNOWN_NAME, "UG_CPU_ISA", "sse9");
    TU_CHECK(ctx == NULL, "a failed ug_context_create left *out set");

    ctx = tu_context(UG_BACKEND_CPU, 1);
    const char *best = ug_context_cpu_isa(ctx);
    TU_CHECK(strcmp(best, "portable") == 0 || strcmp(best, "avx2") == 0 ||
                 strcmp(best, "avx512") == 0,
             "ug_context_cpu_isa gave '%s'", best);
    ug_context *ref = tu_context(UG_BACKEND_REF, 1);
    TU_CHECK(strcmp(ug_context_cpu_isa(ref), "") == 0, "a ref context reports an isa");
    ug_context_destroy(ref);

    /* a schedule nobody offers, and one above this context's isa */
    const ug_weight_format f = {UG_U8, UG_METHOD_SCALE_ZERO, 32, UG_F16};
    hx_rng r = tu_rng(__func__);
    hx_weights hw;
    TU_CHECK(hx_weights_make(ctx, &f, 16, 64, &r, &hw) == UG_OK, "weights");
    ug_packed_weights *w = NULL;
    TU_CHECK(ug_weights_pack(ctx, &hw.src, &w) == UG_OK, "pack");
    ug_gemm_desc d = UG_GEMM_DESC_INIT;
    d.m = 2;
    d.n = 16;
    d.k = 64;
    ug_plan_options popt = UG_PLAN_OPTIONS_INIT;
    ug_plan *plan = TU_NOT_NULL;
    popt.schedule = "avx3-warp";
    TU_EXPECT_ERROR(ctx, ug_plan_create(ctx, &d, w, &popt, &plan), UG_ERR_UNSUPPORTED,
                    "avx3-warp", "portable-decode");
    if (strcmp(best, "avx512") != 0) {
        popt.schedule = "avx512-decode";
        TU_EXPECT_ERROR(ctx, ug_plan_create(ctx, &d, w, &popt, &plan), UG_ERR_UNSUPPORTED,
                        "needs avx512", best);
        opt.backend = UG_BACKEND_CPU;
        setenv("UG_CPU_ISA", "avx512", 1);
        ug_context *hi = TU_NOT_NULL;
        st = ug_context_create(&opt, &hi, err, sizeof err);
        unsetenv("UG_CPU_ISA");
        TU_EXPECT_BUFFER(err, st, UG_ERR_UNSUPPORTED, "UG_CPU_ISA", "avx512", best);
        TU_CHECK(hi == NULL, "a failed ug_context_create left *out set");
    }
    ug_weights_destroy(w);
    hx_weights_free(&hw);
    ug_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_isa_and_family),
        cmocka_unit_test(test_larger_layers),
        cmocka_unit_test(test_thread_count_does_not_change_results),
        cmocka_unit_test(test_isa_selection_and_refusals),
    };
    return cmocka_run_group_tests_name("cpu", tests, NULL, NULL);
}
