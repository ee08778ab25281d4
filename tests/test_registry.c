/*
 * test_registry.c - the kernel registry against the whole space the API
 * accepts: every activation type x every weight format of hx_all_formats
 * (storage x method x group size x scale type) x every schedule of each
 * backend.
 *   - ug_kernel_supported, on every backend the build has, whether or not it
 *     runs here (a build without CUDA answers UG_ERR_BACKEND_UNAVAILABLE): in
 *     a build of the whole spec every combination has a kernel, except the
 *     ones refused by design (cuda takes float16/bfloat16 activations), whose
 *     refusal is UG_ERR_UNSUPPORTED naming the activation type; in a build
 *     restricted with UG_SPEC_RESTRICT each combination has a kernel or is
 *     refused naming the missing part and the restriction; formats the API
 *     refuses get the API's status; unknown schedules are refused.
 *   - plans on the cpu: every combination with every schedule this CPU runs
 *     is planned under that schedule and checked against the oracle
 *     (M = 3, N = 17, K = two groups); schedules above the CPU's instruction
 *     set are refused naming it.
 *   - plans on cuda (skipped without a GPU): every combination under every
 *     schedule, checked against the oracle (M = 5, N = 136, K = 256).
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
#if defined(__x86_64__)
#define X86_64 1
#else
#define X86_64 0
#endif

static const ug_dtype acts[3] = {UG_F32, UG_F16, UG_BF16};

static bool restricted(void)
{
    return ug_build_spec_restriction()[0] != '\0';
}

/* The part of (act, format) a refusal must name. */
static bool names_a_part(const char *why, ug_dtype act, const ug_weight_format *f)
{
    char group[32];
    snprintf(group, sizeof group, "group size %d", (int)f->group_size);
    return strstr(why, ug_dtype_name(act)) || strstr(why, ug_dtype_name(f->storage)) ||
           (f->method != UG_METHOD_NONE &&
            (strstr(why, ug_method_name(f->method)) || strstr(why, group) ||
             strstr(why, ug_dtype_name(f->scale_type))));
}

static void check_one(ug_backend b, const char *schedule, ug_dtype act, const ug_weight_format *f,
                      size_t *refused)
{
    char why[1024], fmt[96];
    hx_format_str(f, fmt, sizeof fmt);
    ug_status st = ug_kernel_supported(b, schedule, act, f, why, sizeof why);
    const bool by_design = b == UG_BACKEND_CUDA && act == UG_F32;
    if (st == UG_OK) {
        TU_CHECK(!by_design, "%s %s act %s: supported, but cuda takes no float32 activations",
                 ug_backend_name(b), fmt, ug_dtype_name(act));
        return;
    }
    (*refused)++;
    TU_CHECK(st == UG_ERR_UNSUPPORTED, "%s %s %s act %s: status %s (%s)", ug_backend_name(b),
             schedule ? schedule : "(any)", fmt, ug_dtype_name(act), ug_status_str(st), why);
    TU_CHECK(names_a_part(why, act, f), "%s %s act %s: the refusal names no part: %s",
             ug_backend_name(b), fmt, ug_dtype_name(act), why);
    if (by_design) {
        TU_CHECK(strstr(why, "float32") != NULL, "cuda float32 refusal: %s", why);
        return;
    }
    TU_CHECK(restricted(), "%s %s %s act %s: refused in a build of the whole spec: %s",
             ug_backend_name(b), schedule ? schedule : "(any)", fmt, ug_dtype_name(act), why);
    TU_CHECK(strstr(why, "UG_SPEC_RESTRICT") != NULL,
             "a refusal of a restricted build names the restriction: %s", why);
}

