/*
 * test_quantize.c - ug_quantize for every format of hx_all_formats, on
 * random weights w [N=10][K=384] whose rows take turns being centred,
 * all positive, all negative, symmetric with exact zeros, and of varying
 * magnitude per group with a constant run. Each result is dequantized by the
 * test's own dequantizer (testutil.c) and checked:
 *   - element-wise: |w - deq| <= 0.5|s| + u (|b| + levels |s| + max|w| of the
 *     group) + t, u the unit roundoff of the scale type, t half its smallest
 *     subnormal (a bias near 0 rounds absolutely, not relatively: signed
 *     scale_bias codes store b + 2^(bits-1) s, which cancels to about 0 when
 *     the grid is centred) and levels = 2^bits - 1;
 *     for scale_bias, weights beyond the grid's far edge are clamped to it
 *     and may be up to one step |s| away (MLX's scheme moves the grid so that
 *     the near edge and 0 are exact, which can pull the far edge in);
 *   - the RMS error is at most 1.5 |s|/sqrt(12) over each format;
 *   - scale_bias represents the larger-magnitude edge of each group exactly
 *     (up to the rounding of the bias to the scale type, u |b| + t);
 *   - scale_zero zero points are codes in range and 0.0 is exact;
 *   - symmetric codes are centred (0.0 gets the middle code, the extremes are
 *     +-(2^(bits-1) - 1) from it);
 *   - full-precision formats: f32 exact, f16/bf16 equal to the conversions.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define N 10
#define K 384
#define MAX_FORMATS 256

/* One format quantized: the weights, the canonical arrays and their
 * dequantization by the test's own dequantizer. */
typedef struct quantized {
    ug_weight_format f;
    char name[96];
    int bits, levels;
    bool is_signed;
    int64_t group;
    double u;    /* unit roundoff of the scale type */
    double tiny; /* half its smallest subnormal: the rounding error near 0 */
    float w[N * K];
    double deq[N * K];
    uint8_t codes[N * K * 4];
    uint8_t scales[N * K * 4], biases[N * K * 4], zeros[N * K];
    ug_weight_source src;
} quantized;

static double unit_roundoff(ug_dtype t)
{
    return t == UG_F32 ? 0x1p-24 : t == UG_F16 ? 0x1p-11 : 0x1p-8;
}

static double half_subnormal(ug_dtype t)
{
    return t == UG_F32 ? 0x1p-150 : t == UG_F16 ? 0x1p-25 : 0x1p-134;
}

/* Random weights; row kinds rotate (see the file comment). Every fifth
 * element of the symmetric rows is an exact 0. */
static void make_weights(float *w, hx_rng *r)
{
    for (int64_t i = 0; i < N; i++) {
        double mag = 0.05 * pow(10.0, 2.0 * hx_rng_uniform(r));
        float *row = w + i * K;
        for (int64_t j = 0; j < K; j++) {
            double z = hx_rng_normal(r), v;
            switch (i % 5) {
            case 0:
                v = mag * (0.3 + z) * (hx_rng_uniform(r) < 0.01 ? 8.0 : 1.0);
                break;
            case 1:
                v = mag * (1.0 + fabs(z));
                break;
            case 2:
                v = -mag * (0.5 + fabs(z));
                break;
            case 3:
                v = j % 5 == 0 ? 0.0 : mag * (2.0 * hx_rng_uniform(r) - 1.0);
                break;
            default: /* magnitude changing every 32, the first 32 constant */
                v = j < 32 ? mag * 0.7 : mag * (1.0 + (double)(j / 32 % 4)) * z;
                break;
            }
            row[j] = (float)v;
        }
    }
}

