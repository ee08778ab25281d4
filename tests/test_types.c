/*
 * test_types.c - data types, methods and backends: wire names and their
 * round trips, the aliases "mlx" and "awq", unknown names (status and the
 * name in the context's message), status strings, bit widths; and the
 * f16/bf16 conversions: exhaustive over all 65536 patterns of each, ties to
 * even (constructed exactly), agreement with an exact rounding computed in
 * f64 over a sweep of f32 patterns, overflow, subnormals, signed zero, NaN.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static const char *const expected_dtype_names[UG_DTYPE_COUNT_] = {
    [UG_DTYPE_NONE] = "none", [UG_F32] = "float32", [UG_F16] = "float16", [UG_BF16] = "bfloat16",
    [UG_I4] = "int4",         [UG_U4] = "uint4",    [UG_I8] = "int8",     [UG_U8] = "uint8",
};
static const int expected_dtype_bits[UG_DTYPE_COUNT_] = {
    [UG_DTYPE_NONE] = 0, [UG_F32] = 32, [UG_F16] = 16, [UG_BF16] = 16,
    [UG_I4] = 4,         [UG_U4] = 4,   [UG_I8] = 8,   [UG_U8] = 8,
};
static const char *const expected_method_names[UG_METHOD_COUNT_] = {
    [UG_METHOD_NONE] = "none",
    [UG_METHOD_SCALE_BIAS] = "scale_bias",
    [UG_METHOD_SCALE_ZERO] = "scale_zero",
    [UG_METHOD_SYMMETRIC] = "symmetric",
};
static const char *const expected_backend_names[UG_BACKEND_COUNT_] = {
    [UG_BACKEND_AUTO] = "auto", [UG_BACKEND_REF] = "ref",
    [UG_BACKEND_CPU] = "cpu",   [UG_BACKEND_CUDA] = "cuda",
};

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bits_of_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Equal values with equal signs (so 0 and -0 differ). */
static bool same_value(double a, double b)
{
    return a == b && !signbit(a) == !signbit(b);
}

