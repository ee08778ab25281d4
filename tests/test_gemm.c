/*
 * test_gemm.c - every backend that can be created here (ref, cpu; cuda when
 * its context comes up) against the oracle through hx_check_case, over every
 * format of hx_all_formats x M {1, 3, 17} x N {17, 33} x K {one group (64
 * per channel and for full precision), 96 where the group allows, 256} x
 * a_type x c_type (f32, f16, bf16 each): about 20000 cases per backend.
 * Bias (f32/f16/bf16) or none, alpha 1 or not, beta 0 (C poisoned with NaN)
 * or not, and padded lda/ldc are drawn at random per case. One case in 16
 * runs on two threads, the rest on one.
 * Also: M = 0 leaves C untouched, and the harness' tolerance rule rejects a
 * result with one wrong element (so that the tolerances are not vacuous).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define MAX_FORMATS 256

static const ug_dtype float_types[3] = {UG_F32, UG_F16, UG_BF16};

/* The K of the table for a format: one group (64 per channel and for full
 * precision), 96 where the group divides it, 256. Returns the count. */
static size_t k_values(const ug_weight_format *f, int64_t out[3])
{
    size_t count = 0;
    int32_t g = f->method == UG_METHOD_NONE ? 0 : f->group_size;
    out[count++] = g > 0 ? g : 64;
    if (g <= 32)
        out[count++] = 96;
    out[count++] = 256;
    return count;
}

static void describe(const hx_case *c, ug_backend backend, char *buf, size_t size)
{
    char fmt[96];
    hx_format_str(&c->format, fmt, sizeof fmt);
    snprintf(buf, size,
             "%s on %s: M=%lld N=%lld K=%lld a=%s c=%s lda=%lld ldc=%lld bias=%d (%s) "
             "alpha=%g beta=%g",
             fmt, ug_backend_name(backend), (long long)c->m, (long long)c->n, (long long)c->k,
             ug_dtype_name(c->a_type), ug_dtype_name(c->c_type), (long long)c->lda,
             (long long)c->ldc, c->has_bias, ug_dtype_name(c->bias_type), (double)c->alpha,
             (double)c->beta);
}

static void run_table(ug_backend backend)
{
    hx_rng r = tu_rng(ug_backend_name(backend));
    /* One thread for most cases (OpenMP barriers crawl on a loaded machine
     * with as many threads as cores), two threads for one case in 16. */
    ug_context *ctx1 = tu_context(backend, 1), *ctx2 = tu_context(backend, 2);
    ug_context *oracle = tu_context(UG_BACKEND_REF, 1);
    ug_weight_format formats[MAX_FORMATS];
    size_t count = hx_all_formats(formats, MAX_FORMATS);
    assert_int_equal(count, 147);
    static const int64_t ms[3] = {1, 3, 17}, ns[2] = {17, 33};
    static const float alphas[3] = {0.75f, -1.5f, 2.0f};
    static const float betas[2] = {0.5f, -1.25f};
    size_t cases = 0;
    for (size_t fi = 0; fi < count; fi++) {
        int64_t ks[3];
        size_t nk = k_values(&formats[fi], ks);
        for (size_t mi = 0; mi < 3; mi++)
            for (size_t ni = 0; ni < 2; ni++)
                for (size_t ki = 0; ki < nk; ki++)
                    for (size_t ti = 0; ti < 9; ti++, cases++) {
                        hx_case c = {
                            .format = formats[fi],
                            .m = ms[mi],
                            .n = ns[ni],
                            .k = ks[ki],
                            .a_type = float_types[ti % 3],
                            .c_type = float_types[ti / 3],
                        };
                        c.lda = hx_rng_uniform(&r) < 0.5 ? c.k + 1 + (int64_t)(hx_rng_next(&r) % 7)
                                                         : 0;
                        c.ldc = hx_rng_uniform(&r) < 0.5 ? c.n + 1 + (int64_t)(hx_rng_next(&r) % 5)
                                                         : 0;
                        c.has_bias = hx_rng_uniform(&r) < 0.5;
                        c.bias_type = float_types[hx_rng_next(&r) % 3];
                        c.alpha = hx_rng_uniform(&r) < 0.25 ? 1.0f : alphas[hx_rng_next(&r) % 3];
                        c.beta = hx_rng_uniform(&r) < 0.4 ? 0.0f : betas[hx_rng_next(&r) % 2];
                        hx_result res = hx_check_case(cases % 16 ? ctx1 : ctx2, oracle, &c, &r);
                        if (!res.pass) {
                            char what[256];
                            describe(&c, backend, what, sizeof what);
                            TU_CHECK(res.pass, "%s: %s", what, res.message);
                        }
                    }
    }
    assert_true(cases > 19000);
    ug_context_destroy(ctx1);
    ug_context_destroy(ctx2);
    ug_context_destroy(oracle);
}

