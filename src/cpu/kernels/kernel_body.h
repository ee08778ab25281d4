/*
 * kernel_body.h - the cpu backend's kernels, written once over a "panel
 * vector" (pv: the 16 f32 lanes of one k of a weight panel) and compiled
 * once per instruction set and weight class. A generated file
 * (src/generated/cpu_<isa>.c, from spec/kernels.toml) defines CPU_MR,
 * CPU_NP and CPU_ISA_NAME, includes the instruction set's simd_<isa>.h,
 * which provides
 *
 *   pv                       a type holding 16 floats (in registers)
 *   pv_zero() pv_bcast(f)    all lanes 0 / f
 *   pv_add(a,b) pv_sub(a,b)
 *   pv_fma(a,b,c)            a*b + c, rounded once
 *   pv_fnma(a,b,c)           c - a*b, rounded once
 *   pv_load(p) pv_store(p,v) 16 f32, any alignment
 *   pv_load_f16(p) pv_load_bf16(p)   16 halves / bfloat16s, widened exactly
 *   pv_u8(p) pv_s8(p)        16 bytes as floats 0..255 / -128..127
 *   pv_u4(p, &lo, &hi)       16 bytes: low nibbles and high nibbles as floats
 *   scalar_f16(h)            one half widened to f32
 *
 * then this file, then CPU_KERNEL_SET(isa, class, CPU_W_*) once per weight
 * class, which defines the cpu_kernels ug_cpu_<isa>_<class>.
 *
 * Numerics (docs/cpu.md):
 *   decode   per group, f32 sums of x*q' over the group (exact codes, in
 *            CHAINS interleaved partial sums added in a fixed tree), then
 *            total += s * (sum - z' * xsum) + b * xsum, f32. Full precision:
 *            f32 sums of x*w.
 *   prefill  every weight dequantized exactly as w = fma(s, q' - z', b) into
 *            an f32 panel, then f32 multiply-adds in k order per output.
 * Neither depends on the thread count.
 */
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

static inline float scalar_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline pv load_floats(const void *p, ug_dtype t)
{
    switch (t) {
    case UG_F32:
        return pv_load((const float *)p);
    case UG_F16:
        return pv_load_f16(p);
    default:
        return pv_load_bf16(p);
    }
}

/* The params of block `blk`: scale, z' and bias (0 when there is none). */
static inline void block_params(const cpu_weights *w, const uint8_t *blk, pv *s, pv *z, pv *b)
{
    const uint8_t *p = blk + w->block_codes;
    *s = load_floats(p, w->L.format.scale_type);
    p += CPU_NR * w->scale_size;
    if (w->L.format.method == UG_METHOD_SCALE_BIAS) {
        *b = load_floats(p, w->L.format.scale_type);
        p += CPU_NR * w->scale_size;
    } else {
        *b = pv_zero();
    }
    if (!w->zero_per_row)
        *z = pv_bcast(w->zero_const);
    else
        *z = w->L.bits == 8 ? pv_s8(p) : pv_u8(p);
}

/* Independent partial sums per token: enough chains to cover the FMA latency
 * with few tokens, few enough to stay in registers with many. */
#define CHAINS(mt) ((mt) == 1 ? 4 : (mt) == 2 ? 2 : 1)

static inline __attribute__((always_inline)) pv sum_chains(const pv *c, int chains)
{
    if (chains == 1)
        return c[0];
    if (chains == 2)
        return pv_add(c[0], c[1]);
    return pv_add(pv_add(c[0], c[1]), pv_add(c[2], c[3]));
}

/* ----------------------------------------------------------------- decode */

