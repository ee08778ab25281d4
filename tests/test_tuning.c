/*
 * test_tuning.c - tuning tables on the cpu backend (docs/tuning.md):
 *   - a table made for this context (its device id, this library's version)
 *     steers plans of exactly its shapes and formats to its schedule, and
 *     results stay right; other shapes keep the heuristic's choice; a forced
 *     schedule still wins; loading NULL unloads;
 *   - tables made for another device, backend or library version, naming a
 *     schedule this build lacks or one with no kernel for the entry, or
 *     malformed in any field, are refused with a message naming what is
 *     wrong, and the table loaded before stays in force;
 *   - UG_TUNING_FILE: a good file is loaded when a context of its backend is
 *     created (contexts of other backends ignore it), a bad one makes
 *     ug_context_create fail, saying so.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

/* The M = 3 uint4 g64 layer the tests plan: N = 40, K = 128. */
static const ug_weight_format fmt = {UG_U4, UG_METHOD_SCALE_ZERO, 64, UG_F16};

/* A table's text with one entry; fields a test wants to spoil are parameters. */
static void table(char *buf, size_t size, const char *version, const char *backend,
                  const char *device, const char *entry_extra, const char *schedule)
{
    snprintf(buf, size,
             "{\"unigemm_tuning\": 1, \"library_version\": \"%s\", \"backend\": \"%s\", "
             "\"device\": \"%s\", \"entries\": [{\"m\": 3, \"n\": 40, \"k\": 128, "
             "\"a_type\": \"float32\", \"storage\": \"uint4\", \"method\": \"scale_zero\", "
             "\"group_size\": 64, \"scale_type\": \"float16\", \"schedule\": \"%s\"%s}]}",
             version, backend, device, schedule, entry_extra);
}

/* The schedule a plan of M = m on this layer gets (options: none). */
static const char *planned(ug_context *ctx, ug_packed_weights *w, int64_t m, char *buf,
                           size_t size)
{
    ug_gemm_desc d = UG_GEMM_DESC_INIT;
    d.m = m, d.n = 40, d.k = 128;
    ug_plan *plan = NULL;
    ug_status st = ug_plan_create(ctx, &d, w, NULL, &plan);
    TU_CHECK(st == UG_OK, "plan: %s", ug_context_last_error(ctx));
    snprintf(buf, size, "%s", ug_plan_schedule(plan));
    ug_plan_destroy(plan);
    return buf;
}

/* portable-prefill: a schedule every CPU runs that the heuristic never picks at M = 3 */
#define TUNED "portable-prefill-4x16"

static void test_table_steers_plans(void **state)
{
    (void)state;
    ug_context *ctx = tu_context(UG_BACKEND_CPU, 2);
    hx_rng r = tu_rng(__func__);
    hx_weights hw;
    assert_int_equal(hx_weights_make(ctx, &fmt, 40, 128, &r, &hw), UG_OK);
    ug_packed_weights *w = NULL;
    assert_int_equal(ug_weights_pack(ctx, &hw.src, &w), UG_OK);
    char text[2048], got[64], before[64];
    planned(ctx, w, 3, before, sizeof before);
    TU_CHECK(strcmp(before, TUNED) != 0, "the heuristic already picks %s", TUNED);

    table(text, sizeof text, ug_version(), "cpu", ug_context_device_id(ctx), "", TUNED);
    assert_int_equal(ug_context_load_tuning_memory(ctx, text, strlen(text)), UG_OK);
    assert_string_equal(planned(ctx, w, 3, got, sizeof got), TUNED);
    /* another M keeps the heuristic */
    TU_CHECK(strcmp(planned(ctx, w, 4, got, sizeof got), TUNED) != 0, "M = 4 got %s", got);

    /* results under the tuned plan match the oracle */
    ug_context *oracle = tu_context(UG_BACKEND_REF, 1);
    hx_case c = {.format = fmt, .m = 3, .n = 40, .k = 128, .a_type = UG_F32, .c_type = UG_F32,
                 .alpha = 1.0f};
    tu_check_cases(ctx, oracle, &c, 1, &r, "a tuned plan");
    ug_context_destroy(oracle);

    /* a forced schedule wins over the table */
    ug_gemm_desc d = UG_GEMM_DESC_INIT;
    d.m = 3, d.n = 40, d.k = 128;
    ug_plan_options opt = UG_PLAN_OPTIONS_INIT;
    opt.schedule = "portable-decode";
    ug_plan *plan = NULL;
    assert_int_equal(ug_plan_create(ctx, &d, w, &opt, &plan), UG_OK);
    assert_string_equal(ug_plan_schedule(plan), "portable-decode");
    ug_plan_destroy(plan);

    /* refused tables leave the loaded one in force */
    table(text, sizeof text, ug_version(), "cpu", "cpu Imaginary 9000 (avx2)", "", TUNED);
    TU_EXPECT_ERROR(ctx, ug_context_load_tuning_memory(ctx, text, strlen(text)),
                    UG_ERR_MISMATCH, "Imaginary 9000", ug_context_device_id(ctx));
    assert_string_equal(planned(ctx, w, 3, got, sizeof got), TUNED);

    assert_int_equal(ug_context_load_tuning(ctx, NULL), UG_OK);
    assert_string_equal(planned(ctx, w, 3, got, sizeof got), before);
    ug_weights_destroy(w);
    hx_weights_free(&hw);
    ug_context_destroy(ctx);
}

