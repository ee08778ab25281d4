/*
 * import_gguf.c - quantized GGUF tensors (ne = [K, N], blocks along each
 * row), block layouts as llama.cpp defines them:
 *   Q4_0  18 bytes per 32: f16 d, 16 bytes of nibbles; value j is the low
 *         nibble of byte j, value j+16 the high one; w = d*(q - 8)
 *         -> uint4 symmetric, G = 32, f16 scales d.
 *   Q4_1  20 bytes per 32: f16 d, f16 m, nibbles as Q4_0; w = d*q + m
 *         -> uint4 scale_bias, G = 32, f16 scales d and biases m.
 *   Q8_0  34 bytes per 32: f16 d, 32 int8; w = d*q
 *         -> int8 symmetric, G = 32, f16 scales d.
 *   Q4_K  144 bytes per 256: f16 d, f16 dmin, 12 bytes of 6-bit (sc, m)
 *         pairs for eight sub-blocks of 32, 128 bytes of nibbles (sub-blocks
 *         2i and 2i+1 in the low and high nibbles of bytes 32i..32i+31);
 *         w = d*sc*q - dmin*m
 *         -> uint4 scale_bias, G = 32, f32 scales d*sc and biases -dmin*m
 *         (an f16 times a 6-bit integer: exact in f32).
 */
#include "io.h"

/* Q4_K's (sc, m) of sub-block j from the 12 packed bytes: sub-blocks 0..3
 * in the low 6 bits of bytes j and j+4; sub-blocks 4..7 split between a
 * nibble of byte j+4 and the top 2 bits of bytes j-4 and j. */
static void q4_k_scale_min(const uint8_t *q, int j, unsigned *sc, unsigned *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

ug_status io_import_gguf(ug_checkpoint *ckpt, const io_layer *layer, ug_imported_layer *out)
{
    const io_tensor *t = &ckpt->tensors[layer->main];
    int64_t n = layer->n, k = layer->k;
    ug_weight_format fmt;
    switch (t->type) {
    case IO_Q4_0:
        fmt = (ug_weight_format){UG_U4, UG_METHOD_SYMMETRIC, 32, UG_F16};
        break;
    case IO_Q4_1:
        fmt = (ug_weight_format){UG_U4, UG_METHOD_SCALE_BIAS, 32, UG_F16};
        break;
    case IO_Q8_0:
        fmt = (ug_weight_format){UG_I8, UG_METHOD_SYMMETRIC, 32, UG_F16};
        break;
    case IO_Q4_K:
        fmt = (ug_weight_format){UG_U4, UG_METHOD_SCALE_BIAS, 32, UG_F32};
        break;
    default:
        return ug_fail(ckpt->ctx, UG_ERR_UNSUPPORTED, "layer '%s': GGUF type %s is not imported",
                       layer->name, io_type_info_of(t->type)->name);
    }
    ug_status st = io_alloc_source(ckpt, layer, &fmt, n, k, out);
    if (st != UG_OK)
        return st;
    const io_type_info *info = io_type_info_of(t->type);
    size_t blocks = (size_t)(k / info->block), groups = (size_t)k / 32;
    size_t code_row = fmt.storage == UG_U4 ? (size_t)k / 2 : (size_t)k;
    uint8_t *codes = out->codes;
    uint16_t *s16 = out->scales, *b16 = out->biases;
    float *s32 = out->scales, *b32 = out->biases;
    for (int64_t r = 0; r < n; r++) {
        const uint8_t *row = t->data + (size_t)r * blocks * (size_t)info->block_bytes;
        uint8_t *dst = codes + (size_t)r * code_row;
        size_t gbase = (size_t)r * groups;
        for (size_t b = 0; b < blocks; b++) {
            const uint8_t *blk = row + b * (size_t)info->block_bytes;
            int64_t k0 = (int64_t)b * info->block;
            switch (t->type) {
            case IO_Q4_0:
            case IO_Q4_1: {
                const uint8_t *qs = blk + (t->type == IO_Q4_0 ? 2 : 4);
                s16[gbase + b] = io_le16(blk);
                if (t->type == IO_Q4_1)
                    b16[gbase + b] = io_le16(blk + 2);
                for (int j = 0; j < 16; j++) {
                    ug_code_put(dst, 4, k0 + j, qs[j]);
                    ug_code_put(dst, 4, k0 + j + 16, qs[j] >> 4);
                }
                break;
            }
            case IO_Q8_0:
                s16[gbase + b] = io_le16(blk);
                memcpy(dst + k0, blk + 2, 32);
                break;
            default: { /* Q4_K */
                double d = ug_f16_to_f32(io_le16(blk)), dmin = ug_f16_to_f32(io_le16(blk + 2));
                const uint8_t *packed = blk + 4, *qs = blk + 16;
                for (int sub = 0; sub < 8; sub++) {
                    unsigned sc, m;
                    q4_k_scale_min(packed, sub, &sc, &m);
                    s32[gbase + b * 8 + (size_t)sub] = (float)(d * sc);
                    b32[gbase + b * 8 + (size_t)sub] = (float)(-(dmin * m));
                    const uint8_t *q = qs + 32 * (sub / 2);
                    for (int l = 0; l < 32; l++)
                        ug_code_put(dst, 4, k0 + 32 * sub + l, sub % 2 ? q[l] >> 4 : q[l]);
                }
            }
            }
        }
    }
    return UG_OK;
}
