/*
 * import_awq.c - AutoAWQ layers, 4-bit, w = s*(q - z), zero points stored
 * as they are:
 *   GEMM  qweight I32 [K, N/8] packed along N: nibble i (bits 4i..4i+3) of
 *         word [k, c] is column 8c + ORDER[i], ORDER = 0 2 4 6 1 3 5 7;
 *         qzeros I32 [K/G, N/8] packed the same way; scales [K/G, N].
 *   GEMV  qweight I32 [N, K/8] packed along K in plain order (nibble i of
 *         word [n, c] is k = 8c + i); qzeros I32 [N, W] packed along the
 *         groups the same way; scales [N, 8W]; both padded past K/G groups.
 * The canonical source is uint4 scale_zero, or symmetric when every zero
 * point is 8.
 */
#include "io.h"

static const int awq_order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
/* The inverse: the nibble that holds column 8c + j. */
static const int awq_slot[8] = {0, 4, 1, 5, 2, 6, 3, 7};

static unsigned nibble(const uint8_t *words, size_t word, int i)
{
    return (io_le32(words + word * 4) >> (4 * i)) & 0xF;
}

/* Zero point of row r, group g. */
static unsigned zero_at(bool gemm, const io_tensor *z, int64_t n, int64_t r, int64_t g)
{
    if (gemm)
        return nibble(z->data, (size_t)(g * (n / 8) + r / 8), awq_slot[r % 8]);
    return nibble(z->data, (size_t)(r * z->shape[1] + g / 8), (int)(g % 8));
}

ug_status io_import_awq(ug_checkpoint *ckpt, const io_layer *layer, ug_imported_layer *out)
{
    const io_tensor *q = &ckpt->tensors[layer->main], *z = &ckpt->tensors[layer->zeros],
                    *s = &ckpt->tensors[layer->scales];
    bool gemm = layer->source == IO_SRC_AWQ_GEMM;
    int64_t n = layer->n, k = layer->k, groups = k / layer->group_size;
    ug_dtype scale_type;
    ug_status st = io_float_type(ckpt, s, "scales", &scale_type);
    if (st != UG_OK)
        return st;
    /* Zero points first: they decide the method. */
    bool symmetric = true;
    for (int64_t r = 0; r < n && symmetric; r++)
        for (int64_t g = 0; g < groups && symmetric; g++)
            symmetric = zero_at(gemm, z, n, r, g) == 8;
    ug_weight_format fmt = {UG_U4, symmetric ? UG_METHOD_SYMMETRIC : UG_METHOD_SCALE_ZERO,
                            io_group_field(layer->group_size, k), scale_type};
    if ((st = io_alloc_source(ckpt, layer, &fmt, n, k, out)) != UG_OK)
        return st;
    size_t row = (size_t)k / 2, esize = ug_float_bytes(scale_type);
    uint8_t *codes = out->codes, *zeros = out->zeros, *scales = out->scales;
    if (gemm) {
        size_t words = (size_t)(n / 8);
        for (int64_t kk = 0; kk < k; kk++)
            for (size_t c = 0; c < words; c++) {
                uint32_t w = io_le32(q->data + ((size_t)kk * words + c) * 4);
                for (int i = 0; i < 8; i++)
                    ug_code_put(codes + (c * 8 + (size_t)awq_order[i]) * row, 4, kk,
                                (int32_t)(w >> (4 * i)));
            }
    } else {
        size_t words = (size_t)(k / 8);
        for (int64_t r = 0; r < n; r++)
            for (size_t c = 0; c < words; c++) {
                uint32_t w = io_le32(q->data + ((size_t)r * words + c) * 4);
                for (int i = 0; i < 8; i++)
                    ug_code_put(codes + (size_t)r * row, 4, (int64_t)(c * 8) + i,
                                (int32_t)(w >> (4 * i)));
            }
    }
    for (int64_t r = 0; r < n; r++)
        for (int64_t g = 0; g < groups; g++) {
            size_t dst = (size_t)(r * groups + g);
            size_t src = gemm ? (size_t)(g * n + r) : (size_t)(r * s->shape[1] + g);
            memcpy(scales + dst * esize, s->data + src * esize, esize);
            if (zeros != NULL)
                zeros[dst] = (uint8_t)zero_at(gemm, z, n, r, g);
        }
    return UG_OK;
}
