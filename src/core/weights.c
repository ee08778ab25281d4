/*
 * weights.c - packing weights: the canonical source (codes [N][K], scales,
 * biases, zero points [N][K/G]) is checked here, then handed to the
 * context's backend, which copies it into the layout its kernels read.
 */
#include <stdlib.h>

#include "internal.h"

/* Zero points are codes: each must lie in the storage type's code range
 * (always true of the 8-bit ones, which fill their byte). */
static ug_status check_zeros(ug_context *ctx, const ug_layout *L, const void *zeros)
{
    int64_t count = L->n * L->groups_per_row;
    for (int64_t i = 0; i < count; i++) {
        int32_t v = L->is_signed ? ((const int8_t *)zeros)[i] : ((const uint8_t *)zeros)[i];
        if (v < L->code_min || v > L->code_max)
            return ug_fail(ctx, UG_ERR_INVALID_VALUE,
                           "weights: zero point %d at row %lld, group %lld is outside the %s "
                           "range %d..%d",
                           (int)v, (long long)(i / L->groups_per_row),
                           (long long)(i % L->groups_per_row), ug_dtype_name(L->format.storage),
                           (int)L->code_min, (int)L->code_max);
    }
    return UG_OK;
}

static ug_status check_source_arrays(ug_context *ctx, const ug_weight_source *src,
                                     const ug_layout *L)
{
    ug_method m = L->format.method;
    if (src->codes == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "weights: codes is NULL");
    if (L->quantized && src->scales == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "weights: scales is NULL (method %s needs them)",
                       ug_method_name(m));
    if (!L->quantized && src->scales != NULL)
        return ug_fail(ctx, UG_ERR_INVALID_VALUE,
                       "weights: scales given for full-precision weights (method none)");
    if (L->biases_bytes && src->biases == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "weights: biases is NULL (method scale_bias)");
    if (!L->biases_bytes && src->biases != NULL)
        return ug_fail(ctx, UG_ERR_INVALID_VALUE,
                       "weights: biases given, but method %s has none (did you mean scale_bias?)",
                       ug_method_name(m));
    if (L->zeros_bytes && src->zeros == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "weights: zeros is NULL (method scale_zero)");
    if (!L->zeros_bytes && src->zeros != NULL)
        return ug_fail(ctx, UG_ERR_INVALID_VALUE,
                       "weights: zeros given, but method %s has none (did you mean scale_zero?)",
                       ug_method_name(m));
    ug_status st = ug_check_aligned(
        ctx, src->codes, L->quantized ? 1 : ug_float_bytes(L->format.storage), "weights: codes");
    if (st == UG_OK)
        st = ug_check_aligned(ctx, src->scales, ug_float_bytes(L->format.scale_type),
                              "weights: scales");
    if (st == UG_OK)
        st = ug_check_aligned(ctx, src->biases, ug_float_bytes(L->format.scale_type),
                              "weights: biases");
    if (st == UG_OK && L->zeros_bytes)
        st = check_zeros(ctx, L, src->zeros);
    return st;
}

ug_status ug_weights_pack(ug_context *ctx, const ug_weight_source *src, ug_packed_weights **out)
{
    if (out != NULL)
        *out = NULL;
    if (ctx == NULL)
        return UG_ERR_NULL_ARGUMENT;
    if (src == NULL || out == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "ug_weights_pack: %s is NULL",
                       src == NULL ? "src" : "out");
    if (!ug_version_ok(src->struct_version))
        return ug_fail(ctx, UG_ERR_STRUCT_VERSION,
                       "ug_weights_pack: src.struct_version = %u, this library reads 1..%u "
                       "(use UG_WEIGHT_SOURCE_INIT)",
                       (unsigned)src->struct_version, (unsigned)UG_STRUCT_VERSION);
    ug_layout L;
    ug_status st = ug_layout_make(ctx, &src->format, src->n, src->k, &L);
    if (st != UG_OK)
        return st;
    st = check_source_arrays(ctx, src, &L);
    if (st != UG_OK)
        return st;
    ug_packed_weights *w = calloc(1, sizeof *w);
    if (w == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "ug_weights_pack: out of host memory");
    w->backend = ctx->backend;
    w->device = ctx->device;
    w->layout = L;
    w->ops = ctx->ops;
    st = ctx->ops->weights_pack(ctx, src, w);
    if (st != UG_OK) {
        free(w);
        return st;
    }
    *out = w;
    return UG_OK;
}

void ug_weights_destroy(ug_packed_weights *w)
{
    if (w == NULL)
        return;
    w->ops->weights_free(w);
    free(w);
}

ug_status ug_weights_describe(const ug_packed_weights *w, ug_weight_format *format, int64_t *n,
                              int64_t *k)
{
    if (w == NULL)
        return UG_ERR_NULL_ARGUMENT;
    if (format)
        *format = w->layout.format;
    if (n)
        *n = w->layout.n;
    if (k)
        *k = w->layout.k;
    return UG_OK;
}

ug_status ug_weights_unpack(ug_context *ctx, const ug_packed_weights *w, void *codes, void *scales,
                            void *biases, void *zeros)
{
    if (ctx == NULL)
        return UG_ERR_NULL_ARGUMENT;
    if (w == NULL || codes == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "ug_weights_unpack: %s is NULL",
                       w == NULL ? "weights" : "codes");
    const ug_layout *L = &w->layout;
    if ((L->scales_bytes && !scales) || (L->biases_bytes && !biases) || (L->zeros_bytes && !zeros))
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT,
                       "ug_weights_unpack: %s is NULL but method %s has it",
                       L->scales_bytes && !scales   ? "scales"
                       : L->biases_bytes && !biases ? "biases"
                                                    : "zeros",
                       ug_method_name(L->format.method));
    if (w->backend != ctx->backend || w->device != ctx->device)
        return ug_fail(ctx, UG_ERR_MISMATCH,
                       "ug_weights_unpack: weights were packed for backend %s device %d, context "
                       "is %s device %d",
                       ug_backend_name(w->backend), (int)w->device, ug_backend_name(ctx->backend),
                       (int)ctx->device);
    size_t scale_align = ug_float_bytes(L->format.scale_type);
    ug_status st =
        ug_check_aligned(ctx, codes, L->quantized ? 1 : ug_float_bytes(L->format.storage),
                         "ug_weights_unpack: codes");
    if (st == UG_OK)
        st = ug_check_aligned(ctx, scales, scale_align, "ug_weights_unpack: scales");
    if (st == UG_OK)
        st = ug_check_aligned(ctx, biases, scale_align, "ug_weights_unpack: biases");
    if (st != UG_OK)
        return st;
    return w->ops->weights_unpack(ctx, w, codes, scales, biases, zeros);
}