static void test_registry_covers_the_space(void **state)
{
    (void)state;
    ug_weight_format formats[MAX_FORMATS];
    size_t nf = hx_all_formats(formats, MAX_FORMATS);
    assert_true(nf >= 147);
    const ug_backend backends[2] = {UG_BACKEND_CPU, UG_BACKEND_CUDA};
    size_t checked = 0, refused = 0;
    const bool cuda_built = ug_schedule_count(UG_BACKEND_CUDA) > 0;
    if (!cuda_built) {
        /* a build without CUDA has no cuda kernels and says so (the generated
         * table's cuda rows are checked by test_heuristic) */
        char why[512];
        TU_EXPECT_BUFFER(why,
                         ug_kernel_supported(UG_BACKEND_CUDA, NULL, UG_BF16, &formats[0], why,
                                             sizeof why),
                         UG_ERR_BACKEND_UNAVAILABLE, "CUDA");
    }
    for (int bi = 0; bi < (cuda_built ? 2 : 1); bi++) {
        ug_backend b = backends[bi];
        int32_t count = ug_schedule_count(b);
        if (!restricted())
            TU_CHECK(count == (b == UG_BACKEND_CPU ? (X86_64 ? 6 : 2) : 58),
                     "backend %s offers %d schedules in a build of the whole spec",
                     ug_backend_name(b), (int)count);
        TU_CHECK(ug_schedule_name(b, count) == NULL, "a name past the end");
        for (int a = 0; a < 3; a++)
            for (size_t i = 0; i < nf; i++) {
                check_one(b, NULL, acts[a], &formats[i], &refused);
                checked++;
                for (int32_t s = 0; s < count; s++) {
                    const char *name = ug_schedule_name(b, s);
                    TU_CHECK(name != NULL, "schedule %d of %s", (int)s, ug_backend_name(b));
                    check_one(b, name, acts[a], &formats[i], &refused);
                    checked++;
                }
            }
    }
    /* cuda refuses float32 activations: 147 formats x (1 + 58) queries */
    if (!restricted() && cuda_built)
        TU_CHECK(refused == nf * 59, "%zu refusals of %zu queries (expected %zu)", refused,
                 checked, nf * 59);
    printf("%zu combinations queried, %zu refused\n", checked, refused);

    /* ref computes everything; its one schedule is "reference" */
    assert_int_equal(ug_schedule_count(UG_BACKEND_REF), 1);
    assert_string_equal(ug_schedule_name(UG_BACKEND_REF, 0), "reference");
    char why[512];
    assert_int_equal(ug_kernel_supported(UG_BACKEND_REF, NULL, UG_F32, &formats[0], why, sizeof why),
                     UG_OK);
}

static void test_registry_refusals(void **state)
{
    (void)state;
    char why[512];
    ug_weight_format f = {UG_U4, UG_METHOD_SCALE_ZERO, 48, UG_F16};
    TU_EXPECT_BUFFER(why, ug_kernel_supported(UG_BACKEND_CPU, NULL, UG_F32, &f, why, sizeof why),
                     UG_ERR_INVALID_GROUP_SIZE, "48");
    f.group_size = 128;
    TU_EXPECT_BUFFER(why,
                     ug_kernel_supported(UG_BACKEND_CPU, "avx9-decode", UG_BF16, &f, why,
                                         sizeof why),
                     UG_ERR_UNSUPPORTED, "avx9-decode");
    TU_EXPECT_BUFFER(why, ug_kernel_supported(UG_BACKEND_CUDA, NULL, UG_U4, &f, why, sizeof why),
                     UG_ERR_INVALID_ENUM, "a_type");
    TU_EXPECT_BUFFER(why, ug_kernel_supported(UG_BACKEND_AUTO, NULL, UG_F32, &f, why, sizeof why),
                     UG_ERR_INVALID_ENUM, "backend");
    assert_int_equal(ug_kernel_supported(UG_BACKEND_CPU, NULL, UG_F32, NULL, why, sizeof why),
                     UG_ERR_NULL_ARGUMENT);
    if (ug_schedule_count(UG_BACKEND_CUDA) > 0) {
        TU_EXPECT_BUFFER(why,
                         ug_kernel_supported(UG_BACKEND_CUDA, "wg-n512-t64-s1", UG_BF16, &f, why,
                                             sizeof why),
                         UG_ERR_UNSUPPORTED, "wg-n512-t64-s1");
        TU_EXPECT_BUFFER(why,
                         ug_kernel_supported(UG_BACKEND_CUDA, "mma-t16-w2-c1", UG_F32, &f, why,
                                             sizeof why),
                         UG_ERR_UNSUPPORTED, "float32");
    }
}

/* The cases of one backend: every act x format under schedule `schedule`. */
static size_t make_cases(hx_case *cases, const ug_weight_format *formats, size_t nf,
                         const char *schedule, ug_backend b, int64_t m, int64_t n, int64_t k_fixed)
{
    size_t count = 0;
    for (int a = 0; a < 3; a++)
        for (size_t i = 0; i < nf; i++) {
            /* what the registry refuses (float32 on cuda; in a restricted
             * build, the parts left out) was checked above */
            char why[512];
            if (ug_kernel_supported(b, schedule, acts[a], &formats[i], why, sizeof why) != UG_OK)
                continue;
            int64_t g = formats[i].group_size > 0 ? formats[i].group_size : 32;
            hx_case c = {.format = formats[i],
                         .m = m,
                         .n = n,
                         .k = k_fixed ? k_fixed : 2 * g,
                         .a_type = acts[a],
                         .c_type = acts[(a + 1) % 3],
                         .alpha = 1.0f,
                         .schedule = schedule};
            cases[count++] = c;
        }
    return count;
}

