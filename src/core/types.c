/*
 * types.c - the traits tables of data types and methods (wire names, bits,
 * code ranges, which arrays a method has) and the backends' names; parsing;
 * f16/bf16 conversions (round to nearest even, NaN kept); loading
 * and storing float elements; reading canonical 4/8-bit codes.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

static const ug_dtype_traits dtype_table[UG_DTYPE_COUNT_] = {
    [UG_DTYPE_NONE] = {.name = "none"},
    [UG_F32] = {.name = "float32", .bits = 32, .is_float = true},
    [UG_F16] = {.name = "float16", .bits = 16, .is_float = true},
    [UG_BF16] = {.name = "bfloat16", .bits = 16, .is_float = true},
    [UG_I4] = {.name = "int4", .bits = 4, .is_code = true, .code_min = -8, .code_max = 7},
    [UG_U4] = {.name = "uint4", .bits = 4, .is_code = true, .code_max = 15, .mid = 8},
    [UG_I8] = {.name = "int8", .bits = 8, .is_code = true, .code_min = -128, .code_max = 127},
    [UG_U8] = {.name = "uint8", .bits = 8, .is_code = true, .code_max = 255, .mid = 128},
};
static const ug_method_traits method_table[UG_METHOD_COUNT_] = {
    [UG_METHOD_NONE] = {.name = "none"},
    [UG_METHOD_SCALE_BIAS] = {.name = "scale_bias", .alias = "mlx", .has_bias = true},
    [UG_METHOD_SCALE_ZERO] = {.name = "scale_zero", .alias = "awq", .has_zero = true},
    [UG_METHOD_SYMMETRIC] = {.name = "symmetric"},
};
static const char *const backend_names[UG_BACKEND_COUNT_] = {
    [UG_BACKEND_AUTO] = "auto",
    [UG_BACKEND_REF] = "ref",
    [UG_BACKEND_CPU] = "cpu",
    [UG_BACKEND_CUDA] = "cuda",
};

const ug_dtype_traits *ug_dtype_traits_of(ug_dtype d)
{
    return (int)d >= 0 && d < UG_DTYPE_COUNT_ ? &dtype_table[d] : NULL;
}
const ug_method_traits *ug_method_traits_of(ug_method m)
{
    return (int)m >= 0 && m < UG_METHOD_COUNT_ ? &method_table[m] : NULL;
}

const char *ug_dtype_name(ug_dtype d)
{
    return ug_dtype_traits_of(d) ? dtype_table[d].name : "?";
}
const char *ug_method_name(ug_method m)
{
    return ug_method_traits_of(m) ? method_table[m].name : "?";
}
const char *ug_backend_name(ug_backend b)
{
    return (int)b >= 0 && b < UG_BACKEND_COUNT_ ? backend_names[b] : "?";
}
int32_t ug_dtype_bits(ug_dtype d)
{
    return ug_dtype_traits_of(d) ? dtype_table[d].bits : 0;
}

ug_status ug_dtype_parse(ug_context *ctx, const char *name, ug_dtype *out)
{
    if (name == NULL || out == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "ug_dtype_parse: %s is NULL",
                       name == NULL ? "name" : "out");
    for (int i = 0; i < UG_DTYPE_COUNT_; i++)
        if (strcmp(dtype_table[i].name, name) == 0) {
            *out = (ug_dtype)i;
            return UG_OK;
        }
    return ug_fail(ctx, UG_ERR_UNKNOWN_NAME,
                   "unknown data type '%.64s' (expected float32, float16, bfloat16, int4, uint4, "
                   "int8, uint8 or none)",
                   name);
}

ug_status ug_method_parse(ug_context *ctx, const char *name, ug_method *out)
{
    if (name == NULL || out == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "ug_method_parse: %s is NULL",
                       name == NULL ? "name" : "out");
    for (int i = 0; i < UG_METHOD_COUNT_; i++) {
        const ug_method_traits *t = &method_table[i];
        if (strcmp(t->name, name) == 0 || (t->alias && strcmp(t->alias, name) == 0)) {
            *out = (ug_method)i;
            return UG_OK;
        }
    }
    return ug_fail(ctx, UG_ERR_UNKNOWN_NAME,
                   "unknown quantization method '%.64s' (expected none, scale_bias (mlx), "
                   "scale_zero (awq) or symmetric)",
                   name);
}

ug_status ug_backend_parse(ug_context *ctx, const char *name, ug_backend *out)
{
    if (name == NULL || out == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "ug_backend_parse: %s is NULL",
                       name == NULL ? "name" : "out");
    for (int i = 0; i < UG_BACKEND_COUNT_; i++)
        if (strcmp(backend_names[i], name) == 0) {
            *out = (ug_backend)i;
            return UG_OK;
        }
    return ug_fail(ctx, UG_ERR_UNKNOWN_NAME,
                   "unknown backend '%.64s' (expected auto, ref, cpu or cuda)", name);
}

bool ug_is_float(ug_dtype d)
{
    return ug_dtype_traits_of(d) && dtype_table[d].is_float;
}

size_t ug_float_bytes(ug_dtype d)
{
    return ug_is_float(d) ? (size_t)dtype_table[d].bits / 8 : 0;
}

static uint32_t f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

uint16_t ug_f32_to_bf16(float x)
{
    uint32_t u = f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep sign, force a quiet payload */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float ug_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t ug_f32_to_f16(float x)
{
    uint32_t u = f32_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* rounds to >= 65520: overflow to infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) { /* below 2^-14: subnormal f16 (or zero) */
        /* value = a_float; f16 subnormal unit is 2^-24. Shift the mantissa
         * with its implicit bit into place and round to nearest even. */
        int exp = (int)(a >> 23);
        if (exp < 102) /* below 2^-25: rounds to zero */
            return sign;
        uint32_t mant = (a & 0x7fffffu) | 0x800000u;
        int shift = 126 - exp; /* 14..24 */
        uint32_t q = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u)))
            q++;
        return (uint16_t)(sign | q);
    }
    /* normal: rebias exponent (127 -> 15) and round the 13 dropped bits */
    uint32_t r = a - 0x38000000u;
    r += 0xfffu + ((r >> 13) & 1u);
    return (uint16_t)(sign | (r >> 13));
}

