/*
 * test_oracle.c - the scalar oracle (backend ref) against answers worked
 * out by hand, then against the test's own naive f64 GEMM:
 *   - hand-written codes, scales, biases and zero points [N=2][K=4], per-
 *     channel groups, for every method x storage (u4, i4 in two's
 *     complement, u8, i8) and for f32/f16/bf16 weights; A = the identity
 *     shows dequant(W)^T directly (and so the nibble order: low nibble =
 *     even k), A = one known row shows the dot product;
 *   - two groups of 32 per row (scale and zero point indexed per group);
 *   - the epilogue alpha*acc + bias + beta*C, beta = 0 never reading C (it
 *     holds NaN or Inf), NaN/Inf in A, in a scale and in the bias reaching
 *     exactly the outputs they touch, f16 and bf16 output rounding (ties to
 *     even, overflow to inf);
 *   - every format of hx_all_formats at three shapes against a naive f64
 *     GEMM with its own dequantizer: within one f32 ulp (c_type f32);
 *   - determinism: the same call twice, and 1 vs 2 threads, bit-identical.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Hand-computed cases                                                        */
/* ------------------------------------------------------------------------ */

#define HN 2
#define HK 4

typedef struct hand_case {
    ug_weight_format format;
    uint8_t codes[HN * HK];    /* quantized: canonical code bytes */
    uint32_t fp_codes[HN * HK]; /* full precision: bit patterns of the storage type */
    uint32_t scales[HN];       /* bit patterns of the scale type */
    uint32_t biases[HN];
    uint8_t zeros[HN];
    double w[HN][HK];          /* dequant(W), worked out by hand */
} hand_case;

#define Q(storage, method, scale) {storage, UG_METHOD_##method, UG_GROUP_PER_CHANNEL, scale}
#define FP(storage) {storage, UG_METHOD_NONE, 0, UG_DTYPE_NONE}

