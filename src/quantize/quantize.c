/*
 * quantize.c - round-to-nearest quantizers that produce the canonical
 * source arrays of every format from f32 weights w [N][K]:
 *   scale_bias  MLX's affine scheme (the group edge of larger magnitude is
 *               exact, the scale may be negative)
 *   scale_zero  min/max over a range that includes 0, integer zero point
 *   symmetric   absmax, s = max|w| / (2^(bits-1) - 1)
 * Scales and biases are rounded to the scale type first; codes are then
 * chosen against the rounded values, so dequantizing reproduces w to within
 * half a step (plus the scale type's rounding at the range's far edge).
 * Signed storage holds the same grid shifted by 2^(bits-1). A scale or bias
 * that overflows the scale type is refused; what was written before that
 * group is left in the output arrays.
 */
#include <math.h>
#include <string.h>

#include "../core/internal.h"

typedef struct group_params {
    double scale, bias; /* as rounded to the scale type */
    int32_t zero;       /* scale_zero: zero point code (signed range for signed storage) */
} group_params;

static double round_to(ug_dtype t, double v)
{
    switch (t) {
    case UG_F16:
        return ug_f16_to_f32(ug_f32_to_f16((float)v));
    case UG_BF16:
        return ug_bf16_to_f32(ug_f32_to_bf16((float)v));
    default:
        return (float)v;
    }
}

static int32_t clamp_round(double v, int32_t lo, int32_t hi)
{
    if (!(v == v))
        return lo;
    double r = nearbyint(v);
    return r < lo ? lo : r > hi ? hi : (int32_t)r;
}

/* Group parameters of one group x [G] for a quantized layout. */
static group_params fit_group(const ug_layout *L, const float *x)
{
    ug_dtype st = L->format.scale_type;
    int32_t levels = L->code_max - L->code_min; /* n_bins */
    int32_t half = 1 << (L->bits - 1);          /* shift between signed and unsigned grids */
    double lo = x[0], hi = x[0], amax = 0.0;
    for (int64_t i = 0; i < L->group; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        amax = fabs(x[i]) > amax ? fabs(x[i]) : amax;
    }
    group_params p = {0};
    switch (L->format.method) {
    case UG_METHOD_SCALE_BIAS: {
        bool low_edge = fabs(lo) > fabs(hi);
        double s = (hi - lo) / levels;
        s = s > 1e-7 ? s : 1e-7;
        s = low_edge ? s : -s;
        double edge = low_edge ? lo : hi;
        double q0 = nearbyint(edge / s);
        double b = 0.0;
        if (q0 != 0.0) {
            s = edge / q0;
            b = edge;
        }
        p.scale = round_to(st, s);
        /* signed codes run from -half: the same grid needs the bias moved up */
        p.bias = round_to(st, L->is_signed ? b + half * p.scale : b);
        break;
    }
    case UG_METHOD_SCALE_ZERO: {
        lo = lo < 0.0 ? lo : 0.0;
        hi = hi > 0.0 ? hi : 0.0;
        double s = (hi - lo) / levels;
        p.scale = round_to(st, s > 0.0 ? s : 1.0);
        p.zero = clamp_round(-lo / p.scale, 0, levels) - (L->is_signed ? half : 0);
        break;
    }
    default: { /* symmetric */
        double s = amax / (half - 1);
        p.scale = round_to(st, s > 0.0 ? s : 1.0);
        break;
    }
    }
    return p;
}

static int32_t code_for(const ug_layout *L, const group_params *p, double w)
{
    int32_t lo = L->code_min, hi = L->code_max;
    if (p->scale == 0.0)
        return lo;
    switch (L->format.method) {
    case UG_METHOD_SCALE_BIAS:
        return clamp_round((w - p->bias) / p->scale, lo, hi);
    case UG_METHOD_SCALE_ZERO:
        return clamp_round(w / p->scale + p->zero, lo, hi);
    default: /* symmetric: the grid is s * (q - mid), mid = 0 for signed codes */
        return clamp_round(w / p->scale + L->mid, lo, hi);
    }
}

static ug_status quantize_rows(ug_context *ctx, const ug_layout *L, const float *w, void *codes,
                               void *scales, void *biases, void *zeros)
{
    ug_dtype st = L->format.scale_type;
    size_t row_bytes = (size_t)L->k * (size_t)L->bits / 8;
    for (int64_t n = 0; n < L->n; n++) {
        uint8_t *row = (uint8_t *)codes + (size_t)n * row_bytes;
        for (int64_t g = 0; g < L->groups_per_row; g++) {
            const float *x = w + n * L->k + g * L->group;
            group_params p = fit_group(L, x);
            if (!isfinite(p.scale) || !isfinite(p.bias))
                return ug_fail(ctx, UG_ERR_INVALID_VALUE,
                               "ug_quantize: row %lld, group %lld: the %s %g overflows "
                               "scale_type %s",
                               (long long)n, (long long)g, isfinite(p.scale) ? "bias" : "scale",
                               isfinite(p.scale) ? p.bias : p.scale, ug_dtype_name(st));
            int64_t gi = n * L->groups_per_row + g;
            ug_store_float(scales, st, gi, p.scale);
            if (biases)
                ug_store_float(biases, st, gi, p.bias);
            if (zeros)
                ((int8_t *)zeros)[gi] = (int8_t)p.zero; /* same bits as the uint8 code */
            for (int64_t i = 0; i < L->group; i++)
                ug_code_put(row, L->bits, g * L->group + i, code_for(L, &p, x[i]));
        }
    }
    return UG_OK;
}

ug_status ug_quantize(ug_context *ctx, const ug_weight_format *format, int64_t n, int64_t k,
                      const float *w, void *codes, void *scales, void *biases, void *zeros)
{
    if (format == NULL || w == NULL || codes == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "ug_quantize: %s is NULL",
                       format == NULL ? "format"
                       : w == NULL    ? "w"
                                      : "codes");
    ug_layout L;
    ug_status st = ug_layout_make(ctx, format, n, k, &L);
    if (st != UG_OK)
        return st;
    if ((L.scales_bytes && !scales) || (L.biases_bytes && !biases) || (L.zeros_bytes && !zeros))
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "ug_quantize: %s is NULL but method %s has it",
                       L.scales_bytes && !scales   ? "scales"
                       : L.biases_bytes && !biases ? "biases"
                                                   : "zeros",
                       ug_method_name(format->method));
    size_t scale_align = ug_float_bytes(format->scale_type);
    st = ug_check_aligned(ctx, w, sizeof *w, "ug_quantize: w");
    if (st == UG_OK)
        st = ug_check_aligned(ctx, codes, L.quantized ? 1 : ug_float_bytes(format->storage),
                              "ug_quantize: codes");
    if (st == UG_OK)
        st = ug_check_aligned(ctx, scales, scale_align, "ug_quantize: scales");
    if (st == UG_OK)
        st = ug_check_aligned(ctx, biases, scale_align, "ug_quantize: biases");
    if (st != UG_OK)
        return st;
    for (int64_t i = 0; i < n * k; i++)
        if (!isfinite(w[i]))
            return ug_fail(ctx, UG_ERR_INVALID_VALUE,
                           "ug_quantize: w[%lld][%lld] = %g is not finite", (long long)(i / k),
                           (long long)(i % k), (double)w[i]);
    if (!L.quantized) {
        for (int64_t i = 0; i < n * k; i++)
            ug_store_float(codes, format->storage, i, w[i]);
        return UG_OK;
    }
    return quantize_rows(ctx, &L, w, codes, scales, L.biases_bytes ? biases : NULL,
                         L.zeros_bytes ? zeros : NULL);
}