static void test_bad_tables_refused(void **state)
{
    (void)state;
    ug_context *ctx = tu_context(UG_BACKEND_CPU, 1);
    const char *dev = ug_context_device_id(ctx);
    const char *v = ug_version();
    char text[2048];
#define REFUSED(status, ...)                                                                  \
    TU_EXPECT_ERROR(ctx, ug_context_load_tuning_memory(ctx, text, strlen(text)), status,      \
                    __VA_ARGS__)
    table(text, sizeof text, "0.0.1", "cpu", dev, "", TUNED);
    REFUSED(UG_ERR_MISMATCH, "unigemm 0.0.1", v);
    table(text, sizeof text, v, "cuda", dev, "", TUNED);
    REFUSED(UG_ERR_MISMATCH, "backend cuda");
    table(text, sizeof text, v, "cpu", dev, "", "avx9-decode");
    REFUSED(UG_ERR_MISMATCH, "entries[0]", "avx9-decode");
    table(text, sizeof text, v, "cpu", dev, "", "wg-n128-t64-s1");
    REFUSED(UG_ERR_MISMATCH, "wg-n128-t64-s1");
    if (strcmp(ug_context_cpu_isa(ctx), "avx512") != 0) {
        table(text, sizeof text, v, "cpu", dev, "", "avx512-decode");
        REFUSED(UG_ERR_MISMATCH, "avx512-decode", "needs avx512");
    }
    table(text, sizeof text, v, "cpu", dev, ", \"m\": 4", TUNED);
    REFUSED(UG_ERR_FILE_FORMAT, "not JSON");
    snprintf(text, sizeof text, "[1, 2]");
    REFUSED(UG_ERR_FILE_FORMAT, "not a unigemm tuning table");
    snprintf(text, sizeof text, "{\"unigemm_tuning\": 1, \"backend\": \"cpu\"}");
    REFUSED(UG_ERR_FILE_FORMAT, "library_version");
    snprintf(text, sizeof text, "{\"unigemm_tuning\": 1, \"library_version\": \"%s\", "
             "\"backend\": \"cpu\", \"device\": \"%s\", \"entries\": [{\"m\": 3}]}", v, dev);
    REFUSED(UG_ERR_FILE_FORMAT, "entries[0].n");
    /* a format the API refuses: group 48 */
    snprintf(text, sizeof text, "{\"unigemm_tuning\": 1, \"library_version\": \"%s\", "
             "\"backend\": \"cpu\", \"device\": \"%s\", \"entries\": [{\"m\": 3, \"n\": 40, "
             "\"k\": 96, \"a_type\": \"float32\", \"storage\": \"uint4\", \"method\": "
             "\"scale_zero\", \"group_size\": 48, \"scale_type\": \"float16\", \"schedule\": "
             "\"%s\"}]}", v, dev, TUNED);
    REFUSED(UG_ERR_FILE_FORMAT, "entries[0]", "48");
    snprintf(text, sizeof text, "{\"unigemm_tuning\": 1, \"library_version\": \"%s\", "
             "\"backend\": \"cpu\", \"device\": \"%s\", \"entries\": [{\"m\": 3, \"n\": 40, "
             "\"k\": 128, \"a_type\": \"float64\", \"storage\": \"uint4\", \"method\": "
             "\"scale_zero\", \"group_size\": 64, \"scale_type\": \"float16\", \"schedule\": "
             "\"%s\"}]}", v, dev, TUNED);
    REFUSED(UG_ERR_FILE_FORMAT, "float64");
    TU_EXPECT_ERROR(ctx, ug_context_load_tuning(ctx, "/nonexistent/table.json"), UG_ERR_FILE_IO,
                    "/nonexistent/table.json");
    assert_int_equal(ug_context_load_tuning_memory(ctx, NULL, 0), UG_ERR_NULL_ARGUMENT);
    assert_int_equal(ug_context_load_tuning(NULL, NULL), UG_ERR_NULL_ARGUMENT);
#undef REFUSED
    ug_context_destroy(ctx);
}

static void test_environment_variable(void **state)
{
    (void)state;
    ug_context *probe = tu_context(UG_BACKEND_CPU, 1);
    char text[2048], path[] = "/tmp/ug_test_tuning_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    table(text, sizeof text, ug_version(), "cpu", ug_context_device_id(probe), "", TUNED);
    fputs(text, f);
    fclose(f);

    setenv("UG_TUNING_FILE", path, 1);
    ug_context *ctx = tu_context(UG_BACKEND_CPU, 1);
    hx_rng r = tu_rng(__func__);
    hx_weights hw;
    assert_int_equal(hx_weights_make(ctx, &fmt, 40, 128, &r, &hw), UG_OK);
    ug_packed_weights *w = NULL;
    assert_int_equal(ug_weights_pack(ctx, &hw.src, &w), UG_OK);
    char got[64];
    assert_string_equal(planned(ctx, w, 3, got, sizeof got), TUNED);
    ug_weights_destroy(w);
    hx_weights_free(&hw);
    ug_context_destroy(ctx);
    /* the cpu table does not concern contexts of other backends */
    ug_context *ref = tu_context(UG_BACKEND_REF, 1);
    ug_context_destroy(ref);

    /* a table for another device makes context creation fail, saying why */
    f = fopen(path, "w");
    table(text, sizeof text, ug_version(), "cpu", "cpu Imaginary 9000 (avx2)", "", TUNED);
    fputs(text, f);
    fclose(f);
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = UG_BACKEND_CPU;
    char err[1024];
    ctx = TU_NOT_NULL;
    TU_EXPECT_BUFFER(err, ug_context_create(&opt, &ctx, err, sizeof err), UG_ERR_MISMATCH,
                     "UG_TUNING_FILE", "Imaginary 9000");
    assert_null(ctx);
    unsetenv("UG_TUNING_FILE");
    remove(path);
    ug_context_destroy(probe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_steers_plans),
        cmocka_unit_test(test_bad_tables_refused),
        cmocka_unit_test(test_environment_variable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