/* Nibbles: byte 0x21 holds k0 = 1 (low) and k1 = 2 (high). */
static const hand_case hand_u4_scale_bias = {
    .format = Q(UG_U4, SCALE_BIAS, UG_F16),
    .codes = {0x21, 0x43, 0x0f, 0x80}, /* [1 2 3 4], [15 0 0 8] */
    .scales = {0x3800, 0xb400},        /* 0.5, -0.25 */
    .biases = {0xbc00, 0x4000},        /* -1, 2 */
    .w = {{-0.5, 0, 0.5, 1}, {-1.75, 2, 2, 0}},
};
static const hand_case hand_u4_scale_zero = {
    .format = Q(UG_U4, SCALE_ZERO, UG_BF16),
    .codes = {0x10, 0xf5, 0x77, 0x8a}, /* [0 1 5 15], [7 7 10 8] */
    .scales = {0x3f00, 0xbf80},        /* 0.5, -1 */
    .zeros = {5, 15},
    .w = {{-2.5, -2, 0, 5}, {8, 8, 5, 7}},
};
static const hand_case hand_u4_symmetric = {
    .format = Q(UG_U4, SYMMETRIC, UG_F32),
    .codes = {0x1e, 0x08, 0xf0, 0x79}, /* [14 1 8 0], [0 15 9 7]; minus 8 */
    .scales = {0x3e800000, 0x40400000}, /* 0.25, 3 */
    .w = {{1.5, -1.75, 0, -2}, {-24, 21, 3, -3}},
};
static const hand_case hand_i4_scale_bias = {
    .format = Q(UG_I4, SCALE_BIAS, UG_F32),
    .codes = {0x9f, 0x07, 0x88, 0x10},  /* [-1 -7 7 0], [-8 -8 0 1] */
    .scales = {0x3f000000, 0xc0000000}, /* 0.5, -2 */
    .biases = {0x3f800000, 0xbf000000}, /* 1, -0.5 */
    .w = {{0.5, -2.5, 4.5, 1}, {15.5, 15.5, -0.5, -2.5}},
};
static const hand_case hand_i4_scale_zero = {
    .format = Q(UG_I4, SCALE_ZERO, UG_F16),
    .codes = {0x9f, 0x07, 0x88, 0x7f}, /* [-1 -7 7 0], [-8 -8 -1 7] */
    .scales = {0x3000, 0x3800},        /* 0.125, 0.5 */
    .zeros = {0xf8, 7},                /* -8, 7 */
    .w = {{0.875, 0.125, 1.875, 1}, {-7.5, -7.5, -4, 0}},
};
static const hand_case hand_i4_symmetric = {
    .format = Q(UG_I4, SYMMETRIC, UG_BF16),
    .codes = {0x9f, 0x07, 0x88, 0x21}, /* [-1 -7 7 0], [-8 -8 1 2] */
    .scales = {0x3fc0, 0xbe80},        /* 1.5, -0.25 */
    .w = {{-1.5, -10.5, 10.5, 0}, {2, 2, -0.25, -0.5}},
};
static const hand_case hand_u8_scale_bias = {
    .format = Q(UG_U8, SCALE_BIAS, UG_BF16),
    .codes = {0, 255, 128, 1, 200, 17, 99, 254},
    .scales = {0x3f00, 0xbe00}, /* 0.5, -0.125 */
    .biases = {0xc280, 0x4080}, /* -64, 4 */
    .w = {{-64, 63.5, 0, -63.5}, {-21, 1.875, -8.375, -27.75}},
};
static const hand_case hand_u8_scale_zero = {
    .format = Q(UG_U8, SCALE_ZERO, UG_F32),
    .codes = {0, 255, 128, 77, 3, 250, 100, 0},
    .scales = {0x3e800000, 0xbf000000}, /* 0.25, -0.5 */
    .zeros = {128, 255},
    .w = {{-32, 31.75, 0, -12.75}, {126, 2.5, 77.5, 127.5}},
};
static const hand_case hand_u8_symmetric = {
    .format = Q(UG_U8, SYMMETRIC, UG_F16),
    .codes = {128, 255, 0, 129, 64, 192, 1, 254}, /* minus 128 */
    .scales = {0x2c00, 0xc000},                   /* 0.0625, -2 */
    .w = {{0, 7.9375, -8, 0.0625}, {128, -128, 254, -252}},
};
static const hand_case hand_i8_scale_bias = {
    .format = Q(UG_I8, SCALE_BIAS, UG_F16),
    /* [-128 127 0 -1], [-127 64 16 -16] */
    .codes = {0x80, 0x7f, 0x00, 0xff, 0x81, 0x40, 0x10, 0xf0},
    .scales = {0x3800, 0xbc00}, /* 0.5, -1 */
    .biases = {0x5400, 0xc200}, /* 64, -3 */
    .w = {{0, 127.5, 64, 63.5}, {124, -67, -19, 13}},
};
static const hand_case hand_i8_scale_zero = {
    .format = Q(UG_I8, SCALE_ZERO, UG_BF16),
    .codes = {0x80, 0x7f, 0x05, 0xfb, 0x00, 0x10, 0xe0, 0x7f}, /* [-128 127 5 -5], [0 16 -32 127] */
    .scales = {0x3e80, 0xbf00}, /* 0.25, -0.5 */
    .zeros = {0x80, 127},       /* -128, 127 */
    .w = {{0, 63.75, 33.25, 30.75}, {63.5, 55.5, 79.5, 0}},
};
static const hand_case hand_i8_symmetric = {
    .format = Q(UG_I8, SYMMETRIC, UG_F32),
    .codes = {0x80, 0x7f, 0x01, 0xff, 0x40, 0xc0, 0x20, 0x00}, /* [-128 127 1 -1], [64 -64 32 0] */
    .scales = {0x3e000000, 0x3fc00000}, /* 0.125, 1.5 */
    .w = {{-16, 15.875, 0.125, -0.125}, {96, -96, 48, 0}},
};
static const hand_case hand_f32 = {
    .format = FP(UG_F32),
    .fp_codes = {0x3fc00000, 0xc0100000, 0x3a800000, 0x00000001, 0x80000000, 0x42c80000,
                 0xbf800000, 0x3f400000},
    .w = {{1.5, -2.25, 0x1p-10, 0x1p-149}, {-0.0, 100, -1, 0.75}},
};
static const hand_case hand_f16 = {
    .format = FP(UG_F16),
    .fp_codes = {0x3c00, 0xc000, 0x3800, 0x0001, 0x7bff, 0x8400, 0x3555, 0xbe00},
    .w = {{1, -2, 0.5, 0x1p-24}, {65504, -0x1p-14, 0.333251953125, -1.5}},
};
static const hand_case hand_bf16 = {
    .format = FP(UG_BF16),
    .fp_codes = {0x3f80, 0xc040, 0x4049, 0x0001, 0x4780, 0x8080, 0x3e80, 0xbf00},
    .w = {{1, -3, 3.140625, 0x1p-133}, {65536, -0x1p-126, 0.25, -0.5}},
};

/* Arrays of a hand case in the canonical layout. */
typedef struct hand_source {
    ug_weight_source src;
    uint8_t codes[HN * HK * 4];
    uint8_t scales[HN * 4], biases[HN * 4];
} hand_source;

/* Store pattern `bits` as element i of an array of dtype. */
static void put_bits(uint8_t *base, ug_dtype dtype, size_t i, uint32_t bits)
{
    if (dtype == UG_F32) {
        memcpy(base + 4 * i, &bits, 4);
    } else {
        uint16_t h = (uint16_t)bits;
        memcpy(base + 2 * i, &h, 2);
    }
}