/* Quantized, `mt` tokens, codes of `bits`: the dot products of one panel. */
static inline __attribute__((always_inline)) void decode_quant(const cpu_decode_args *A,
                                                               const int mt, const int bits)
{
    const cpu_weights *w = A->w;
    const int C = CHAINS(mt);
    const int64_t G = w->L.group, ng = w->L.groups_per_row, ldx = A->ldx;
    const bool has_bias = w->L.format.method == UG_METHOD_SCALE_BIAS;
    const bool has_zero = w->zero_per_row || w->zero_const != 0.0f;
    pv tot[CPU_DECODE_MT];
    for (int t = 0; t < mt; t++)
        tot[t] = pv_zero();
    for (int64_t g = 0; g < ng; g++) {
        const uint8_t *blk = cpu_block(w, A->panel, g);
        const float *x = A->x + g * G;
        pv acc[CPU_DECODE_MT][4];
        for (int t = 0; t < mt; t++)
            for (int c = 0; c < C; c++)
                acc[t][c] = pv_zero();
        if (bits == 4) {
            /* P pairs of k per step: chain of k = 2u (+1) within the step */
            const int P = C > 2 ? C / 2 : 1;
            const int64_t pairs = G / 2;
            int64_t j = 0;
            for (; j + P <= pairs; j += P) {
#pragma GCC unroll 4
                for (int u = 0; u < P; u++) {
                    pv lo, hi;
                    pv_u4(blk + (size_t)(j + u) * CPU_NR, &lo, &hi);
                    const int64_t k = 2 * (j + u);
                    for (int t = 0; t < mt; t++) {
                        acc[t][(2 * u) % C] =
                            pv_fma(pv_bcast(x[t * ldx + k]), lo, acc[t][(2 * u) % C]);
                        acc[t][(2 * u + 1) % C] =
                            pv_fma(pv_bcast(x[t * ldx + k + 1]), hi, acc[t][(2 * u + 1) % C]);
                    }
                }
            }
            for (; j < pairs; j++) {
                pv lo, hi;
                pv_u4(blk + (size_t)j * CPU_NR, &lo, &hi);
                for (int t = 0; t < mt; t++) {
                    acc[t][0] = pv_fma(pv_bcast(x[t * ldx + 2 * j]), lo, acc[t][0]);
                    acc[t][1 % C] = pv_fma(pv_bcast(x[t * ldx + 2 * j + 1]), hi, acc[t][1 % C]);
                }
            }
        } else {
            int64_t k = 0;
            for (; k + C <= G; k += C) {
#pragma GCC unroll 4
                for (int u = 0; u < C; u++) {
                    pv q = pv_s8(blk + (size_t)(k + u) * CPU_NR);
                    for (int t = 0; t < mt; t++)
                        acc[t][u] = pv_fma(pv_bcast(x[t * ldx + k + u]), q, acc[t][u]);
                }
            }
            for (; k < G; k++) {
                pv q = pv_s8(blk + (size_t)k * CPU_NR);
                for (int t = 0; t < mt; t++)
                    acc[t][0] = pv_fma(pv_bcast(x[t * ldx + k]), q, acc[t][0]);
            }
        }
        pv s, z, b;
        block_params(w, blk, &s, &z, &b);
        for (int t = 0; t < mt; t++) {
            pv sum = sum_chains(acc[t], C);
            pv xs = pv_bcast(A->xsum[t * ng + g]);
            if (has_zero)
                sum = pv_fnma(z, xs, sum);
            tot[t] = pv_fma(s, sum, tot[t]);
            if (has_bias)
                tot[t] = pv_fma(b, xs, tot[t]);
        }
    }
    for (int t = 0; t < mt; t++)
        pv_store(A->out + t * CPU_NR, tot[t]);
}

