/*
 * import_gptq.c - GPTQ layers (AutoGPTQ, GPTQModel), 2, 4 or 8 bits:
 *   qweight I32 [K*b/32, N] packed along K: bits [b*j, b*(j+1)) of word
 *           [r, n] hold k = r*(32/b) + j;
 *   qzeros  I32 [groups, N*b/32] packed along N the same way;
 *   scales  [groups, N]; g_idx I32 [K], the group of each k (k / G unless
 *           the checkpoint was made with act-order).
 * w[n, k] = s[g_idx[k], n] * (q[k, n] - z[g_idx[k], n]). Version 1 files
 * store z - 1 (a stored all-ones field means 2^b); version 2 stores z.
 * Act-order is made exact by sorting K by g_idx: canonical column j is the
 * file's column k_perm[j], and every group must then hold G columns.
 */
#include <stdlib.h>

#include "io.h"

static unsigned field(const uint8_t *words, size_t word, int bits, int j)
{
    return (io_le32(words + word * 4) >> (bits * j)) & ((1u << bits) - 1);
}

/* The zero point of group g, row r: stored as is (v2) or minus one (v1). */
static unsigned zero_at(const io_tensor *z, int bits, int version, int64_t g, int64_t r)
{
    int per_word = 32 / bits;
    return field(z->data, (size_t)(g * z->shape[1] + r / per_word), bits, (int)(r % per_word)) +
           (version == 1);
}

static int64_t g_idx_at(const io_tensor *g, int64_t k)
{
    const uint8_t *p = g->data + (size_t)k * (g->type == IO_I64 ? 8 : 4);
    return g->type == IO_I64 ? (int64_t)io_le64(p) : (int64_t)(int32_t)io_le32(p);
}

/* The act-order permutation: K sorted by g_idx, stable (a counting sort). */
static ug_status sort_by_group(ug_checkpoint *ckpt, const io_layer *l, const io_tensor *g,
                               int64_t groups, int32_t **perm_out)
{
    int64_t k = l->k, G = l->group_size;
    int32_t *perm = malloc((size_t)k * sizeof *perm);
    int64_t *next = calloc((size_t)groups + 1, sizeof *next);
    if (perm == NULL || next == NULL) {
        free(perm);
        free(next);
        return ug_fail(ckpt->ctx, UG_ERR_OUT_OF_MEMORY, "layer '%s': no memory for g_idx", l->name);
    }
    for (int64_t i = 0; i < k; i++)
        next[g_idx_at(g, i) + 1]++;
    for (int64_t i = 0; i < groups; i++) {
        if (next[i + 1] != G) {
            int64_t count = next[i + 1];
            free(perm);
            free(next);
            return ug_fail(ckpt->ctx, UG_ERR_UNSUPPORTED,
                           "layer '%s': g_idx puts %lld columns in group %lld, not the %lld of "
                           "every other group; such a layer has no uniform group size",
                           l->name, (long long)count, (long long)i, (long long)G);
        }
        next[i + 1] += next[i];
    }
    for (int64_t i = 0; i < k; i++)
        perm[next[g_idx_at(g, i)]++] = (int32_t)i;
    free(next);
    *perm_out = perm;
    return UG_OK;
}

ug_status io_import_gptq(ug_checkpoint *ckpt, const io_layer *layer,
                         const ug_import_options *opt, ug_imported_layer *out)
{
    const io_tensor *q = &ckpt->tensors[layer->main], *z = &ckpt->tensors[layer->zeros],
                    *s = &ckpt->tensors[layer->scales];
    const io_tensor *g = layer->g_idx >= 0 ? &ckpt->tensors[layer->g_idx] : NULL;
    int bits = layer->bits, per_word = 32 / bits;
    int64_t n = layer->n, k = layer->k, G = layer->group_size, groups = k / G;
    int version = opt->gptq_version ? opt->gptq_version
                  : ckpt->config.gptq_version ? ckpt->config.gptq_version
                                              : 1;
    ug_dtype scale_type;
    ug_status st = io_float_type(ckpt, s, "scales", &scale_type);
    if (st != UG_OK)
        return st;
    if (g != NULL)
        for (int64_t i = 0; i < k; i++)
            if (g_idx_at(g, i) < 0 || g_idx_at(g, i) >= groups)
                return ug_fail(ckpt->ctx, UG_ERR_INVALID_VALUE,
                               "layer '%s': g_idx[%lld] = %lld is not a group (0..%lld)",
                               layer->name, (long long)i, (long long)g_idx_at(g, i),
                               (long long)groups - 1);
    /* The zero points decide the method. */
    ug_dtype storage = bits <= 4 ? UG_U4 : UG_U8;
    unsigned code_max = storage == UG_U4 ? 15 : 255, mid = 1u << (bits - 1);
    bool symmetric = bits == ug_dtype_bits(storage), in_range = true;
    for (int64_t gi = 0; gi < groups; gi++)
        for (int64_t r = 0; r < n; r++) {
            unsigned zero = zero_at(z, bits, version, gi, r);
            symmetric &= zero == mid;
            in_range &= zero <= code_max;
        }
    ug_weight_format fmt = {storage,
                            !in_range   ? UG_METHOD_SCALE_BIAS
                            : symmetric ? UG_METHOD_SYMMETRIC
                                        : UG_METHOD_SCALE_ZERO,
                            io_group_field(G, k), in_range ? scale_type : UG_F32};
    if (!in_range && scale_type == UG_F32)
        return ug_fail(ckpt->ctx, UG_ERR_UNSUPPORTED,
                       "layer '%s': a v1 zero point of %u (stored all ones) needs b = -z*s, "
                       "which f32 scales cannot hold exactly",
                       layer->name, code_max + 1);
    if ((st = io_alloc_source(ckpt, layer, &fmt, n, k, out)) != UG_OK)
        return st;
    if (layer->act_order && (st = sort_by_group(ckpt, layer, g, groups, &out->k_perm)) != UG_OK)
        return st;
    const int32_t *perm = out->k_perm;
    size_t row = storage == UG_U4 ? (size_t)k / 2 : (size_t)k;
    uint8_t *codes = out->codes;
    for (int64_t j = 0; j < k; j++) {
        int64_t kk = perm != NULL ? perm[j] : j;
        size_t word = (size_t)(kk / per_word) * (size_t)n;
        int shift = bits * (int)(kk % per_word);
        for (int64_t r = 0; r < n; r++) {
            uint32_t w = io_le32(q->data + (word + (size_t)r) * 4);
            ug_code_put(codes + (size_t)r * row, ug_dtype_bits(storage), j,
                        (int32_t)((w >> shift) & ((1u << bits) - 1)));
        }
    }
    size_t esize = ug_float_bytes(scale_type);
    for (int64_t gi = 0; gi < groups; gi++)
        for (int64_t r = 0; r < n; r++) {
            size_t dst = (size_t)(r * groups + gi), src = (size_t)(gi * n + r);
            unsigned zero = zero_at(z, bits, version, gi, r);
            if (fmt.method == UG_METHOD_SCALE_BIAS) {
                /* s has at most 11 significant bits and z at most 9: s and
                 * -z*s are exact in f32. */
                double scale = io_float_at(s->data, scale_type, src);
                ((float *)out->scales)[dst] = (float)scale;
                ((float *)out->biases)[dst] = (float)(-(double)zero * scale);
                continue;
            }
            memcpy((uint8_t *)out->scales + dst * esize, s->data + src * esize, esize);
            if (out->zeros != NULL)
                ((uint8_t *)out->zeros)[dst] = (uint8_t)zero;
        }
    return UG_OK;
}