static void hand_source_make(const hand_case *hc, hand_source *hs)
{
    memset(hs, 0, sizeof *hs);
    const ug_weight_format *f = &hc->format;
    hs->src = (ug_weight_source)UG_WEIGHT_SOURCE_INIT;
    hs->src.format = *f;
    hs->src.n = HN;
    hs->src.k = HK;
    hs->src.codes = hs->codes;
    if (f->method == UG_METHOD_NONE) {
        for (size_t i = 0; i < HN * HK; i++)
            put_bits(hs->codes, f->storage, i, hc->fp_codes[i]);
        return;
    }
    memcpy(hs->codes, hc->codes, sizeof hc->codes);
    for (size_t i = 0; i < HN; i++) {
        put_bits(hs->scales, f->scale_type, i, hc->scales[i]);
        put_bits(hs->biases, f->scale_type, i, hc->biases[i]);
    }
    hs->src.scales = hs->scales;
    if (f->method == UG_METHOD_SCALE_BIAS)
        hs->src.biases = hs->biases;
    if (f->method == UG_METHOD_SCALE_ZERO)
        hs->src.zeros = hc->zeros;
}

/* Everything a GEMM on the ref backend needs, made from a source. */
typedef struct gemm {
    ug_context *ctx;
    ug_packed_weights *w;
    ug_plan *plan;
} gemm;

static void gemm_make(gemm *g, ug_context *ctx, const ug_weight_source *src,
                      const ug_gemm_desc *desc)
{
    g->ctx = ctx;
    ug_status st = ug_weights_pack(ctx, src, &g->w);
    TU_CHECK(st == UG_OK, "pack: %s (%s)", ug_status_str(st), ug_context_last_error(ctx));
    st = ug_plan_create(ctx, desc, g->w, NULL, &g->plan);
    TU_CHECK(st == UG_OK, "plan: %s (%s)", ug_status_str(st), ug_context_last_error(ctx));
}

static void gemm_run(const gemm *g, const void *a, void *c, const void *bias)
{
    ug_status st = ug_plan_execute(g->plan, g->w, a, c, bias, NULL, 0);
    TU_CHECK(st == UG_OK, "execute: %s (%s)", ug_status_str(st), ug_context_last_error(g->ctx));
}

static void gemm_free(gemm *g)
{
    ug_plan_destroy(g->plan);
    ug_weights_destroy(g->w);
}

static ug_gemm_desc desc_for(int64_t m, int64_t n, int64_t k)
{
    ug_gemm_desc d = UG_GEMM_DESC_INIT;
    d.m = m;
    d.n = n;
    d.k = k;
    return d;
}

static void run_hand_case(void **state)
{
    const hand_case *hc = *state;
    char name[96];
    hx_format_str(&hc->format, name, sizeof name);
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    hand_source hs;
    hand_source_make(hc, &hs);

    /* A = I: C = dequant(W)^T */
    float eye[HK * HK] = {0}, c[HK * HN];
    for (int i = 0; i < HK; i++)
        eye[i * HK + i] = 1.0f;
    for (int i = 0; i < HK * HN; i++)
        c[i] = NAN;
    gemm g;
    ug_gemm_desc d = desc_for(HK, HN, HK);
    gemm_make(&g, ctx, &hs.src, &d);
    gemm_run(&g, eye, c, NULL);
    for (int k = 0; k < HK; k++)
        for (int n = 0; n < HN; n++)
            TU_CHECK(c[k * HN + n] == (float)hc->w[n][k], "%s: w[%d][%d] = %.9g, expected %.9g",
                     name, n, k, (double)c[k * HN + n], hc->w[n][k]);
    gemm_free(&g);

    /* one row of A: C = sum_k a_k w[n][k] */
    static const float a[HK] = {1.0f, -2.0f, 0.5f, 3.0f};
    float c1[HN] = {NAN, NAN};
    d = desc_for(1, HN, HK);
    gemm_make(&g, ctx, &hs.src, &d);
    gemm_run(&g, a, c1, NULL);
    for (int n = 0; n < HN; n++) {
        double want = 0.0;
        for (int k = 0; k < HK; k++)
            want += a[k] * hc->w[n][k];
        TU_CHECK(c1[n] == (float)want, "%s: row %d of A.W^T = %.9g, expected %.9g", name, n,
                 (double)c1[n], want);
    }
    gemm_free(&g);
    ug_context_destroy(ctx);
}