/* Full precision weights of `storage`, `mt` tokens. */
static inline __attribute__((always_inline)) void decode_dense(const cpu_decode_args *A,
                                                               const int mt, const ug_dtype st)
{
    const cpu_weights *w = A->w;
    const int C = CHAINS(mt);
    const int64_t K = w->L.k, ldx = A->ldx;
    const size_t esz = st == UG_F32 ? 4 : 2;
    const uint8_t *panel = cpu_panel(w, A->panel);
    pv acc[CPU_DECODE_MT][4];
    for (int t = 0; t < mt; t++)
        for (int c = 0; c < C; c++)
            acc[t][c] = pv_zero();
    int64_t k = 0;
    for (; k + C <= K; k += C) {
#pragma GCC unroll 4
        for (int u = 0; u < C; u++) {
            pv v = load_floats(panel + (size_t)(k + u) * CPU_NR * esz, st);
            for (int t = 0; t < mt; t++)
                acc[t][u] = pv_fma(pv_bcast(A->x[t * ldx + k + u]), v, acc[t][u]);
        }
    }
    for (; k < K; k++) {
        pv v = load_floats(panel + (size_t)k * CPU_NR * esz, st);
        for (int t = 0; t < mt; t++)
            acc[t][0] = pv_fma(pv_bcast(A->x[t * ldx + k]), v, acc[t][0]);
    }
    for (int t = 0; t < mt; t++)
        pv_store(A->out + t * CPU_NR, sum_chains(acc[t], C));
}

/* `mt` tokens (1, 2 or 4) of weights of class `cls` (a constant). */
static inline __attribute__((always_inline)) void decode_tile(const cpu_decode_args *A,
                                                              const int mt, const int cls)
{
    switch (cls) {
    case CPU_W_CODES4:
        decode_quant(A, mt, 4);
        break;
    case CPU_W_CODES8:
        decode_quant(A, mt, 8);
        break;
    case CPU_W_F32:
        decode_dense(A, mt, UG_F32);
        break;
    case CPU_W_F16:
        decode_dense(A, mt, UG_F16);
        break;
    default:
        decode_dense(A, mt, UG_BF16);
        break;
    }
}

/* All A->mt tokens, four at a time, then two, then one. */
static inline __attribute__((always_inline)) void decode_weights(const cpu_decode_args *A,
                                                                 const int cls)
{
    cpu_decode_args one = *A;
    int done = 0;
    while (done < A->mt) {
        int left = A->mt - done;
        one.x = A->x + done * A->ldx;
        one.xsum = A->xsum ? A->xsum + done * A->w->L.groups_per_row : NULL;
        one.out = A->out + done * CPU_NR;
        if (left >= 4) {
            one.mt = 4;
            decode_tile(&one, 4, cls);
        } else if (left >= 2) {
            one.mt = 2;
            decode_tile(&one, 2, cls);
        } else {
            one.mt = 1;
            decode_tile(&one, 1, cls);
        }
        done += one.mt;
    }
}

/* ---------------------------------------------------------------- prefill */

/* Panel p, k in [k0, k0 + kc), of weights of class `cls` (a constant). */
static inline __attribute__((always_inline)) void dequant_weights(const cpu_weights *w, int64_t p,
                                                                  int64_t k0, int64_t kc,
                                                                  float *out, const int cls)
{
    const ug_layout *L = &w->L;
    if (cls == CPU_W_F32 || cls == CPU_W_F16 || cls == CPU_W_BF16) {
        const ug_dtype st = cls == CPU_W_F32 ? UG_F32 : cls == CPU_W_F16 ? UG_F16 : UG_BF16;
        const size_t esz = ug_float_bytes(st);
        const uint8_t *src = cpu_panel(w, p) + (size_t)k0 * CPU_NR * esz;
        if (st == UG_F32) {
            memcpy(out, src, (size_t)kc * CPU_NR * sizeof(float));
            return;
        }
        for (int64_t k = 0; k < kc; k++)
            pv_store(out + k * CPU_NR, load_floats(src + (size_t)k * CPU_NR * esz, st));
        return;
    }
    const int64_t G = L->group;
    int64_t k = k0;
    while (k < k0 + kc) {
        const int64_t g = k / G, end = (g + 1) * G < k0 + kc ? (g + 1) * G : k0 + kc;
        const uint8_t *blk = cpu_block(w, p, g);
        pv s, z, b;
        block_params(w, blk, &s, &z, &b);
        if (cls == CPU_W_CODES4) {
            /* k0, kc and G are even for 4-bit codes */
            for (; k < end; k += 2) {
                pv lo, hi;
                pv_u4(blk + (size_t)((k - g * G) / 2) * CPU_NR, &lo, &hi);
                pv_store(out + (k - k0) * CPU_NR, pv_fma(s, pv_sub(lo, z), b));
                pv_store(out + (k + 1 - k0) * CPU_NR, pv_fma(s, pv_sub(hi, z), b));
            }
        } else {
            for (; k < end; k++) {
                pv q = pv_s8(blk + (size_t)(k - g * G) * CPU_NR);
                pv_store(out + (k - k0) * CPU_NR, pv_fma(s, pv_sub(q, z), b));
            }
        }
    }
}