static void test_table_ref(void **state)
{
    (void)state;
    run_table(UG_BACKEND_REF);
}

static void test_table_cpu(void **state)
{
    (void)state;
    run_table(UG_BACKEND_CPU);
}

static void test_table_cuda(void **state)
{
    (void)state;
    tu_require_cuda();
    run_table(UG_BACKEND_CUDA);
}

/* M = 0 is a valid empty call: OK, and C (and its padding) untouched. */
static void test_m_zero_is_a_no_op(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_backend backends[UG_BACKEND_COUNT_];
    size_t nb = tu_available_backends(backends);
    static const ug_weight_format formats[] = {
        {UG_U4, UG_METHOD_SCALE_BIAS, 32, UG_F16},
        {UG_I8, UG_METHOD_SYMMETRIC, UG_GROUP_PER_CHANNEL, UG_F32},
        {UG_F16, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
    };
    for (size_t bi = 0; bi < nb; bi++) {
        ug_context *ctx = tu_context(backends[bi], 0);
        for (size_t fi = 0; fi < 3; fi++) {
            hx_weights hw;
            assert_int_equal(hx_weights_make(ctx, &formats[fi], 17, 64, &r, &hw), UG_OK);
            ug_packed_weights *w = NULL;
            assert_int_equal(ug_weights_pack(ctx, &hw.src, &w), UG_OK);
            ug_gemm_desc d = UG_GEMM_DESC_INIT;
            d.m = 0;
            d.n = 17;
            d.k = 64;
            d.c_type = float_types[fi];
            d.has_bias = 1;
            d.beta = 0.5f;
            ug_plan *plan = NULL;
            ug_status st = ug_plan_create(ctx, &d, w, NULL, &plan);
            TU_CHECK(st == UG_OK, "%s", ug_context_last_error(ctx));
            float a[64], bias[17], c[4 * 17], before[4 * 17];
            hx_fill(a, UG_F32, 64, 1.0, &r);
            hx_fill(bias, UG_F32, 17, 1.0, &r);
            hx_fill(c, UG_F32, 4 * 17, 1.0, &r);
            memcpy(before, c, sizeof c);
            st = ug_plan_execute(plan, w, a, c, bias, NULL, 0);
            TU_CHECK(st == UG_OK, "M = 0 on %s: %s (%s)", ug_backend_name(backends[bi]),
                     ug_status_str(st), ug_context_last_error(ctx));
            TU_CHECK(memcmp(c, before, sizeof c) == 0, "M = 0 on %s wrote C",
                     ug_backend_name(backends[bi]));
            ug_plan_destroy(plan);
            ug_weights_destroy(w);
            hx_weights_free(&hw);
        }
        ug_context_destroy(ctx);
    }
}

/* ------------------------------------------------------------------------ */
/* The harness' tolerance rule is not vacuous                                */
/* ------------------------------------------------------------------------ */

/* The comparison of hx_check_case, on dense C. */
static bool harness_rule_accepts(const hx_case *c, ug_backend backend, const void *out,
                                 const void *ref)
{
    hx_result res;
    return hx_compare(c, backend, c->n, out, ref, NULL, &res);
}

static void run_case(ug_context *ctx, const hx_weights *hw, const hx_case *c, const void *a,
                     void *out)
{
    ug_packed_weights *w = NULL;
    ug_plan *plan = NULL;
    ug_gemm_desc d = hx_case_desc(c);
    assert_int_equal(ug_weights_pack(ctx, &hw->src, &w), UG_OK);
    assert_int_equal(ug_plan_create(ctx, &d, w, NULL, &plan), UG_OK);
    ug_status st = ug_plan_execute(plan, w, a, out, NULL, NULL, 0);
    TU_CHECK(st == UG_OK, "%s", ug_context_last_error(ctx));
    ug_plan_destroy(plan);
    ug_weights_destroy(w);
}

static void test_harness_rejects_one_wrong_element(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *oracle = tu_context(UG_BACKEND_REF, 0);
    ug_backend backends[UG_BACKEND_COUNT_];
    size_t nb = tu_available_backends(backends);
    for (size_t bi = 0; bi < nb; bi++)
        for (size_t ci = 0; ci < 3; ci++) {
            ug_context *ctx = tu_context(backends[bi], 0);
            hx_case c = {
                .format = {UG_U4, UG_METHOD_SCALE_ZERO, 32, UG_F16},
                .m = 3, .n = 17, .k = 96,
                .a_type = UG_BF16, .c_type = float_types[ci], .alpha = 1.0f,
            };
            hx_weights hw;
            assert_int_equal(hx_weights_make(ctx, &c.format, c.n, c.k, &r, &hw), UG_OK);
            uint16_t a[3 * 96];
            hx_fill(a, UG_BF16, 3 * 96, 1.0, &r);
            float out[3 * 17], ref[3 * 17], bad[3 * 17];
            run_case(ctx, &hw, &c, a, out);
            run_case(oracle, &hw, &c, a, ref);
            const char *where = ug_backend_name(backends[bi]), *ct = ug_dtype_name(c.c_type);
            TU_CHECK(harness_rule_accepts(&c, backends[bi], out, ref),
                     "%s, c %s: the correct result is rejected", where, ct);

            double tol_l2, tol_max, ref_max = 0.0;
            hx_tolerance(backends[bi], &c, &tol_l2, &tol_max);
            TU_CHECK(tol_max < 0.05 && tol_l2 < 0.05, "%s, c %s: tolerances %g / %g are loose",
                     where, ct, tol_l2, tol_max);
            for (size_t i = 0; i < 3 * 17; i++)
                ref_max = fmax(ref_max, fabs(tu_load(ref, c.c_type, i)));
            /* one element off by twice the max tolerance (at least one ulp of
             * the output type), in the middle of C */
            size_t at = (size_t)hx_rng_next(&r) % (3 * 17);
            double v = tu_load(out, c.c_type, at);
            memcpy(bad, out, sizeof bad);
            hx_store(bad, c.c_type, at, v + fmax(2.0 * tol_max * ref_max, 0.02 * ref_max));
            TU_CHECK(tu_load(bad, c.c_type, at) != v, "the corruption did not change C");
            TU_CHECK(!harness_rule_accepts(&c, backends[bi], bad, ref),
                     "%s, c %s: a result with C[%zu] off by %g (max|ref| %g) is accepted", where,
                     ct, at, tu_load(bad, c.c_type, at) - v, ref_max);
            /* one NaN */
            memcpy(bad, out, sizeof bad);
            hx_store(bad, c.c_type, at, NAN);
            TU_CHECK(!harness_rule_accepts(&c, backends[bi], bad, ref),
                     "%s, c %s: a result with one NaN is accepted", where, ct);
            /* the oracle against itself must match bit for bit: one ulp fails */
            if (backends[bi] == UG_BACKEND_REF) {
                memcpy(bad, out, sizeof bad);
                if (c.c_type == UG_F32)
                    bad[at] = nextafterf(bad[at], INFINITY);
                else
                    ((uint16_t *)bad)[at] ^= 1;
                TU_CHECK(!harness_rule_accepts(&c, UG_BACKEND_REF, bad, ref),
                         "ref, c %s: a result one ulp off is accepted", ct);
            }
            hx_weights_free(&hw);
            ug_context_destroy(ctx);
        }
    ug_context_destroy(oracle);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_ref),
        cmocka_unit_test(test_table_cpu),
        cmocka_unit_test(test_table_cuda),
        cmocka_unit_test(test_m_zero_is_a_no_op),
        cmocka_unit_test(test_harness_rejects_one_wrong_element),
    };
    return cmocka_run_group_tests_name("gemm", tests, NULL, NULL);
}