/* Two groups of 32 per row: scales and zero points indexed by row and group. */
static void test_two_groups_per_row(void **state)
{
    (void)state;
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    enum { K = 64 };
    uint8_t codes[2 * K / 2];
    memset(codes, 0x21, 16);      /* row 0, k < 32: even k 1, odd k 2 */
    memset(codes + 16, 0x43, 16); /* row 0, k >= 32: even k 3, odd k 4 */
    memset(codes + 32, 0xf0, 32); /* row 1: even k 0, odd k 15 */
    uint16_t scales[4] = {0x3800, 0x4000, 0x3400, 0xbc00}; /* 0.5, 2 | 0.25, -1 */
    uint8_t zeros[4] = {1, 4, 0, 15};
    ug_weight_source src = UG_WEIGHT_SOURCE_INIT;
    src.format = (ug_weight_format){UG_U4, UG_METHOD_SCALE_ZERO, 32, UG_F16};
    src.n = 2;
    src.k = K;
    src.codes = codes;
    src.scales = scales;
    src.zeros = zeros;
    float a[K], c[2] = {NAN, NAN};
    for (int k = 0; k < K; k++)
        a[k] = (float)(k + 1);
    gemm g;
    ug_gemm_desc d = desc_for(1, 2, K);
    gemm_make(&g, ctx, &src, &d);
    gemm_run(&g, a, c, NULL);
    /* row 0: w = 0.5 at odd k < 32, -2 at even k >= 32, else 0:
     *   0.5 * (2 + 4 + ... + 32) - 2 * (33 + 35 + ... + 63) = 136 - 1536
     * row 1: w = 3.75 at odd k < 32, 15 at even k >= 32, else 0:
     *   3.75 * 272 + 15 * 768 = 1020 + 11520 */
    assert_true(c[0] == -1400.0f);
    assert_true(c[1] == 12540.0f);
    gemm_free(&g);
    ug_context_destroy(ctx);
}

/* The u4 scale_bias hand case with A = [1 2 3 4]: acc = [5, 8.25]. */
static void hand_u4_gemm(gemm *g, ug_context *ctx, hand_source *hs, ug_gemm_desc *d)
{
    hand_source_make(&hand_u4_scale_bias, hs);
    gemm_make(g, ctx, &hs->src, d);
}

/* A NaN at element i of a float array of dtype. */
static void store_nan(void *buf, ug_dtype t, size_t i)
{
    hx_store(buf, t, i, NAN);
}

static void test_epilogue(void **state)
{
    (void)state;
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    static const ug_dtype types[] = {UG_F32, UG_F16, UG_BF16};
    static const float a[HK] = {1, 2, 3, 4};
    for (int ci = 0; ci < 3; ci++)
        for (int bi = 0; bi < 3; bi++) {
            ug_gemm_desc d = desc_for(1, HN, HK);
            d.c_type = types[ci];
            d.has_bias = 1;
            d.bias_type = types[bi];
            d.alpha = 2.0f;
            d.beta = 0.5f;
            gemm g;
            hand_source hs;
            hand_u4_gemm(&g, ctx, &hs, &d);
            uint8_t c[HN * 4], bias[HN * 4];
            hx_store(c, types[ci], 0, 10.0);
            hx_store(c, types[ci], 1, -4.0);
            hx_store(bias, types[bi], 0, 0.5);
            hx_store(bias, types[bi], 1, -1.0);
            gemm_run(&g, a, c, bias);
            /* 2 * 5 + 0.5 + 0.5 * 10, 2 * 8.25 - 1 + 0.5 * -4 */
            double c0 = tu_load(c, types[ci], 0), c1 = tu_load(c, types[ci], 1);
            TU_CHECK(c0 == 15.5 && c1 == 13.5, "c %s, bias %s: C = [%g, %g], expected [15.5, 13.5]",
                     ug_dtype_name(types[ci]), ug_dtype_name(types[bi]), c0, c1);
            gemm_free(&g);
        }
    ug_context_destroy(ctx);
}

static void test_beta_zero_does_not_read_c(void **state)
{
    (void)state;
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    static const ug_dtype types[] = {UG_F32, UG_F16, UG_BF16};
    static const float a[HK] = {1, 2, 3, 4};
    static const double poison[] = {NAN, INFINITY, -INFINITY};
    for (int ci = 0; ci < 3; ci++)
        for (int p = 0; p < 3; p++) {
            ug_gemm_desc d = desc_for(1, HN, HK);
            d.c_type = types[ci];
            gemm g;
            hand_source hs;
            hand_u4_gemm(&g, ctx, &hs, &d);
            uint8_t c[HN * 4];
            hx_store(c, types[ci], 0, poison[p]);
            hx_store(c, types[ci], 1, poison[p]);
            gemm_run(&g, a, c, NULL);
            double c0 = tu_load(c, types[ci], 0), c1 = tu_load(c, types[ci], 1);
            TU_CHECK(c0 == 5.0 && c1 == 8.25, "c %s poisoned with %g: C = [%g, %g]",
                     ug_dtype_name(types[ci]), poison[p], c0, c1);
            gemm_free(&g);
        }
    ug_context_destroy(ctx);
}