static bool f16_is_nan(uint16_t h)
{
    return (h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0;
}

static bool bf16_is_nan(uint16_t h)
{
    return (h & 0x7f80) == 0x7f80 && (h & 0x007f) != 0;
}

/* x rounded to nearest even onto a binary format with `precision`
 * significant bits, smallest normal exponent `emin` (subnormals below it),
 * and infinity from `overflow` up: computed exactly in f64. */
static double round_exact(double x, int precision, int emin, double overflow)
{
    if (x == 0.0 || !isfinite(x))
        return x;
    int e;
    frexp(fabs(x), &e);
    int lead = e - 1 < emin ? emin : e - 1;
    double ulp = ldexp(1.0, lead - (precision - 1));
    double r = nearbyint(fabs(x) / ulp) * ulp;
    return copysign(r >= overflow ? INFINITY : r, x);
}

static double round_exact_f16(float x)
{
    return round_exact(x, 11, -14, 65536.0);
}

static double round_exact_bf16(float x)
{
    return round_exact(x, 8, -126, ldexp(1.0, 128));
}

/* ------------------------------------------------------------------------ */
/* Names                                                                      */
/* ------------------------------------------------------------------------ */

static void test_dtype_names_round_trip(void **state)
{
    (void)state;
    for (int d = 0; d < UG_DTYPE_COUNT_; d++) {
        const char *name = ug_dtype_name((ug_dtype)d);
        assert_non_null(name);
        assert_string_equal(name, expected_dtype_names[d]);
        ug_dtype parsed = UG_DTYPE_COUNT_;
        assert_int_equal(ug_dtype_parse(NULL, name, &parsed), UG_OK);
        assert_int_equal(parsed, d);
    }
}

static void test_method_names_round_trip(void **state)
{
    (void)state;
    for (int m = 0; m < UG_METHOD_COUNT_; m++) {
        const char *name = ug_method_name((ug_method)m);
        assert_non_null(name);
        assert_string_equal(name, expected_method_names[m]);
        ug_method parsed = UG_METHOD_COUNT_;
        assert_int_equal(ug_method_parse(NULL, name, &parsed), UG_OK);
        assert_int_equal(parsed, m);
    }
}

static void test_backend_names_round_trip(void **state)
{
    (void)state;
    for (int b = 0; b < UG_BACKEND_COUNT_; b++) {
        const char *name = ug_backend_name((ug_backend)b);
        assert_non_null(name);
        assert_string_equal(name, expected_backend_names[b]);
        ug_backend parsed = UG_BACKEND_COUNT_;
        assert_int_equal(ug_backend_parse(NULL, name, &parsed), UG_OK);
        assert_int_equal(parsed, b);
    }
}

static void test_method_aliases(void **state)
{
    (void)state;
    ug_method m = UG_METHOD_NONE;
    assert_int_equal(ug_method_parse(NULL, "mlx", &m), UG_OK);
    assert_int_equal(m, UG_METHOD_SCALE_BIAS);
    m = UG_METHOD_NONE;
    assert_int_equal(ug_method_parse(NULL, "awq", &m), UG_OK);
    assert_int_equal(m, UG_METHOD_SCALE_ZERO);
}

static void test_out_of_range_values_have_no_name(void **state)
{
    (void)state;
    assert_string_equal(ug_dtype_name(UG_DTYPE_COUNT_), "?");
    assert_string_equal(ug_dtype_name((ug_dtype)-1), "?");
    assert_string_equal(ug_method_name(UG_METHOD_COUNT_), "?");
    assert_string_equal(ug_method_name((ug_method)-1), "?");
    assert_string_equal(ug_backend_name(UG_BACKEND_COUNT_), "?");
    assert_string_equal(ug_backend_name((ug_backend)-1), "?");
}

/* The parse of `name` fails with UNKNOWN_NAME and ctx's message quotes it. */
static void expect_unknown(ug_context *ctx, ug_status st, const char *name)
{
    TU_CHECK(st == UG_ERR_UNKNOWN_NAME, "parsing '%s' gave %s", name, ug_status_str(st));
    const char *msg = ug_context_last_error(ctx);
    char quoted[80];
    snprintf(quoted, sizeof quoted, "'%.64s'", name);
    TU_CHECK(strstr(msg, quoted) != NULL, "message '%s' does not name %s", msg, quoted);
}

static void test_unknown_names_are_named_in_the_error(void **state)
{
    (void)state;
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    static const char *const bad_dtypes[] = {"float64", "Float32", "fp16", "int3", ""};
    static const char *const bad_methods[] = {"gptq", "MLX", "scale", "asym", ""};
    static const char *const bad_backends[] = {"rocm", "CPU", "gpu", ""};
    ug_dtype d;
    ug_method m;
    ug_backend b;
    for (size_t i = 0; i < sizeof bad_dtypes / sizeof *bad_dtypes; i++)
        expect_unknown(ctx, ug_dtype_parse(ctx, bad_dtypes[i], &d), bad_dtypes[i]);
    for (size_t i = 0; i < sizeof bad_methods / sizeof *bad_methods; i++)
        expect_unknown(ctx, ug_method_parse(ctx, bad_methods[i], &m), bad_methods[i]);
    for (size_t i = 0; i < sizeof bad_backends / sizeof *bad_backends; i++)
        expect_unknown(ctx, ug_backend_parse(ctx, bad_backends[i], &b), bad_backends[i]);

    /* A long name is cut in the message, not overflowing it. */
    char long_name[300];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(ug_dtype_parse(ctx, long_name, &d), UG_ERR_UNKNOWN_NAME);
    assert_non_null(strstr(ug_context_last_error(ctx), "'xxxxxxxxxxxxxxxx"));

    /* Without a context the status is the same. */
    assert_int_equal(ug_dtype_parse(NULL, "float64", &d), UG_ERR_UNKNOWN_NAME);
    assert_int_equal(ug_method_parse(NULL, "gptq", &m), UG_ERR_UNKNOWN_NAME);
    assert_int_equal(ug_backend_parse(NULL, "rocm", &b), UG_ERR_UNKNOWN_NAME);
    ug_context_destroy(ctx);
}

static void test_status_strings(void **state)
{
    (void)state;
    for (int s = 0; s < UG_ERR_COUNT_; s++) {
        const char *text = ug_status_str((ug_status)s);
        assert_non_null(text);
        assert_true(strlen(text) > 0);
        for (int t = 0; t < s; t++)
            TU_CHECK(strcmp(text, ug_status_str((ug_status)t)) != 0,
                     "statuses %d and %d share the text '%s'", s, t, text);
    }
    static const int out_of_range[] = {UG_ERR_COUNT_, UG_ERR_COUNT_ + 1, -1, 1 << 20};
    for (size_t i = 0; i < sizeof out_of_range / sizeof *out_of_range; i++) {
        const char *text = ug_status_str((ug_status)out_of_range[i]);
        assert_non_null(text);
        assert_true(strlen(text) > 0);
    }
}

static void test_dtype_bits(void **state)
{
    (void)state;
    for (int d = 0; d < UG_DTYPE_COUNT_; d++)
        TU_CHECK(ug_dtype_bits((ug_dtype)d) == expected_dtype_bits[d], "%s has %d bits",
                 ug_dtype_name((ug_dtype)d), ug_dtype_bits((ug_dtype)d));
    assert_int_equal(ug_dtype_bits(UG_DTYPE_COUNT_), 0);
    assert_int_equal(ug_dtype_bits((ug_dtype)-1), 0);
}

static void test_version_string(void **state)
{
    (void)state;
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", UG_VERSION_MAJOR, UG_VERSION_MINOR,
             UG_VERSION_PATCH);
    assert_string_equal(ug_version(), expected);
}

