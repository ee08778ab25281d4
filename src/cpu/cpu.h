/*
 * cpu.h - the cpu backend's prepacked weight layout and its kernel table.
 *
 * Layout (one allocation, 64-byte aligned). W [N][K] is cut into panels of
 * CPU_NR = 16 consecutive rows (N padded with zero rows to a multiple of 16);
 * inside a panel the 16 rows of one k are adjacent, so that one SIMD load
 * gives one k of 16 output columns:
 *
 *   full precision  panel p = [K][16] elements of the storage type.
 *   quantized       panel p = groups_per_row blocks; block g =
 *                     codes   [G/2][16] bytes (4-bit: low nibble = code of
 *                             k = 2j, high nibble = code of k = 2j + 1), or
 *                             [G][16] bytes (8-bit)
 *                     scales  [16] of scale_type
 *                     biases  [16] of scale_type     (scale_bias only)
 *                     zeros   [16] bytes             (scale_zero only)
 *                   4-bit codes and zero points are stored as unsigned
 *                   nibbles (signed ones + 8), 8-bit ones as signed bytes
 *                   (unsigned ones - 128: centred codes keep the decode's
 *                   per-group sums from cancelling). With
 *                     q' = stored code, z' = stored zero (scale_zero),
 *                          the stored value of the symmetric zero, or the
 *                          offset of the stored codes (scale_bias),
 *                   every dequantized weight is w = s * (q' - z') + b (b = 0
 *                   unless scale_bias), which equals the oracle's formula:
 *                   q' - z' is exact in f32 and one fma rounds once.
 *
 * Packing and unpacking are exact inverses (tested for every format).
 */
#ifndef UG_CPU_H
#define UG_CPU_H

#include "../core/internal.h"

#define CPU_NR 16

typedef struct cpu_weights {
    ug_layout L;
    int64_t panels;         /* ceil(N / 16) */
    size_t panel_bytes;     /* bytes of one panel */
    size_t block_bytes;     /* quantized: bytes of one (panel, group) block */
    size_t block_codes;     /* quantized: bytes of the codes of a block */
    size_t scale_size;      /* bytes of one scale (2 or 4) */
    bool zero_per_row;      /* scale_zero: z' read from the block (like the codes) */
    float zero_const;       /* otherwise z' */
    uint8_t *data;
} cpu_weights;

static inline const uint8_t *cpu_panel(const cpu_weights *w, int64_t p)
{
    return w->data + (size_t)p * w->panel_bytes;
}

/* A quantized block's parts. */
static inline const uint8_t *cpu_block(const cpu_weights *w, int64_t p, int64_t g)
{
    return cpu_panel(w, p) + (size_t)g * w->block_bytes;
}

/* One decode call: tokens [0, mt) (mt <= CPU_DECODE_MT) of activations x
 * (f32, [mt][ldx]) against panel `panel`; xsum [mt][groups_per_row] holds
 * each group's sum of x (quantized only). Writes the 16 dot products of
 * every token to out [mt][16]. */
#define CPU_DECODE_MT 4
typedef struct cpu_decode_args {
    const cpu_weights *w;
    int64_t panel;
    int mt;
    const float *x;
    int64_t ldx;
    const float *xsum;
    float *out;
} cpu_decode_args;

/* Weight classes: what a kernel set is compiled for (one per storage width
 * and float type; uint4/int4 share the 4-bit codes, uint8/int8 the 8-bit). */
enum { CPU_W_CODES4, CPU_W_CODES8, CPU_W_F32, CPU_W_F16, CPU_W_BF16 };

/* A kernel set for one instruction set and weight class, generated from
 * spec/kernels.toml (src/generated/cpu_<isa>.c, kernels/kernel_body.h). The
 * prefill micro-kernel computes a tile of mr rows of A x (np * 16) columns:
 * a [kc][mr] packed f32 rows of A, b[j] [kc][16] f32 (dequantized panels),
 * c [mr][ldc] f32 accumulated into (or overwritten when accumulate is
 * false). */
typedef struct cpu_kernels {
    const char *isa;
    int mr, np;
    void (*decode)(const cpu_decode_args *args);
    /* Panel p, k in [k0, k0 + kc), dequantized (or converted) to out [kc][16]. */
    void (*dequant)(const cpu_weights *w, int64_t p, int64_t k0, int64_t kc, float *out);
    /* Rows [0, rows) of A from column k0, kc columns, as f32 [kc][mr], zero
     * rows past `rows`. */
    void (*pack_a)(const void *a, ug_dtype a_type, int64_t lda, int rows, int64_t k0, int64_t kc,
                   float *out);
    void (*micro)(int64_t kc, const float *a, const float *const *b, float *c, int64_t ldc,
                  bool accumulate);
} cpu_kernels;

/* The kernel sets in the order the registry's cpu rows index them
 * (src/generated/cpu_impls.c); NULL for an instruction set this
 * architecture does not compile. */
extern const cpu_kernels *const ug_cpu_impls[];
extern const int ug_cpu_impl_count;

#endif /* UG_CPU_H */