static void test_nan_and_inf_in_a(void **state)
{
    (void)state;
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    ug_gemm_desc d = desc_for(3, HN, HK);
    gemm g;
    hand_source hs;
    hand_u4_gemm(&g, ctx, &hs, &d);
    /* w = [[-0.5 0 0.5 1], [-1.75 2 2 0]]: NaN meets w = 0 in both rows;
     * Inf meets w[0][1] = 0 (NaN) and w[1][1] = 2 (+Inf). */
    float a[3 * HK] = {1, NAN, 3, 4, 1, INFINITY, 3, 4, 1, 2, 3, 4};
    float c[3 * HN] = {7, 7, 7, 7, 7, 7};
    gemm_run(&g, a, c, NULL);
    assert_true(isnan(c[0]) && isnan(c[1]));
    assert_true(isnan(c[2]));
    assert_true(isinf(c[3]) && c[3] > 0);
    assert_true(c[4] == 5.0f && c[5] == 8.25f);
    gemm_free(&g);
    ug_context_destroy(ctx);
}

static void test_nan_in_scale_and_bias(void **state)
{
    (void)state;
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    static const float a[2 * HK] = {1, 2, 3, 4, -1, 0.5f, 2, 1};
    /* a NaN scale in row 1 reaches column 1 only */
    hand_case nan_scale = hand_u4_scale_bias;
    nan_scale.scales[1] = 0x7e00;
    hand_source hs;
    hand_source_make(&nan_scale, &hs);
    ug_gemm_desc d = desc_for(2, HN, HK);
    gemm g;
    gemm_make(&g, ctx, &hs.src, &d);
    float c[2 * HN];
    gemm_run(&g, a, c, NULL);
    assert_true(c[0] == 5.0f && isnan(c[1]));
    assert_true(c[2] == 2.5f && isnan(c[3])); /* 0.5 + 0 + 1 + 1 */
    gemm_free(&g);

    /* a NaN bias of column 0 reaches column 0 only */
    d.has_bias = 1;
    hand_u4_gemm(&g, ctx, &hs, &d);
    float bias[HN] = {NAN, 1.0f};
    gemm_run(&g, a, c, bias);
    assert_true(isnan(c[0]) && c[1] == 9.25f);
    assert_true(isnan(c[2]) && c[3] == 7.75f); /* 1.75 + 1 + 4 + 0, bias 1 */
    gemm_free(&g);

    /* a NaN scale of group 1 in row 0 of a two-group format reaches row 0 */
    enum { K = 64 };
    uint8_t codes[2 * K];
    hx_rng r = tu_rng(__func__);
    for (size_t i = 0; i < sizeof codes; i++)
        codes[i] = (uint8_t)hx_rng_next(&r);
    uint16_t scales[4] = {0x3800, 0x7e00, 0x3400, 0xbc00};
    ug_weight_source src = UG_WEIGHT_SOURCE_INIT;
    src.format = (ug_weight_format){UG_I8, UG_METHOD_SYMMETRIC, 32, UG_F16};
    src.n = 2;
    src.k = K;
    src.codes = codes;
    src.scales = scales;
    float a2[2 * K];
    hx_fill(a2, UG_F32, 2 * K, 1.0, &r);
    d = desc_for(2, 2, K);
    gemm_make(&g, ctx, &src, &d);
    gemm_run(&g, a2, c, NULL);
    assert_true(isnan(c[0]) && isnan(c[2]));
    assert_true(isfinite(c[1]) && isfinite(c[3]));
    gemm_free(&g);
    ug_context_destroy(ctx);
}

/* f32 weights W = [1, t] (t the half-ulp of 1 in the output type) and rows
 * of A [1, x] give 1 + x t: ties go to even, past them up, short of them
 * down; [v, v] with v large overflows f16 to inf. */