static void quantize(quantized *q, const ug_weight_format *f, hx_rng *r)
{
    memset(q, 0, sizeof *q);
    q->f = *f;
    hx_format_str(f, q->name, sizeof q->name);
    q->bits = ug_dtype_bits(f->storage);
    q->levels = (1 << q->bits) - 1;
    q->is_signed = f->storage == UG_I4 || f->storage == UG_I8;
    q->group = tu_group(f, K);
    q->u = unit_roundoff(f->scale_type);
    q->tiny = half_subnormal(f->scale_type);
    make_weights(q->w, r);
    size_t cb, sb, bb, zb;
    assert_int_equal(ug_weight_source_sizes(NULL, f, N, K, &cb, &sb, &bb, &zb), UG_OK);
    assert_true(cb <= sizeof q->codes && sb <= sizeof q->scales && bb <= sizeof q->biases &&
                zb <= sizeof q->zeros);
    ug_status st = ug_quantize(NULL, f, N, K, q->w, q->codes, sb ? q->scales : NULL,
                               bb ? q->biases : NULL, zb ? q->zeros : NULL);
    TU_CHECK(st == UG_OK, "%s: ug_quantize gave %s", q->name, ug_status_str(st));
    q->src = (ug_weight_source)UG_WEIGHT_SOURCE_INIT;
    q->src.format = *f;
    q->src.n = N;
    q->src.k = K;
    q->src.codes = q->codes;
    q->src.scales = sb ? q->scales : NULL;
    q->src.biases = bb ? q->biases : NULL;
    q->src.zeros = zb ? q->zeros : NULL;
    tu_dequant(&q->src, q->deq);
}

/* Scale, bias (0 unless scale_bias) and zero point of group g of row i. */
static double scale_of(const quantized *q, int64_t i, int64_t g)
{
    return tu_load(q->scales, q->f.scale_type, (size_t)(i * (K / q->group) + g));
}

static double bias_of(const quantized *q, int64_t i, int64_t g)
{
    if (q->f.method != UG_METHOD_SCALE_BIAS)
        return 0.0;
    return tu_load(q->biases, q->f.scale_type, (size_t)(i * (K / q->group) + g));
}

static int32_t zero_of(const quantized *q, int64_t i, int64_t g)
{
    int32_t z = q->zeros[i * (K / q->group) + g];
    return q->is_signed && z >= 128 ? z - 256 : z;
}

static int32_t code_of(const quantized *q, int64_t i, int64_t j)
{
    return tu_code(q->codes + (size_t)i * K * (size_t)q->bits / 8, q->bits, q->is_signed, j);
}

static size_t quantized_formats(ug_weight_format *out)
{
    ug_weight_format all[MAX_FORMATS];
    size_t count = hx_all_formats(all, MAX_FORMATS), kept = 0;
    assert_true(count <= MAX_FORMATS);
    for (size_t i = 0; i < count; i++)
        if (all[i].method != UG_METHOD_NONE)
            out[kept++] = all[i];
    return kept;
}

static void test_error_bound(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_weight_format formats[MAX_FORMATS];
    size_t count = quantized_formats(formats);
    assert_int_equal(count, 144);
    quantized *q = malloc(sizeof *q);
    assert_non_null(q);
    for (size_t fi = 0; fi < count; fi++) {
        quantize(q, &formats[fi], &r);
        int32_t qlo = q->is_signed ? -(q->levels + 1) / 2 : 0, qhi = qlo + q->levels;
        for (int64_t i = 0; i < N; i++)
            for (int64_t g = 0; g < K / q->group; g++) {
                const float *x = q->w + i * K + g * q->group;
                double gmax = 0.0;
                for (int64_t j = 0; j < q->group; j++)
                    gmax = fmax(gmax, fabs(x[j]));
                double s = scale_of(q, i, g), b = bias_of(q, i, g);
                double slack = q->u * (fabs(b) + q->levels * fabs(s) + gmax) + q->tiny +
                               1e-12 * (gmax + fabs(b));
                /* the grid's extent (scale_bias: where clamping starts) */
                double e1 = s * qlo + b, e2 = s * qhi + b;
                double gmin_v = fmin(e1, e2), gmax_v = fmax(e1, e2);
                for (int64_t j = 0; j < q->group; j++) {
                    size_t at = (size_t)(i * K + g * q->group + j);
                    double err = fabs(q->w[at] - q->deq[at]);
                    bool beyond = q->f.method == UG_METHOD_SCALE_BIAS &&
                                  (q->w[at] < gmin_v || q->w[at] > gmax_v);
                    if (beyond) {
                        double edge = q->w[at] < gmin_v ? gmin_v : gmax_v;
                        TU_CHECK(q->deq[at] == edge,
                                 "%s: w[%lld][%lld] = %.9g beyond the grid [%.9g, %.9g] "
                                 "dequantizes to %.9g, not the edge",
                                 q->name, (long long)i, (long long)(g * q->group + j),
                                 (double)q->w[at], gmin_v, gmax_v, q->deq[at]);
                    }
                    double bound = (beyond ? 1.0 : 0.5) * fabs(s) + slack;
                    TU_CHECK(err <= bound,
                             "%s: w[%lld][%lld] = %.9g dequantizes to %.9g: error %.3g > %.3g "
                             "(s = %.6g, b = %.6g)",
                             q->name, (long long)i, (long long)(g * q->group + j),
                             (double)q->w[at], q->deq[at], err, bound, s, b);
                }
            }
    }
    free(q);
}

