/*
 * test_gemm.c - every backend that can be created here (ref, cpu; cuda when
 * its context comes up) against the oracle through hx_check_case, over every
 * format of hx_all_formats x M {1, 3, 17} x N {17, 33} x K {one group (64
 * per channel and for full precision), 96 where the group allows, 256} x
 * a_type x c_type (f32, f16, bf16 each): about 20000 cases per backend.
 * Bias (f32/f16/bf16) or none, alpha 1 or not, beta 0 (C poisoned with NaN)
 * or not, and padded lda/ldc are drawn at random per case. One case in 16
 * runs on two threads, the rest on one.
 * On cuda, whose activations are f16/bf16 only, each a_type f32 case instead
 * checks that its plan is refused (UG_ERR_UNSUPPORTED naming float32).
 * Also: M = 0 leaves C untouched, the harness' tolerance rule rejects a
 * result with one wrong element (so that the tolerances are not vacuous),
 * and, without a GPU, the rule hx_check_case applies to cuda accepts a CPU
 * emulation of cuda's numerics (weights rounded to the activation type) on
 * random cases yet rejects one wrong element or one NaN.
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

/* A case cuda does not run (a_type f32): its plan must be refused, naming
 * the type. */
static void expect_refused(ug_context *ctx, const hx_case *c, hx_rng *r, ug_backend backend)
{
    hx_weights hw;
    assert_int_equal(hx_weights_make(ctx, &c->format, c->n, c->k, r, &hw), UG_OK);
    ug_packed_weights *w = NULL;
    ug_status st = ug_weights_pack(ctx, &hw.src, &w);
    char what[256];
    tu_case_str(c, backend, what, sizeof what);
    TU_CHECK(st == UG_OK, "%s: pack: %s (%s)", what, ug_status_str(st), ug_context_last_error(ctx));
    ug_gemm_desc d = hx_case_desc(c);
    ug_plan *plan = TU_NOT_NULL;
    st = ug_plan_create(ctx, &d, w, NULL, &plan);
    TU_CHECK(st == UG_ERR_UNSUPPORTED && plan == NULL &&
                 strstr(ug_context_last_error(ctx), "float32") != NULL,
             "%s: plan gave %s (message '%s'), expected UG_ERR_UNSUPPORTED naming float32", what,
             ug_status_str(st), ug_context_last_error(ctx));
    ug_weights_destroy(w);
    hx_weights_free(&hw);
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
                        c.lda =
                            hx_rng_uniform(&r) < 0.5 ? c.k + 1 + (int64_t)(hx_rng_next(&r) % 7) : 0;
                        c.ldc =
                            hx_rng_uniform(&r) < 0.5 ? c.n + 1 + (int64_t)(hx_rng_next(&r) % 5) : 0;
                        c.has_bias = hx_rng_uniform(&r) < 0.5;
                        c.bias_type = float_types[hx_rng_next(&r) % 3];
                        c.alpha = hx_rng_uniform(&r) < 0.25 ? 1.0f : alphas[hx_rng_next(&r) % 3];
                        c.beta = hx_rng_uniform(&r) < 0.4 ? 0.0f : betas[hx_rng_next(&r) % 2];
                        if (!hx_case_supported(backend, &c)) {
                            expect_refused(ctx1, &c, &r, backend);
                            continue;
                        }
                        hx_result res = hx_check_case(cases % 16 ? ctx1 : ctx2, oracle, &c, &r);
                        if (!res.pass) {
                            char what[256];
                            tu_case_str(&c, backend, what, sizeof what);
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

/* M = 0 is a valid empty call: OK, and C (and its padding) untouched. On
 * cuda the activations are f16 and A and C device buffers. */
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
        bool cuda = backends[bi] == UG_BACKEND_CUDA;
        for (size_t fi = 0; fi < 3; fi++) {
            hx_weights hw;
            assert_int_equal(hx_weights_make(ctx, &formats[fi], 17, 64, &r, &hw), UG_OK);
            ug_packed_weights *w = NULL;
            assert_int_equal(ug_weights_pack(ctx, &hw.src, &w), UG_OK);
            ug_gemm_desc d = UG_GEMM_DESC_INIT;
            d.m = 0;
            d.n = 17;
            d.k = 64;
            d.a_type = cuda ? UG_F16 : UG_F32;
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
            void *pa = a, *pc = c, *pbias = bias;
            char msg[256] = "";
            if (cuda)
                TU_CHECK(hx_dev_alloc(&pa, sizeof a, msg, sizeof msg) &&
                             hx_dev_alloc(&pc, sizeof c, msg, sizeof msg) &&
                             hx_dev_alloc(&pbias, sizeof bias, msg, sizeof msg) &&
                             hx_dev_upload(pa, a, sizeof a, msg, sizeof msg) &&
                             hx_dev_upload(pc, c, sizeof c, msg, sizeof msg) &&
                             hx_dev_upload(pbias, bias, sizeof bias, msg, sizeof msg),
                         "cuda buffers: %s", msg);
            st = ug_plan_execute(plan, w, pa, pc, pbias, NULL, 0);
            TU_CHECK(st == UG_OK, "M = 0 on %s: %s (%s)", ug_backend_name(backends[bi]),
                     ug_status_str(st), ug_context_last_error(ctx));
            if (cuda) {
                TU_CHECK(hx_dev_sync(msg, sizeof msg) &&
                             hx_dev_download(c, pc, sizeof c, msg, sizeof msg),
                         "cuda, M = 0: %s", msg);
                hx_dev_free(pa);
                hx_dev_free(pc);
                hx_dev_free(pbias);
            }
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

/* The comparison of hx_check_case, on dense C: scaled by the products'
 * size (scale, [M][N]) on cuda, by |ref| elsewhere (scale NULL). */
static bool harness_rule_accepts(const hx_case *c, ug_backend backend, const void *out,
                                 const void *ref, const double *scale)
{
    hx_result res;
    if (scale != NULL)
        return hx_compare_scaled(c, backend, c->n, out, ref, scale, NULL, &res);
    return hx_compare(c, backend, c->n, out, ref, NULL, &res);
}

/* c on ctx with host arrays (staged through the device on cuda). */
static void run_case(ug_context *ctx, const hx_weights *hw, const hx_case *c, const void *a,
                     void *out)
{
    ug_packed_weights *w = NULL;
    ug_plan *plan = NULL;
    ug_gemm_desc d = hx_case_desc(c);
    assert_int_equal(ug_weights_pack(ctx, &hw->src, &w), UG_OK);
    assert_int_equal(ug_plan_create(ctx, &d, w, NULL, &plan), UG_OK);
    char msg[512];
    bool ok = hx_execute(ctx, plan, w, &d, a, out, NULL, msg, sizeof msg);
    TU_CHECK(ok, "%s: %s", ug_backend_name(ug_context_backend(ctx)), msg);
    ug_plan_destroy(plan);
    ug_weights_destroy(w);
}

/* The scale of hx_compare_scaled for case c with weights hw and host A. */
static void product_scale(ug_context *oracle, const hx_weights *hw, const hx_case *c, const void *a,
                          double *scale)
{
    ug_packed_weights *w = NULL;
    assert_int_equal(ug_weights_pack(oracle, &hw->src, &w), UG_OK);
    char msg[256];
    TU_CHECK(hx_product_scale(oracle, w, hw, c, a, scale, msg, sizeof msg), "%s", msg);
    ug_weights_destroy(w);
}

/* One element of out (dense [m][n] of c_type) moved away from ref by twice
 * the max tolerance of norm (at least 2 % of it), one NaN: both rejected. */
static void expect_corruption_rejected(const hx_case *c, ug_backend backend, const void *out,
                                       const void *ref, const double *scale, hx_rng *r,
                                       const char *where)
{
    size_t count = (size_t)(c->m * c->n), esz = tu_float_bytes(c->c_type);
    double tol_l2, tol_max, norm = 0.0;
    hx_tolerance(backend, c, &tol_l2, &tol_max);
    for (size_t i = 0; i < count; i++) {
        norm = fmax(norm, fabs(tu_load(ref, c->c_type, i)));
        if (scale != NULL)
            norm = fmax(norm, scale[i]);
    }
    uint8_t *bad = malloc(count * esz);
    assert_non_null(bad);
    size_t at = (size_t)hx_rng_next(r) % count;
    double v = tu_load(out, c->c_type, at);
    memcpy(bad, out, count * esz);
    hx_store(bad, c->c_type, at, v + fmax(2.0 * tol_max * norm, 0.02 * norm));
    TU_CHECK(tu_load(bad, c->c_type, at) != v, "the corruption did not change C");
    TU_CHECK(!harness_rule_accepts(c, backend, bad, ref, scale),
             "%s: a result with C[%zu] off by %g (max|ref| or max D %g) is accepted", where, at,
             tu_load(bad, c->c_type, at) - v, norm);
    memcpy(bad, out, count * esz);
    hx_store(bad, c->c_type, at, NAN);
    TU_CHECK(!harness_rule_accepts(c, backend, bad, ref, scale),
             "%s: a result with one NaN is accepted", where);
    free(bad);
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
            bool cuda = backends[bi] == UG_BACKEND_CUDA;
            hx_case c = {
                .format = {UG_U4, UG_METHOD_SCALE_ZERO, 32, UG_F16},
                .m = 3,
                .n = 17,
                .k = 96,
                .a_type = UG_BF16,
                .c_type = float_types[ci],
                .alpha = 1.0f,
            };
            hx_weights hw;
            assert_int_equal(hx_weights_make(ctx, &c.format, c.n, c.k, &r, &hw), UG_OK);
            uint16_t a[3 * 96];
            hx_fill(a, UG_BF16, 3 * 96, 1.0, &r);
            float out[3 * 17], ref[3 * 17];
            double scale_buf[3 * 17], *scale = cuda ? scale_buf : NULL;
            run_case(ctx, &hw, &c, a, out);
            run_case(oracle, &hw, &c, a, ref);
            if (cuda)
                product_scale(oracle, &hw, &c, a, scale);
            char where[64];
            snprintf(where, sizeof where, "%s, c %s", ug_backend_name(backends[bi]),
                     ug_dtype_name(c.c_type));
            TU_CHECK(harness_rule_accepts(&c, backends[bi], out, ref, scale),
                     "%s: the correct result is rejected", where);

            double tol_l2, tol_max;
            hx_tolerance(backends[bi], &c, &tol_l2, &tol_max);
            TU_CHECK(tol_max < 0.05 && tol_l2 < 0.05, "%s: tolerances %g / %g are loose", where,
                     tol_l2, tol_max);
            expect_corruption_rejected(&c, backends[bi], out, ref, scale, &r, where);
            /* the oracle against itself must match bit for bit: one ulp fails */
            if (backends[bi] == UG_BACKEND_REF) {
                float bad[3 * 17];
                size_t at = (size_t)hx_rng_next(&r) % (3 * 17);
                memcpy(bad, out, sizeof bad);
                if (c.c_type == UG_F32)
                    bad[at] = nextafterf(bad[at], INFINITY);
                else
                    ((uint16_t *)bad)[at] ^= 1;
                TU_CHECK(!harness_rule_accepts(&c, UG_BACKEND_REF, bad, ref, NULL),
                         "ref, c %s: a result one ulp off is accepted", ug_dtype_name(c.c_type));
            }
            hx_weights_free(&hw);
            ug_context_destroy(ctx);
        }
    ug_context_destroy(oracle);
}

/* ------------------------------------------------------------------------ */
/* The cuda rule, on the CPU                                                  */
/* ------------------------------------------------------------------------ */

/* v rounded to t (f16 or bf16), as a double. */
static double round_to(double v, ug_dtype t)
{
    uint16_t h = t == UG_F16 ? ug_f32_to_f16((float)v) : ug_f32_to_bf16((float)v);
    return tu_load(&h, t, 0);
}

/* The weights cuda computes with, by its numerics contract: scales, biases
 * and dense weights rounded to the activation type t, then each dequantized
 * weight rounded to t once. Written into `out` as dense [N][K] of t. */
static void contract_weights(const ug_weight_source *src, ug_dtype t, uint16_t *out)
{
    const ug_weight_format *f = &src->format;
    int64_t n = src->n, k = src->k;
    if (f->method == UG_METHOD_NONE) {
        for (int64_t i = 0; i < n * k; i++)
            hx_store(out, t, (size_t)i, round_to(tu_load(src->codes, f->storage, (size_t)i), t));
        return;
    }
    int bits = f->storage == UG_U4 || f->storage == UG_I4 ? 4 : 8;
    bool is_signed = f->storage == UG_I4 || f->storage == UG_I8;
    int64_t group = tu_group(f, k), groups = k / group;
    size_t row_bytes = (size_t)k * (size_t)bits / 8;
    for (int64_t row = 0; row < n; row++)
        for (int64_t j = 0; j < k; j++) {
            size_t gi = (size_t)(row * groups + j / group);
            double s = round_to(tu_load(src->scales, f->scale_type, gi), t);
            int32_t q =
                tu_code((const uint8_t *)src->codes + (size_t)row * row_bytes, bits, is_signed, j);
            double w;
            if (f->method == UG_METHOD_SCALE_BIAS) {
                w = s * q + round_to(tu_load(src->biases, f->scale_type, gi), t);
            } else if (f->method == UG_METHOD_SCALE_ZERO) {
                int32_t z = ((const uint8_t *)src->zeros)[gi];
                w = s * (q - (is_signed && z >= 128 ? z - 256 : z));
            } else {
                w = s * (q - (is_signed ? 0 : 1 << (bits - 1)));
            }
            hx_store(out, t, (size_t)(row * k + j), round_to(w, t));
        }
}

/* hx_check_case's rule for cuda (tolerance of hx_tolerance, errors scaled by
 * hx_product_scale) must accept what cuda's numerics allow, else the GPU
 * tests would fail on correct kernels: on random cases of every kind the
 * GPU tests draw, the oracle run on the contract's rounded weights passes
 * against the oracle on the exact ones. And it must still reject one wrong
 * element or one NaN. Runs without a GPU. */
static void test_cuda_rule_fits_cuda_numerics(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *oracle = tu_context(UG_BACKEND_REF, 1);
    ug_weight_format formats[MAX_FORMATS];
    size_t count = hx_all_formats(formats, MAX_FORMATS);
    static const int64_t ms[] = {1, 3, 17, 33, 65}, ns[] = {1, 19, 100};
    static const float alphas[4] = {1.0f, 0.75f, -1.5f, 2.0f}, betas[3] = {0.0f, 0.5f, -1.25f};
    int rejected_checks = 0;
    for (size_t ci = 0; ci < 400; ci++) {
        hx_case c = {.format = formats[hx_rng_next(&r) % count]};
        int32_t g = c.format.method == UG_METHOD_NONE ? 0 : c.format.group_size;
        c.m = ms[hx_rng_next(&r) % 5];
        c.n = ns[hx_rng_next(&r) % 3];
        c.k = g > 0 ? g * (int64_t)(1 + 2 * (hx_rng_next(&r) % 3)) /* 1, 3, 5 groups */
                    : (int64_t)(2 + 2 * (hx_rng_next(&r) % 160));
        c.a_type = float_types[1 + hx_rng_next(&r) % 2];
        c.c_type = float_types[hx_rng_next(&r) % 3];
        c.has_bias = (int)(hx_rng_next(&r) % 2);
        c.bias_type = float_types[hx_rng_next(&r) % 3];
        c.alpha = alphas[hx_rng_next(&r) % 4];
        c.beta = betas[hx_rng_next(&r) % 3];
        hx_weights hw;
        assert_int_equal(hx_weights_make(oracle, &c.format, c.n, c.k, &r, &hw), UG_OK);
        uint16_t *wt = malloc((size_t)(c.n * c.k) * 2);
        size_t esa = tu_float_bytes(c.a_type), esc = tu_float_bytes(c.c_type);
        void *a = malloc((size_t)(c.m * c.k) * esa), *bias = malloc((size_t)c.n * 4);
        void *c0 = malloc((size_t)(c.m * c.n) * esc), *exact = malloc((size_t)(c.m * c.n) * esc);
        void *rounded = malloc((size_t)(c.m * c.n) * esc);
        double *scale = malloc((size_t)(c.m * c.n) * sizeof *scale);
        assert_true(wt && a && bias && c0 && exact && rounded && scale);
        contract_weights(&hw.src, c.a_type, wt);
        hx_fill(a, c.a_type, (size_t)(c.m * c.k), 1.0, &r);
        hx_fill(bias, c.bias_type, (size_t)c.n, 0.5, &r);
        hx_fill(c0, c.c_type, (size_t)(c.m * c.n), 1.0, &r);
        memcpy(exact, c0, (size_t)(c.m * c.n) * esc);
        memcpy(rounded, c0, (size_t)(c.m * c.n) * esc);

        ug_weight_source ws = UG_WEIGHT_SOURCE_INIT;
        ws.format = (ug_weight_format){c.a_type, UG_METHOD_NONE, 0, UG_DTYPE_NONE};
        ws.n = c.n;
        ws.k = c.k;
        ws.codes = wt;
        ug_gemm_desc d = hx_case_desc(&c);
        char msg[512];
        ug_packed_weights *w_exact = NULL, *w_rounded = NULL;
        ug_plan *p_exact = NULL, *p_rounded = NULL;
        assert_int_equal(ug_weights_pack(oracle, &hw.src, &w_exact), UG_OK);
        assert_int_equal(ug_weights_pack(oracle, &ws, &w_rounded), UG_OK);
        assert_int_equal(ug_plan_create(oracle, &d, w_exact, NULL, &p_exact), UG_OK);
        assert_int_equal(ug_plan_create(oracle, &d, w_rounded, NULL, &p_rounded), UG_OK);
        TU_CHECK(
            hx_execute(oracle, p_exact, w_exact, &d, a, exact, bias, msg, sizeof msg) &&
                hx_execute(oracle, p_rounded, w_rounded, &d, a, rounded, bias, msg, sizeof msg),
            "%s", msg);
        TU_CHECK(hx_product_scale(oracle, w_exact, &hw, &c, a, scale, msg, sizeof msg), "%s", msg);

        char what[256];
        tu_case_str(&c, UG_BACKEND_CUDA, what, sizeof what);
        hx_result res;
        TU_CHECK(hx_compare_scaled(&c, UG_BACKEND_CUDA, c.n, rounded, exact, scale, NULL, &res),
                 "%s, weights rounded as cuda does: %s", what, res.message);
        if (ci % 8 == 0) {
            expect_corruption_rejected(&c, UG_BACKEND_CUDA, rounded, exact, scale, &r, what);
            rejected_checks++;
        }
        ug_plan_destroy(p_exact);
        ug_plan_destroy(p_rounded);
        ug_weights_destroy(w_exact);
        ug_weights_destroy(w_rounded);
        hx_weights_free(&hw);
        free(wt);
        free(a);
        free(bias);
        free(c0);
        free(exact);
        free(rounded);
        free(scale);
    }
    assert_true(rejected_checks >= 50);
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
        cmocka_unit_test(test_cuda_rule_fits_cuda_numerics),
    };
    return cmocka_run_group_tests_name("gemm", tests, NULL, NULL);
}