static void test_output_rounding(void **state)
{
    (void)state;
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    static const struct {
        ug_dtype c_type;
        float t;
        uint16_t want[6]; /* for A rows [1,1] [1,3] [1,1.5] [1,0.5] [-1,-3] [1,-1] */
    } cases[] = {
        {UG_F16, 0x1p-11f, {0x3c00, 0x3c02, 0x3c01, 0x3c00, 0xbc02, 0x3bff}},
        {UG_BF16, 0x1p-8f, {0x3f80, 0x3f82, 0x3f81, 0x3f80, 0xbf82, 0x3f7f}},
    };
    static const float a[6 * 2] = {1, 1, 1, 3, 1, 1.5f, 1, 0.5f, -1, -3, 1, -1};
    for (size_t i = 0; i < 2; i++) {
        float w[2] = {1.0f, cases[i].t};
        ug_weight_source src = UG_WEIGHT_SOURCE_INIT;
        src.format = (ug_weight_format){UG_F32, UG_METHOD_NONE, 0, UG_DTYPE_NONE};
        src.n = 1;
        src.k = 2;
        src.codes = w;
        ug_gemm_desc d = desc_for(6, 1, 2);
        d.c_type = cases[i].c_type;
        gemm g;
        gemm_make(&g, ctx, &src, &d);
        uint16_t c[6];
        gemm_run(&g, a, c, NULL);
        for (int m = 0; m < 6; m++)
            TU_CHECK(c[m] == cases[i].want[m], "%s: 1 + %g * %a rounded to %#06x, not %#06x",
                     ug_dtype_name(cases[i].c_type), (double)a[2 * m + 1], (double)cases[i].t,
                     c[m], cases[i].want[m]);
        gemm_free(&g);
    }
    /* 65504 + 65504 overflows f16 */
    float w[2] = {1.0f, 1.0f}, big[2] = {65504.0f, 65504.0f};
    ug_weight_source src = UG_WEIGHT_SOURCE_INIT;
    src.format = (ug_weight_format){UG_F32, UG_METHOD_NONE, 0, UG_DTYPE_NONE};
    src.n = 1;
    src.k = 2;
    src.codes = w;
    ug_gemm_desc d = desc_for(1, 1, 2);
    d.c_type = UG_F16;
    gemm g;
    gemm_make(&g, ctx, &src, &d);
    uint16_t c = 0;
    gemm_run(&g, big, &c, NULL);
    assert_int_equal(c, 0x7c00);
    gemm_free(&g);
    ug_context_destroy(ctx);
}

/* ------------------------------------------------------------------------ */
/* Against a naive f64 GEMM                                                   */
/* ------------------------------------------------------------------------ */

#define MAX_FORMATS 256

/* Distance between two finite floats in ulps (bits ordered as integers). */
static int64_t ulp_distance(float x, float y)
{
    int32_t a, b;
    memcpy(&a, &x, 4);
    memcpy(&b, &y, 4);
    int64_t ia = a < 0 ? (int64_t)INT32_MIN - a : a, ib = b < 0 ? (int64_t)INT32_MIN - b : b;
    return ia > ib ? ia - ib : ib - ia;
}

/* Whether an output element `got` of c_type matches the exact value `want`:
 * f32 within one ulp of want rounded to f32; f16/bf16 equal to the rounding
 * of that f32 value or of one of its neighbours (accumulation in f64,
 * rounded once to f32, then to the output type). */
static bool output_matches(const void *c, ug_dtype c_type, size_t at, double want)
{
    float w32 = (float)want;
    if (c_type == UG_F32)
        return isfinite(((const float *)c)[at]) && ulp_distance(((const float *)c)[at], w32) <= 1;
    uint16_t got = ((const uint16_t *)c)[at];
    const float around[3] = {w32, nextafterf(w32, INFINITY), nextafterf(w32, -INFINITY)};
    for (int i = 0; i < 3; i++)
        if (got == (c_type == UG_F16 ? ug_f32_to_f16(around[i]) : ug_f32_to_bf16(around[i])))
            return true;
    return false;
}

/* Every format at three shapes: A [M][lda] (its padding NaN, which must not
 * be read), C [M][ldc] (its padding must stay as it was), random a_type,
 * bias and bias_type, alpha, beta (0 with C poisoned); c_type f32, and f16
 * or bf16 at the third shape. */
