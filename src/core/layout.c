/*
 * layout.c - checking a weight format against a shape and deriving the
 * canonical array sizes: codes [N][K] (bits/8 bytes per element), scales and
 * biases [N][K/G] of the scale type, zero points [N][K/G] one byte each.
 */
#include <stdint.h>

#include "internal.h"

bool ug_mul_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

bool ug_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    return a >= 0 && b >= 0 && !__builtin_mul_overflow(a, b, out);
}

ug_status ug_check_aligned(ug_context *ctx, const void *p, size_t align, const char *what)
{
    if (align > 1 && (uintptr_t)p % align != 0)
        return ug_fail(ctx, UG_ERR_MISALIGNED, "%s = %p is not aligned to its %zu-byte elements",
                       what, p, align);
    return UG_OK;
}

bool ug_ranges_overlap(const void *p, size_t p_bytes, const void *q, size_t q_bytes)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)q;
    return p_bytes && q_bytes && a < b + q_bytes && b < a + p_bytes;
}

static ug_status check_enums(ug_context *ctx, const ug_weight_format *f)
{
    if ((int)f->storage < 0 || f->storage >= UG_DTYPE_COUNT_)
        return ug_fail(ctx, UG_ERR_INVALID_ENUM, "weight format: storage = %d is not a ug_dtype",
                       (int)f->storage);
    if ((int)f->method < 0 || f->method >= UG_METHOD_COUNT_)
        return ug_fail(ctx, UG_ERR_INVALID_ENUM, "weight format: method = %d is not a ug_method",
                       (int)f->method);
    if ((int)f->scale_type < 0 || f->scale_type >= UG_DTYPE_COUNT_)
        return ug_fail(ctx, UG_ERR_INVALID_ENUM, "weight format: scale_type = %d is not a ug_dtype",
                       (int)f->scale_type);
    return UG_OK;
}

static ug_status check_format(ug_context *ctx, const ug_weight_format *f)
{
    ug_status st = check_enums(ctx, f);
    if (st != UG_OK)
        return st;
    if (f->method == UG_METHOD_NONE) {
        if (!ug_is_float(f->storage))
            return ug_fail(ctx, UG_ERR_UNSUPPORTED,
                           "weight format: storage %s with method none is unsupported (integer "
                           "codes need scale_bias, scale_zero or symmetric)",
                           ug_dtype_name(f->storage));
        if (f->group_size != 0)
            return ug_fail(ctx, UG_ERR_INVALID_GROUP_SIZE,
                           "weight format: group_size = %d with method none (must be 0)",
                           (int)f->group_size);
        if (f->scale_type != UG_DTYPE_NONE)
            return ug_fail(ctx, UG_ERR_UNSUPPORTED,
                           "weight format: scale_type %s with method none (must be none)",
                           ug_dtype_name(f->scale_type));
        return UG_OK;
    }
    if (!ug_dtype_traits_of(f->storage)->is_code)
        return ug_fail(ctx, UG_ERR_UNSUPPORTED,
                       "weight format: storage %s with method %s is unsupported (quantized "
                       "methods take int4, uint4, int8 or uint8)",
                       ug_dtype_name(f->storage), ug_method_name(f->method));
    if (!ug_is_float(f->scale_type))
        return ug_fail(ctx, UG_ERR_UNSUPPORTED,
                       "weight format: scale_type %s is unsupported (float32, float16 or "
                       "bfloat16)",
                       ug_dtype_name(f->scale_type));
    int g = f->group_size;
    if (g != 32 && g != 64 && g != 128 && g != UG_GROUP_PER_CHANNEL)
        return ug_fail(ctx, UG_ERR_INVALID_GROUP_SIZE,
                       "weight format: group_size = %d is not one of 32, 64, 128, -1 (per "
                       "channel)",
                       g);
    return UG_OK;
}

ug_status ug_layout_make(ug_context *ctx, const ug_weight_format *f, int64_t n, int64_t k,
                         ug_layout *L)
{
    ug_status st = check_format(ctx, f);
    if (st != UG_OK)
        return st;
    if (n <= 0 || k <= 0)
        return ug_fail(ctx, UG_ERR_INVALID_SHAPE,
                       "weights: n = %lld and k = %lld must both be positive", (long long)n,
                       (long long)k);
    *L = (ug_layout){.format = *f, .n = n, .k = k};
    L->bits = ug_dtype_bits(f->storage);
    L->quantized = f->method != UG_METHOD_NONE;
    const ug_dtype_traits *t = ug_dtype_traits_of(f->storage);
    L->is_signed = t->code_min < 0;
    L->code_min = t->code_min;
    L->code_max = t->code_max;
    L->mid = t->mid;
    if (L->bits == 4 && k % 2 != 0)
        return ug_fail(ctx, UG_ERR_K_NOT_PACKABLE,
                       "weights: k = %lld is odd; 4-bit codes pack two per byte along K",
                       (long long)k);
    if (L->quantized) {
        L->group = f->group_size == UG_GROUP_PER_CHANNEL ? k : f->group_size;
        if (k % L->group != 0)
            return ug_fail(ctx, UG_ERR_GROUP_NOT_DIVIDING_K,
                           "weights: k = %lld is not a multiple of group_size %lld", (long long)k,
                           (long long)L->group);
        L->groups_per_row = k / L->group;
    }
    int64_t elems;
    if (!ug_mul_i64(n, k, &elems) || elems > INT64_MAX / 4)
        return ug_fail(ctx, UG_ERR_SIZE_OVERFLOW, "weights: n * k = %lld * %lld overflows",
                       (long long)n, (long long)k);
    size_t codes_bits;
    if (!ug_mul_size((size_t)elems, (size_t)L->bits, &codes_bits))
        return ug_fail(ctx, UG_ERR_SIZE_OVERFLOW, "weights: code bytes overflow");
    L->codes_bytes = codes_bits / 8;
    if (L->quantized) {
        size_t per = (size_t)n * (size_t)L->groups_per_row; /* <= n*k, no overflow */
        L->scales_bytes = per * ug_float_bytes(f->scale_type);
        const ug_method_traits *mt = ug_method_traits_of(f->method);
        L->biases_bytes = mt->has_bias ? L->scales_bytes : 0;
        L->zeros_bytes = mt->has_zero ? per : 0;
    }
    return UG_OK;
}

ug_status ug_weight_source_sizes(ug_context *ctx, const ug_weight_format *format, int64_t n,
                                 int64_t k, size_t *codes_bytes, size_t *scales_bytes,
                                 size_t *biases_bytes, size_t *zeros_bytes)
{
    if (format == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "ug_weight_source_sizes: format is NULL");
    ug_layout L;
    ug_status st = ug_layout_make(ctx, format, n, k, &L);
    if (st != UG_OK)
        return st;
    if (codes_bytes)
        *codes_bytes = L.codes_bytes;
    if (scales_bytes)
        *scales_bytes = L.scales_bytes;
    if (biases_bytes)
        *biases_bytes = L.biases_bytes;
    if (zeros_bytes)
        *zeros_bytes = L.zeros_bytes;
    return UG_OK;
}