float ug_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f)
        return bits_f32(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

double ug_load_float(const void *base, ug_dtype dtype, int64_t i)
{
    switch (dtype) {
    case UG_F32:
        return ((const float *)base)[i];
    case UG_F16:
        return ug_f16_to_f32(((const uint16_t *)base)[i]);
    case UG_BF16:
        return ug_bf16_to_f32(((const uint16_t *)base)[i]);
    default:
        return NAN;
    }
}

/* v rounded to f32 "to odd": truncated toward zero, lowest bit set when
 * inexact. Rounding that to a format of at most 22 significant bits (f16,
 * bf16) gives the correctly rounded result of v itself: no double rounding. */
static float f64_to_f32_odd(double v)
{
    float f = (float)v;
    if (isnan(v) || (double)f == v)
        return f;
    if (fabs((double)f) > fabs(v))
        f = nextafterf(f, 0.0f);
    uint32_t u = f32_bits(f) | 1u;
    return bits_f32(u);
}

void ug_store_float(void *base, ug_dtype dtype, int64_t i, double v)
{
    switch (dtype) {
    case UG_F32:
        ((float *)base)[i] = (float)v;
        break;
    case UG_F16:
        ((uint16_t *)base)[i] = ug_f32_to_f16(f64_to_f32_odd(v));
        break;
    case UG_BF16:
        ((uint16_t *)base)[i] = ug_f32_to_bf16(f64_to_f32_odd(v));
        break;
    default:
        break;
    }
}

int32_t ug_code_at(const uint8_t *row, int bits, bool is_signed, int64_t k)
{
    if (bits == 8)
        return is_signed ? (int32_t)(int8_t)row[k] : (int32_t)row[k];
    uint32_t nib = (row[k >> 1] >> ((k & 1) * 4)) & 0xfu;
    return is_signed ? (int32_t)(nib ^ 8u) - 8 : (int32_t)nib;
}

void ug_code_put(uint8_t *row, int bits, int64_t k, int32_t q)
{
    if (bits == 8) {
        row[k] = (uint8_t)q;
        return;
    }
    int shift = (int)(k & 1) * 4;
    uint8_t *b = &row[k >> 1];
    *b = (uint8_t)((*b & ~(0xfu << shift)) | (((uint32_t)q & 0xfu) << shift));
}