static void test_against_naive_f64(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    static const ug_dtype types[] = {UG_F32, UG_F16, UG_BF16};
    ug_weight_format formats[MAX_FORMATS];
    size_t count = hx_all_formats(formats, MAX_FORMATS), run = 0;
    for (size_t fi = 0; fi < count; fi++) {
        const ug_weight_format *f = &formats[fi];
        char name[96];
        hx_format_str(f, name, sizeof name);
        /* the third K is three groups (or 96 where any K goes) */
        int64_t k3 = f->group_size == 64 || f->group_size == 128 ? 3 * f->group_size : 96;
        const int64_t shapes[3][3] = {{1, 7, 128}, {5, 19, 256}, {3, 9, k3}};
        for (int si = 0; si < 3; si++, run++) {
            int64_t m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
            hx_weights hw;
            assert_int_equal(hx_weights_make(ctx, f, n, k, &r, &hw), UG_OK);
            ug_gemm_desc d = desc_for(m, n, k);
            d.a_type = types[run % 3];
            d.c_type = si < 2 ? UG_F32 : types[1 + fi % 2];
            d.lda = run % 2 ? k + 5 : 0;
            d.ldc = run % 3 ? n + 3 : 0;
            d.has_bias = run % 4 < 2;
            d.bias_type = types[hx_rng_next(&r) % 3];
            d.alpha = (float)(0.5 + 1.5 * hx_rng_uniform(&r));
            d.beta = run % 5 == 1 ? 0.0f : (float)(hx_rng_uniform(&r) - 0.5);
            int64_t lda = d.lda ? d.lda : k, ldc = d.ldc ? d.ldc : n;
            size_t esz = tu_float_bytes(d.c_type), c_bytes = (size_t)(m * ldc) * esz;
            uint8_t *a = malloc((size_t)(m * lda) * 4), *bias = malloc((size_t)n * 4);
            uint8_t *c = malloc(c_bytes), *c_old = malloc(c_bytes);
            double *deq = malloc((size_t)(n * k) * sizeof(double));
            assert_true(a && bias && c && c_old && deq);
            for (int64_t i = 0; i < m; i++) {
                hx_fill(a + (size_t)(i * lda) * tu_float_bytes(d.a_type), d.a_type, (size_t)k, 1.0,
                        &r);
                for (int64_t kk = k; kk < lda; kk++)
                    store_nan(a, d.a_type, (size_t)(i * lda + kk));
            }
            hx_fill(bias, d.bias_type, (size_t)n, 0.5, &r);
            hx_fill(c_old, d.c_type, (size_t)(m * ldc), 1.0, &r);
            if (d.beta == 0.0f)
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++)
                        store_nan(c_old, d.c_type, (size_t)(i * ldc + j));
            memcpy(c, c_old, c_bytes);
            gemm g;
            gemm_make(&g, ctx, &hw.src, &d);
            gemm_run(&g, a, c, d.has_bias ? bias : NULL);
            tu_dequant(&hw.src, deq);
            for (int64_t i = 0; i < m; i++) {
                for (int64_t j = 0; j < n; j++) {
                    double acc = 0.0;
                    for (int64_t kk = 0; kk < k; kk++)
                        acc += tu_load(a, d.a_type, (size_t)(i * lda + kk)) * deq[j * k + kk];
                    double want = (double)d.alpha * acc;
                    if (d.has_bias)
                        want += tu_load(bias, d.bias_type, (size_t)j);
                    if (d.beta != 0.0f)
                        want += (double)d.beta * tu_load(c_old, d.c_type, (size_t)(i * ldc + j));
                    size_t at = (size_t)(i * ldc + j);
                    TU_CHECK(output_matches(c, d.c_type, at, want),
                             "%s, M=%lld N=%lld K=%lld lda=%lld ldc=%lld, a %s, c %s, bias %d "
                             "(%s), alpha %g, beta %g: C[%lld][%lld] = %.9g, naive f64 gives "
                             "%.17g",
                             name, (long long)m, (long long)n, (long long)k, (long long)lda,
                             (long long)ldc, ug_dtype_name(d.a_type), ug_dtype_name(d.c_type),
                             d.has_bias, ug_dtype_name(d.bias_type), (double)d.alpha,
                             (double)d.beta, (long long)i, (long long)j,
                             tu_load(c, d.c_type, at), want);
                }
                size_t pad = (size_t)(i * ldc + n) * esz;
                TU_CHECK(memcmp(c + pad, c_old + pad, (size_t)(ldc - n) * esz) == 0,
                         "%s: the padding of row %lld of C was written", name, (long long)i);
            }
            gemm_free(&g);
            hx_weights_free(&hw);
            free(a);
            free(bias);
            free(c);
            free(c_old);
            free(deq);
        }
    }
    ug_context_destroy(ctx);
}

/* ------------------------------------------------------------------------ */
/* Determinism                                                                */
/* ------------------------------------------------------------------------ */