static void test_rms_error(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_weight_format formats[MAX_FORMATS];
    size_t count = quantized_formats(formats);
    quantized *q = malloc(sizeof *q);
    assert_non_null(q);
    for (size_t fi = 0; fi < count; fi++) {
        quantize(q, &formats[fi], &r);
        double err2 = 0.0, step2 = 0.0;
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < K; j++) {
                double e = q->w[i * K + j] - q->deq[i * K + j], s = scale_of(q, i, j / q->group);
                err2 += e * e;
                step2 += s * s;
            }
        double rms = sqrt(err2 / (N * K)), limit = 1.5 * sqrt(step2 / (N * K)) / sqrt(12.0);
        TU_CHECK(rms <= limit, "%s: RMS error %.4g above 1.5 |s|/sqrt(12) = %.4g", q->name, rms,
                 limit);
    }
    free(q);
}

static void test_scale_bias_edge_exact(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_weight_format formats[MAX_FORMATS];
    size_t count = quantized_formats(formats), checked = 0;
    quantized *q = malloc(sizeof *q);
    assert_non_null(q);
    for (size_t fi = 0; fi < count; fi++) {
        if (formats[fi].method != UG_METHOD_SCALE_BIAS)
            continue;
        quantize(q, &formats[fi], &r);
        for (int64_t i = 0; i < N; i++)
            for (int64_t g = 0; g < K / q->group; g++) {
                int64_t base = i * K + g * q->group, lo = base, hi = base;
                for (int64_t j = base; j < base + q->group; j++) {
                    lo = q->w[j] < q->w[lo] ? j : lo;
                    hi = q->w[j] > q->w[hi] ? j : hi;
                }
                /* MLX: the low edge when |min| > |max|, else the high edge */
                int64_t e = fabs(q->w[lo]) > fabs(q->w[hi]) ? lo : hi;
                double b = bias_of(q, i, g);
                double tol = q->u * (1.0 + q->u) * fabs(b) + q->tiny + 1e-15 * fabs(q->w[e]);
                TU_CHECK(fabs(q->deq[e] - q->w[e]) <= tol,
                         "%s: row %lld group %lld: edge %.9g dequantizes to %.9g (bias %.9g, "
                         "tolerance %.3g)",
                         q->name, (long long)i, (long long)g, (double)q->w[e], q->deq[e], b, tol);
                checked++;
            }
    }
    assert_true(checked > 0);
    free(q);
}

static void test_scale_zero_points(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_weight_format formats[MAX_FORMATS];
    size_t count = quantized_formats(formats), zeros_seen = 0;
    quantized *q = malloc(sizeof *q);
    assert_non_null(q);
    for (size_t fi = 0; fi < count; fi++) {
        if (formats[fi].method != UG_METHOD_SCALE_ZERO)
            continue;
        quantize(q, &formats[fi], &r);
        int32_t qlo = q->is_signed ? -(q->levels + 1) / 2 : 0, qhi = qlo + q->levels;
        for (int64_t i = 0; i < N; i++)
            for (int64_t g = 0; g < K / q->group; g++) {
                int32_t z = zero_of(q, i, g);
                TU_CHECK(z >= qlo && z <= qhi, "%s: zero point %d of row %lld group %lld is "
                         "outside [%d, %d]", q->name, z, (long long)i, (long long)g, qlo, qhi);
            }
        for (int64_t at = 0; at < N * K; at++) {
            if (q->w[at] != 0.0f)
                continue;
            int64_t i = at / K, j = at % K;
            TU_CHECK(q->deq[at] == 0.0 && code_of(q, i, j) == zero_of(q, i, j / q->group),
                     "%s: w[%lld][%lld] = 0 got code %d (zero point %d), dequantizes to %g",
                     q->name, (long long)i, (long long)j, code_of(q, i, j),
                     zero_of(q, i, j / q->group), q->deq[at]);
            zeros_seen++;
        }
    }
    assert_true(zeros_seen > 0);
    free(q);
}