/* Rows [0, rows) (rows <= CPU_MR) of A (a_type, row stride lda), columns
 * [k0, k0 + kc), as f32 into out [kc][CPU_MR]; rows past `rows` are 0. */
static void pack_a(const void *a, ug_dtype t, int64_t lda, int rows, int64_t k0, int64_t kc,
                   float *out)
{
    for (int i = rows; i < CPU_MR; i++)
        for (int64_t k = 0; k < kc; k++)
            out[k * CPU_MR + i] = 0.0f;
    for (int i = 0; i < rows; i++) {
        const int64_t at = i * lda + k0;
        if (t == UG_F32) {
            const float *r = (const float *)a + at;
            for (int64_t k = 0; k < kc; k++)
                out[k * CPU_MR + i] = r[k];
        } else if (t == UG_F16) {
            const uint16_t *r = (const uint16_t *)a + at;
            for (int64_t k = 0; k < kc; k++)
                out[k * CPU_MR + i] = scalar_f16(r[k]);
        } else {
            const uint16_t *r = (const uint16_t *)a + at;
            for (int64_t k = 0; k < kc; k++)
                out[k * CPU_MR + i] = scalar_bf16(r[k]);
        }
    }
}

/* C tile [CPU_MR][CPU_NP * 16] (+)= A [kc][CPU_MR] . B_j [kc][16]. */
static void micro(int64_t kc, const float *a, const float *const *b, float *c, int64_t ldc,
                  bool accumulate)
{
    pv acc[CPU_MR][CPU_NP];
#pragma GCC unroll 16
    for (int i = 0; i < CPU_MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < CPU_NP; j++)
            acc[i][j] = accumulate ? pv_load(c + i * ldc + j * CPU_NR) : pv_zero();
    for (int64_t k = 0; k < kc; k++) {
        pv bv[CPU_NP];
#pragma GCC unroll 4
        for (int j = 0; j < CPU_NP; j++)
            bv[j] = pv_load(b[j] + k * CPU_NR);
#pragma GCC unroll 16
        for (int i = 0; i < CPU_MR; i++) {
            pv ai = pv_bcast(a[k * CPU_MR + i]);
#pragma GCC unroll 4
            for (int j = 0; j < CPU_NP; j++)
                acc[i][j] = pv_fma(ai, bv[j], acc[i][j]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < CPU_MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < CPU_NP; j++)
            pv_store(c + i * ldc + j * CPU_NR, acc[i][j]);
}

/* The kernel set ug_cpu_<ISA>_<CLS> for weights of class KIND. */
#define CPU_KERNEL_SET(ISA, CLS, KIND)                                                       \
    static void decode_##CLS(const cpu_decode_args *A)                                        \
    {                                                                                         \
        decode_weights(A, KIND);                                                              \
    }                                                                                         \
    static void dequant_##CLS(const cpu_weights *w, int64_t p, int64_t k0, int64_t kc,        \
                              float *out)                                                     \
    {                                                                                         \
        dequant_weights(w, p, k0, kc, out, KIND);                                             \
    }                                                                                         \
    const cpu_kernels ug_cpu_##ISA##_##CLS = {                                                \
        .isa = CPU_ISA_NAME,                                                                  \
        .mr = CPU_MR,                                                                         \
        .np = CPU_NP,                                                                         \
        .decode = decode_##CLS,                                                               \
        .dequant = dequant_##CLS,                                                             \
        .pack_a = pack_a,                                                                     \
        .micro = micro,                                                                       \
    };