static void test_determinism(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    static const ug_weight_format formats[] = {
        {UG_U4, UG_METHOD_SCALE_ZERO, 32, UG_F16},
        {UG_I8, UG_METHOD_SCALE_BIAS, 128, UG_BF16},
        {UG_BF16, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
    };
    static const ug_backend backends[] = {UG_BACKEND_REF, UG_BACKEND_CPU};
    enum { M = 5, N = 70, K = 256 }; /* N spans several blocks of rows */
    float a[M * K], bias[N], c_init[M * N];
    hx_fill(a, UG_F32, M * K, 1.0, &r);
    hx_fill(bias, UG_F32, N, 1.0, &r);
    hx_fill(c_init, UG_F32, M * N, 1.0, &r);
    for (size_t fi = 0; fi < 3; fi++)
        for (size_t bi = 0; bi < 2; bi++) {
            ug_context *one = tu_context(backends[bi], 1), *two = tu_context(backends[bi], 2);
            hx_weights hw;
            assert_int_equal(hx_weights_make(one, &formats[fi], N, K, &r, &hw), UG_OK);
            ug_gemm_desc d = desc_for(M, N, K);
            d.has_bias = 1;
            d.alpha = 0.75f;
            d.beta = 1.25f;
            gemm g1, g2;
            gemm_make(&g1, one, &hw.src, &d);
            gemm_make(&g2, two, &hw.src, &d);
            float c1[M * N], c1_again[M * N], c2[M * N];
            memcpy(c1, c_init, sizeof c1);
            memcpy(c1_again, c_init, sizeof c1);
            memcpy(c2, c_init, sizeof c2);
            gemm_run(&g1, a, c1, bias);
            gemm_run(&g1, a, c1_again, bias);
            gemm_run(&g2, a, c2, bias);
            char name[96];
            hx_format_str(&formats[fi], name, sizeof name);
            TU_CHECK(memcmp(c1, c1_again, sizeof c1) == 0, "%s on %s: two runs differ", name,
                     ug_backend_name(backends[bi]));
            TU_CHECK(memcmp(c1, c2, sizeof c1) == 0, "%s on %s: 1 and 2 threads differ", name,
                     ug_backend_name(backends[bi]));
            TU_CHECK(memcmp(c1, c_init, sizeof c1) != 0, "%s: C was not written", name);
            gemm_free(&g1);
            gemm_free(&g2);
            hx_weights_free(&hw);
            ug_context_destroy(one);
            ug_context_destroy(two);
        }
}

#define HAND(name) {"hand_" #name, run_hand_case, NULL, NULL, (void *)&hand_##name}

/* The oracle rounds once, from f64, to f16/bf16: 1 + 2^-11 + 2^-40 is just
 * above the tie between 1 and 1 + 2^-10 in f16, so it rounds up, where a
 * detour through f32 (which drops the 2^-40) would land on the tie and round
 * to even, down to 1. Likewise 1 + 2^-8 + 2^-40 in bf16. */
static void test_output_rounded_once(void **state)
{
    (void)state;
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    const float w[3] = {1.0f, 1.0f, 1.0f};
    ug_weight_source src = UG_WEIGHT_SOURCE_INIT;
    src.format = (ug_weight_format){UG_F32, UG_METHOD_NONE, 0, UG_DTYPE_NONE};
    src.n = 1;
    src.k = 3;
    src.codes = w;
    ug_packed_weights *pw = NULL;
    assert_int_equal(ug_weights_pack(ctx, &src, &pw), UG_OK);
    const ug_dtype outs[2] = {UG_F16, UG_BF16};
    const float half_ulp[2] = {0x1p-11f, 0x1p-8f};
    const uint16_t want[2] = {0x3c01, 0x3f81};
    for (int i = 0; i < 2; i++) {
        ug_gemm_desc d = UG_GEMM_DESC_INIT;
        d.m = 1;
        d.n = 1;
        d.k = 3;
        d.c_type = outs[i];
        ug_plan *plan = NULL;
        assert_int_equal(ug_plan_create(ctx, &d, pw, NULL, &plan), UG_OK);
        const float a[3] = {1.0f, half_ulp[i], 0x1p-40f};
        uint16_t c = 0;
        assert_int_equal(ug_plan_execute(plan, pw, a, &c, NULL, NULL, 0), UG_OK);
        TU_CHECK(c == want[i], "%s: 1 + half ulp + 2^-40 gave %#06x, want %#06x",
                 ug_dtype_name(outs[i]), c, want[i]);
        ug_plan_destroy(plan);
    }
    ug_weights_destroy(pw);
    ug_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HAND(u4_scale_bias),
        HAND(u4_scale_zero),
        HAND(u4_symmetric),
        HAND(i4_scale_bias),
        HAND(i4_scale_zero),
        HAND(i4_symmetric),
        HAND(u8_scale_bias),
        HAND(u8_scale_zero),
        HAND(u8_symmetric),
        HAND(i8_scale_bias),
        HAND(i8_scale_zero),
        HAND(i8_symmetric),
        HAND(f32),
        HAND(f16),
        HAND(bf16),
        cmocka_unit_test(test_two_groups_per_row),
        cmocka_unit_test(test_epilogue),
        cmocka_unit_test(test_beta_zero_does_not_read_c),
        cmocka_unit_test(test_nan_and_inf_in_a),
        cmocka_unit_test(test_nan_in_scale_and_bias),
        cmocka_unit_test(test_output_rounding),
        cmocka_unit_test(test_against_naive_f64),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_output_rounded_once),
    };
    return cmocka_run_group_tests_name("oracle", tests, NULL, NULL);
}