/* ------------------------------------------------------------------------ */
/* f16 and bf16 conversions                                                   */
/* ------------------------------------------------------------------------ */

static void test_f16_exhaustive(void **state)
{
    (void)state;
    for (uint32_t h = 0; h <= 0xffff; h++) {
        float f = ug_f16_to_f32((uint16_t)h);
        uint16_t back = ug_f32_to_f16(f);
        if (f16_is_nan((uint16_t)h)) {
            TU_CHECK(isnan(f), "f16 %#06x should decode to NaN, got %g", h, (double)f);
            TU_CHECK(f16_is_nan(back), "f16 NaN %#06x came back as %#06x", h, back);
            TU_CHECK((back & 0x8000) == (h & 0x8000), "f16 NaN %#06x lost its sign", h);
            continue;
        }
        double want = tu_f16_value((uint16_t)h);
        TU_CHECK(same_value(f, want),
                 "f16 %#06x decodes to %a, expected %a", h, (double)f, want);
        TU_CHECK(back == h, "f16 %#06x -> f32 %a -> f16 %#06x", h, (double)f, back);
    }
}

static void test_bf16_exhaustive(void **state)
{
    (void)state;
    for (uint32_t h = 0; h <= 0xffff; h++) {
        float f = ug_bf16_to_f32((uint16_t)h);
        uint16_t back = ug_f32_to_bf16(f);
        if (bf16_is_nan((uint16_t)h)) {
            TU_CHECK(isnan(f), "bf16 %#06x should decode to NaN, got %g", h, (double)f);
            TU_CHECK(bf16_is_nan(back), "bf16 NaN %#06x came back as %#06x", h, back);
            TU_CHECK((back & 0x8000) == (h & 0x8000), "bf16 NaN %#06x lost its sign", h);
            continue;
        }
        TU_CHECK(bits_of_f32(f) == h << 16, "bf16 %#06x decodes to bits %#010x", h,
                 bits_of_f32(f));
        TU_CHECK(back == h, "bf16 %#06x -> f32 %a -> bf16 %#06x", h, (double)f, back);
    }
}