static void test_symmetric_codes_centred(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_weight_format formats[MAX_FORMATS];
    size_t count = quantized_formats(formats);
    quantized *q = malloc(sizeof *q);
    assert_non_null(q);
    for (size_t fi = 0; fi < count; fi++) {
        if (formats[fi].method != UG_METHOD_SYMMETRIC)
            continue;
        quantize(q, &formats[fi], &r);
        int32_t half = (q->levels + 1) / 2, mid = q->is_signed ? 0 : half;
        for (int64_t i = 0; i < N; i++)
            for (int64_t g = 0; g < K / q->group; g++) {
                int64_t base = i * K + g * q->group, amax = base;
                for (int64_t j = base; j < base + q->group; j++) {
                    int32_t c = code_of(q, i, j - i * K);
                    TU_CHECK(c >= mid - (half - 1) && c <= mid + (half - 1),
                             "%s: code %d at row %lld, k %lld is outside %d +- %d", q->name, c,
                             (long long)i, (long long)(j - i * K), mid, half - 1);
                    if (q->w[j] == 0.0f)
                        TU_CHECK(c == mid, "%s: w = 0 got code %d, not %d", q->name, c, mid);
                    amax = fabsf(q->w[j]) > fabsf(q->w[amax]) ? j : amax;
                }
                int32_t want = q->w[amax] > 0 ? mid + half - 1 : mid - (half - 1);
                int32_t got = code_of(q, i, amax - i * K);
                TU_CHECK(got == want, "%s: the largest |w| of row %lld group %lld (%g) got code "
                         "%d, not %d", q->name, (long long)i, (long long)g, (double)q->w[amax],
                         got, want);
            }
    }
    free(q);
}

static void test_full_precision_round_trip(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    static const ug_dtype storages[] = {UG_F32, UG_F16, UG_BF16};
    float w[N * K];
    uint16_t codes16[N * K];
    float codes32[N * K];
    for (size_t s = 0; s < 3; s++) {
        make_weights(w, &r);
        ug_weight_format f = {storages[s], UG_METHOD_NONE, 0, UG_DTYPE_NONE};
        void *codes = storages[s] == UG_F32 ? (void *)codes32 : (void *)codes16;
        assert_int_equal(ug_quantize(NULL, &f, N, K, w, codes, NULL, NULL, NULL), UG_OK);
        for (size_t i = 0; i < N * K; i++) {
            if (storages[s] == UG_F32)
                TU_CHECK(memcmp(&codes32[i], &w[i], 4) == 0, "float32: w[%zu] = %a became %a", i,
                         (double)w[i], (double)codes32[i]);
            else {
                uint16_t want = storages[s] == UG_F16 ? ug_f32_to_f16(w[i]) : ug_f32_to_bf16(w[i]);
                TU_CHECK(codes16[i] == want, "%s: w[%zu] = %a became %#06x, not %#06x",
                         ug_dtype_name(storages[s]), i, (double)w[i], codes16[i], want);
            }
        }
    }
}

/* A scale that overflows its type is refused, naming the row and the group. */
static void test_scale_overflow_refused(void **state)
{
    (void)state;
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    enum { ROWS = 2, COLS = 64 };
    float w[ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++)
        w[i] = (float)(i % 7) - 3.0f;
    w[COLS + 40] = 1e6f; /* row 1, group 1 of 32: needs a scale of 1e6 / 7 > 65504 */
    ug_weight_format f = {UG_U4, UG_METHOD_SYMMETRIC, 32, UG_F16};
    uint8_t codes[ROWS * COLS / 2];
    uint16_t scales[ROWS * COLS / 32];
    assert_int_equal(ug_quantize(ctx, &f, ROWS, COLS, w, codes, scales, NULL, NULL),
                     UG_ERR_INVALID_VALUE);
    const char *msg = ug_context_last_error(ctx);
    TU_CHECK(strstr(msg, "row 1, group 1") && strstr(msg, "overflows"), "message: %s", msg);
    f.scale_type = UG_F32; /* the same weights fit f32 scales */
    float scales32[ROWS * COLS / 32];
    assert_int_equal(ug_quantize(ctx, &f, ROWS, COLS, w, codes, scales32, NULL, NULL), UG_OK);
    ug_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_bound),
        cmocka_unit_test(test_rms_error),
        cmocka_unit_test(test_scale_bias_edge_exact),
        cmocka_unit_test(test_scale_zero_points),
        cmocka_unit_test(test_symmetric_codes_centred),
        cmocka_unit_test(test_full_precision_round_trip),
        cmocka_unit_test(test_scale_overflow_refused),
    };
    return cmocka_run_group_tests_name("quantize", tests, NULL, NULL);
}