static void test_cpu_runs_every_combination(void **state)
{
    (void)state;
    ug_context *ctx = tu_context(UG_BACKEND_CPU, 2);
    ug_context *oracle = tu_context(UG_BACKEND_REF, 2);
    hx_rng r = tu_rng(__func__);
    ug_weight_format formats[MAX_FORMATS];
    size_t nf = hx_all_formats(formats, MAX_FORMATS);
    hx_case *cases = malloc(3 * nf * sizeof *cases);
    assert_non_null(cases);
    static const char *const isas[3] = {"portable", "avx2", "avx512"};
    int mine = 0;
    for (int i = 0; i < 3; i++)
        if (strcmp(ug_context_cpu_isa(ctx), isas[i]) == 0)
            mine = i;
    for (int32_t s = 0; s < ug_schedule_count(UG_BACKEND_CPU); s++) {
        const char *name = ug_schedule_name(UG_BACKEND_CPU, s);
        int needs = 0;
        for (int i = 0; i < 3; i++)
            if (strncmp(name, isas[i], strlen(isas[i])) == 0 && name[strlen(isas[i])] == '-')
                needs = i;
        if (needs > mine) {
            /* above this CPU: refused, naming the instruction set */
            ug_packed_weights *w = NULL;
            hx_weights hw;
            assert_int_equal(hx_weights_make(ctx, &formats[0], 16, 128, &r, &hw), UG_OK);
            ug_weight_source src = hw.src;
            assert_int_equal(ug_weights_pack(ctx, &src, &w), UG_OK);
            ug_gemm_desc d = UG_GEMM_DESC_INIT;
            d.m = 1, d.n = 16, d.k = 128;
            ug_plan_options opt = UG_PLAN_OPTIONS_INIT;
            opt.schedule = name;
            ug_plan *plan = TU_NOT_NULL;
            TU_EXPECT_ERROR(ctx, ug_plan_create(ctx, &d, w, &opt, &plan), UG_ERR_UNSUPPORTED,
                            isas[needs], name);
            assert_null(plan);
            ug_weights_destroy(w);
            hx_weights_free(&hw);
            continue;
        }
        size_t count = make_cases(cases, formats, nf, name, UG_BACKEND_CPU, 3, 17, 0);
        char what[96];
        snprintf(what, sizeof what, "every combination under %s", name);
        tu_check_cases(ctx, oracle, cases, count, &r, what);
    }
    free(cases);
    ug_context_destroy(oracle);
    ug_context_destroy(ctx);
}

static void test_cuda_runs_every_combination(void **state)
{
    (void)state;
    tu_require_cuda();
    ug_context *ctx = tu_context(UG_BACKEND_CUDA, 0);
    ug_context *oracle = tu_context(UG_BACKEND_REF, 0);
    hx_rng r = tu_rng(__func__);
    ug_weight_format formats[MAX_FORMATS];
    size_t nf = hx_all_formats(formats, MAX_FORMATS);
    hx_case *cases = malloc(3 * nf * sizeof *cases);
    assert_non_null(cases);
    int32_t count = ug_schedule_count(UG_BACKEND_CUDA);
    /* UG_TEST_QUICK: every fifth schedule (for compute-sanitizer runs) */
    for (int32_t s = 0; s < count; s += tu_quick() ? 5 : 1) {
        const char *name = ug_schedule_name(UG_BACKEND_CUDA, s);
        size_t n_cases = make_cases(cases, formats, nf, name, UG_BACKEND_CUDA, 5, 136, 256);
        char what[96];
        snprintf(what, sizeof what, "every combination under %s", name);
        tu_check_cases(ctx, oracle, cases, n_cases, &r, what);
    }
    free(cases);
    ug_context_destroy(oracle);
    ug_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_covers_the_space),
        cmocka_unit_test(test_registry_refusals),
        cmocka_unit_test(test_cpu_runs_every_combination),
        cmocka_unit_test(test_cuda_runs_every_combination),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