/* Every midpoint between two adjacent finite f16 values (either sign)
 * rounds to the even one; a hair above goes up, a hair below goes down. */
static void test_f32_to_f16_ties_to_even(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 0x7bff; h++) {
        for (uint32_t sign = 0; sign <= 0x8000; sign += 0x8000) {
            uint16_t lo = (uint16_t)(h | sign), hi = (uint16_t)((h + 1) | sign);
            float mid = (float)((tu_f16_value(lo) + tu_f16_value(hi)) / 2);
            uint16_t even = (h & 1) ? hi : lo;
            TU_CHECK(ug_f32_to_f16(mid) == even, "tie %a between %#06x and %#06x gave %#06x",
                     (double)mid, lo, hi, ug_f32_to_f16(mid));
            float above = nextafterf(mid, sign ? -INFINITY : INFINITY);
            float below = nextafterf(mid, 0.0f);
            TU_CHECK(ug_f32_to_f16(above) == hi, "%a (just past a tie) gave %#06x, want %#06x",
                     (double)above, ug_f32_to_f16(above), hi);
            TU_CHECK(ug_f32_to_f16(below) == lo, "%a (just short of a tie) gave %#06x, want %#06x",
                     (double)below, ug_f32_to_f16(below), lo);
        }
    }
}

static void test_f32_to_bf16_ties_to_even(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 0x7f7f; h++) {
        for (uint32_t sign = 0; sign <= 0x8000; sign += 0x8000) {
            uint16_t lo = (uint16_t)(h | sign), hi = (uint16_t)((h + 1) | sign);
            float mid = f32_from_bits(((uint32_t)lo << 16) | 0x8000u);
            uint16_t even = (h & 1) ? hi : lo;
            TU_CHECK(ug_f32_to_bf16(mid) == even, "tie %a between %#06x and %#06x gave %#06x",
                     (double)mid, lo, hi, ug_f32_to_bf16(mid));
            TU_CHECK(ug_f32_to_bf16(f32_from_bits(((uint32_t)lo << 16) | 0x8001u)) == hi,
                     "just past the tie above %#06x did not round up", lo);
            TU_CHECK(ug_f32_to_bf16(f32_from_bits(((uint32_t)lo << 16) | 0x7fffu)) == lo,
                     "just short of the tie above %#06x did not round down", lo);
        }
    }
}

/* A sweep of f32 bit patterns (a random offset, then every 997th) against
 * rounding computed exactly in f64. */
static void test_f32_conversions_match_exact_rounding(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    const uint64_t stride = 997;
    for (uint64_t u = hx_rng_next(&r) % stride; u <= 0xffffffffull; u += stride) {
        float x = f32_from_bits((uint32_t)u);
        if (isnan(x)) {
            TU_CHECK(f16_is_nan(ug_f32_to_f16(x)), "f32 NaN %#010x lost in f16", (uint32_t)u);
            TU_CHECK(bf16_is_nan(ug_f32_to_bf16(x)), "f32 NaN %#010x lost in bf16", (uint32_t)u);
            continue;
        }
        double want16 = round_exact_f16(x), got16 = tu_f16_value(ug_f32_to_f16(x));
        TU_CHECK(same_value(got16, want16),
                 "f32 %a -> f16 %a, expected %a", (double)x, got16, want16);
        double wantb = round_exact_bf16(x), gotb = tu_bf16_value(ug_f32_to_bf16(x));
        TU_CHECK(same_value(gotb, wantb),
                 "f32 %a -> bf16 %a, expected %a", (double)x, gotb, wantb);
    }
}

