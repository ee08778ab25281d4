/*
 * import_mlx.c - MLX affine layers: <name>.weight U32 [N, K*bits/32] holds
 * each row's codes as a little-endian bit stream (code k at bits
 * [k*bits, (k+1)*bits) of the row, so 3-, 5- and 6-bit codes straddle
 * words); <name>.scales and <name>.biases [N, K/G] in the model's float
 * type; w = s*q + b. Codes of 2 to 4 bits become uint4, 5 to 8 bits uint8,
 * both exactly (the codes keep their values, only the storage widens).
 */
#include "io.h"

/* The canonical group size: G itself, or per channel when G is K. */
int32_t io_group_field(int64_t group, int64_t k)
{
    return group == 32 || group == 64 || group == 128 ? (int32_t)group : UG_GROUP_PER_CHANNEL;
}

ug_status io_import_mlx(ug_checkpoint *ckpt, const io_layer *layer, ug_imported_layer *out)
{
    const io_tensor *w = &ckpt->tensors[layer->main], *s = &ckpt->tensors[layer->scales],
                    *b = &ckpt->tensors[layer->biases];
    ug_dtype scale_type, bias_type;
    ug_status st;
    if ((st = io_float_type(ckpt, s, "scales", &scale_type)) ||
        (st = io_float_type(ckpt, b, "biases", &bias_type)))
        return st;
    if (scale_type != bias_type)
        return ug_fail(ckpt->ctx, UG_ERR_FILE_DTYPE,
                       "layer '%s': scales are %s but biases %s; one type is expected",
                       layer->name, io_type_info_of(s->type)->name, io_type_info_of(b->type)->name);
    int bits = layer->bits;
    int64_t n = layer->n, k = layer->k;
    ug_weight_format fmt = {bits <= 4 ? UG_U4 : UG_U8, UG_METHOD_SCALE_BIAS,
                            io_group_field(layer->group_size, k), scale_type};
    if ((st = io_alloc_source(ckpt, layer, &fmt, n, k, out)) != UG_OK)
        return st;
    size_t row_bytes = (size_t)w->shape[1] * 4, code_row = fmt.storage == UG_U4 ? (size_t)k / 2
                                                                                 : (size_t)k;
    unsigned mask = (1u << bits) - 1;
    for (int64_t r = 0; r < n; r++) {
        const uint8_t *src = w->data + (size_t)r * row_bytes;
        uint8_t *dst = (uint8_t *)out->codes + (size_t)r * code_row;
        for (int64_t i = 0; i < k; i++) {
            uint64_t bit = (uint64_t)i * (uint64_t)bits;
            /* A code spans at most two bytes (bits <= 8); the second byte
             * exists whenever the code reaches into it. */
            unsigned v = src[bit / 8];
            if (bit % 8 + (uint64_t)bits > 8)
                v |= (unsigned)src[bit / 8 + 1] << 8;
            ug_code_put(dst, ug_dtype_bits(fmt.storage), i, (int32_t)((v >> (bit % 8)) & mask));
        }
    }
    memcpy(out->scales, s->data, (size_t)s->bytes);
    memcpy(out->biases, b->data, (size_t)b->bytes);
    return UG_OK;
}