static void test_overflow_to_infinity(void **state)
{
    (void)state;
    assert_int_equal(ug_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(ug_f32_to_f16(nextafterf(65520.0f, 0.0f)), 0x7bff);
    assert_int_equal(ug_f32_to_f16(65520.0f), 0x7c00); /* the tie above the largest f16 */
    assert_int_equal(ug_f32_to_f16(-65520.0f), 0xfc00);
    assert_int_equal(ug_f32_to_f16(1e5f), 0x7c00);
    assert_int_equal(ug_f32_to_f16(FLT_MAX), 0x7c00);
    assert_int_equal(ug_f32_to_f16(-FLT_MAX), 0xfc00);
    assert_int_equal(ug_f32_to_f16(INFINITY), 0x7c00);
    assert_int_equal(ug_f32_to_f16(-INFINITY), 0xfc00);
    assert_true(isinf(ug_f16_to_f32(0x7c00)) && ug_f16_to_f32(0x7c00) > 0);
    assert_true(isinf(ug_f16_to_f32(0xfc00)) && ug_f16_to_f32(0xfc00) < 0);

    assert_int_equal(ug_f32_to_bf16(f32_from_bits(0x7f7f0000u)), 0x7f7f); /* largest bf16 */
    assert_int_equal(ug_f32_to_bf16(f32_from_bits(0x7f7f7fffu)), 0x7f7f);
    assert_int_equal(ug_f32_to_bf16(f32_from_bits(0x7f7f8000u)), 0x7f80); /* tie: to even = inf */
    assert_int_equal(ug_f32_to_bf16(FLT_MAX), 0x7f80);
    assert_int_equal(ug_f32_to_bf16(-FLT_MAX), 0xff80);
    assert_int_equal(ug_f32_to_bf16(INFINITY), 0x7f80);
    assert_int_equal(ug_f32_to_bf16(-INFINITY), 0xff80);
}

static void test_subnormals(void **state)
{
    (void)state;
    /* f16 subnormals: units of 2^-24 */
    assert_true(ug_f16_to_f32(0x0001) == 0x1p-24f);
    assert_true(ug_f16_to_f32(0x03ff) == 1023 * 0x1p-24f);
    assert_true(ug_f16_to_f32(0x8200) == -512 * 0x1p-24f);
    assert_int_equal(ug_f32_to_f16(0x1p-24f), 0x0001);
    assert_int_equal(ug_f32_to_f16(-0x1p-24f), 0x8001);
    assert_int_equal(ug_f32_to_f16(1023 * 0x1p-24f), 0x03ff);
    assert_int_equal(ug_f32_to_f16(0x1p-14f), 0x0400); /* smallest normal */
    assert_int_equal(ug_f32_to_f16(0x1p-25f), 0x0000); /* tie between 0 and 2^-24: even */
    assert_int_equal(ug_f32_to_f16(nextafterf(0x1p-25f, 1.0f)), 0x0001);
    assert_int_equal(ug_f32_to_f16(3 * 0x1p-25f), 0x0002); /* tie between 1 and 2 units */
    assert_int_equal(ug_f32_to_f16(5 * 0x1p-25f), 0x0002); /* tie between 2 and 3 units */
    assert_int_equal(ug_f32_to_f16(0x1p-26f), 0x0000);
    assert_int_equal(ug_f32_to_f16(1e-10f), 0x0000);
    assert_int_equal(ug_f32_to_f16(FLT_TRUE_MIN), 0x0000);
    /* the largest subnormal plus half a unit rounds up into the normals */
    assert_int_equal(ug_f32_to_f16(1023.5f * 0x1p-24f), 0x0400);

    /* bf16 subnormals are the f32 ones, rounded in their top half */
    assert_true(ug_bf16_to_f32(0x0001) == 0x1p-133f);
    assert_int_equal(ug_f32_to_bf16(0x1p-133f), 0x0001);
    assert_int_equal(ug_f32_to_bf16(FLT_TRUE_MIN), 0x0000);
    assert_int_equal(ug_f32_to_bf16(f32_from_bits(0x00008000u)), 0x0000); /* tie: even */
    assert_int_equal(ug_f32_to_bf16(f32_from_bits(0x00018000u)), 0x0002); /* tie: even */
    assert_int_equal(ug_f32_to_bf16(f32_from_bits(0x00008001u)), 0x0001);
    assert_int_equal(ug_f32_to_bf16(f32_from_bits(0x007fffffu)), 0x0080); /* up to the normals */
    assert_int_equal(ug_f32_to_bf16(f32_from_bits(0x807f0000u)), 0x807f);
}

static void test_negative_zero(void **state)
{
    (void)state;
    assert_int_equal(ug_f32_to_f16(-0.0f), 0x8000);
    assert_int_equal(ug_f32_to_f16(0.0f), 0x0000);
    assert_int_equal(ug_f32_to_bf16(-0.0f), 0x8000);
    assert_int_equal(ug_f32_to_bf16(0.0f), 0x0000);
    float z16 = ug_f16_to_f32(0x8000), zb = ug_bf16_to_f32(0x8000);
    assert_true(z16 == 0.0f && signbit(z16));
    assert_true(zb == 0.0f && signbit(zb));
    assert_false(signbit(ug_f16_to_f32(0x0000)));
    /* underflow keeps the sign */
    assert_int_equal(ug_f32_to_f16(-1e-10f), 0x8000);
    assert_int_equal(ug_f32_to_f16(-0x1p-25f), 0x8000);
    assert_int_equal(ug_f32_to_bf16(-FLT_TRUE_MIN), 0x8000);
}

static void test_nan_stays_nan(void **state)
{
    (void)state;
    /* quiet, signalling (payload only in the low bits), negative */
    static const uint32_t nans[] = {0x7fc00000u, 0x7f800001u, 0x7f801000u, 0x7fffffffu,
                                    0xffc00000u, 0xff800001u, 0x7f802000u};
    for (size_t i = 0; i < sizeof nans / sizeof *nans; i++) {
        float x = f32_from_bits(nans[i]);
        uint16_t h = ug_f32_to_f16(x), b = ug_f32_to_bf16(x);
        TU_CHECK(f16_is_nan(h), "f32 NaN %#010x -> f16 %#06x", nans[i], h);
        TU_CHECK(bf16_is_nan(b), "f32 NaN %#010x -> bf16 %#06x", nans[i], b);
        TU_CHECK((h >> 15) == (nans[i] >> 31), "f16 NaN lost the sign of %#010x", nans[i]);
        TU_CHECK((b >> 15) == (nans[i] >> 31), "bf16 NaN lost the sign of %#010x", nans[i]);
    }
    assert_true(isnan(ug_f16_to_f32(0x7c01)));
    assert_true(isnan(ug_f16_to_f32(0xfe00)));
    assert_true(isnan(ug_bf16_to_f32(0x7f81)));
    assert_true(isnan(ug_bf16_to_f32(0xffc0)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_names_round_trip),
        cmocka_unit_test(test_method_names_round_trip),
        cmocka_unit_test(test_backend_names_round_trip),
        cmocka_unit_test(test_method_aliases),
        cmocka_unit_test(test_out_of_range_values_have_no_name),
        cmocka_unit_test(test_unknown_names_are_named_in_the_error),
        cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_dtype_bits),
        cmocka_unit_test(test_version_string),
        cmocka_unit_test(test_f16_exhaustive),
        cmocka_unit_test(test_bf16_exhaustive),
        cmocka_unit_test(test_f32_to_f16_ties_to_even),
        cmocka_unit_test(test_f32_to_bf16_ties_to_even),
        cmocka_unit_test(test_f32_conversions_match_exact_rounding),
        cmocka_unit_test(test_overflow_to_infinity),
        cmocka_unit_test(test_subnormals),
        cmocka_unit_test(test_negative_zero),
        cmocka_unit_test(test_nan_stays_nan),
    };
    return cmocka_run_group_tests_name("types", tests, NULL, NULL);
}
