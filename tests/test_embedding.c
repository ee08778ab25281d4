/*
 * test_embedding.c - ug_embedding_lookup on every format of hx_all_formats
 * and every available backend: tables [vocab=11][dim] (dim one to three
 * groups), ids [9] with repeats and both ends of the vocabulary, outputs
 * f32/f16/bf16 with ldo > dim. Each row must equal the test's own
 * dequantization rounded to f32 and then to the output type (bit for bit on
 * ref, within one ulp of the output type elsewhere); the padding between
 * rows stays untouched; repeated ids give identical rows; the f32 rows equal
 * the columns of I . dequant(W)^T computed by a GEMM on the oracle (ref and
 * cpu). On cuda the output is a device buffer of exactly its span, copied
 * from and back to the host (ids stay in host memory).
 * count = 0 writes nothing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define MAX_FORMATS 256
#define VOCAB 11
#define COUNT 9

static const ug_dtype out_types[3] = {UG_F32, UG_F16, UG_BF16};

static int64_t dim_for(const ug_weight_format *f)
{
    if (f->method == UG_METHOD_NONE || f->group_size == UG_GROUP_PER_CHANNEL)
        return 96;
    return f->group_size == 32 ? 96 : 2 * f->group_size;
}

/* Bit pattern of element i of an output of dtype, widened. */
static uint32_t bits_at(const void *buf, ug_dtype t, size_t i)
{
    if (t == UG_F32) {
        uint32_t u;
        memcpy(&u, (const uint8_t *)buf + 4 * i, 4);
        return u;
    }
    return ((const uint16_t *)buf)[i];
}

/* v rounded to nearest, ties to even, in dtype, as a bit pattern: for
 * f16/bf16 the nearest of the rounding of (float)v and its two neighbours,
 * judged against v itself (the oracle rounds once, from f64). */
static uint32_t expected_bits(double v, ug_dtype t)
{
    float f = (float)v;
    if (t == UG_F32) {
        uint32_t u;
        memcpy(&u, &f, 4);
        return u;
    }
    uint16_t (*to)(float) = t == UG_F16 ? ug_f32_to_f16 : ug_f32_to_bf16;
    float (*from)(uint16_t) = t == UG_F16 ? ug_f16_to_f32 : ug_bf16_to_f32;
    uint16_t best = to(f);
    double best_dist = fabs((double)from(best) - v);
    for (int step = -1; step <= 1; step += 2) {
        uint16_t cand = (uint16_t)(best + step);
        double value = (double)from(cand);
        if (!isfinite(value) || (value < 0) != (v < 0))
            continue;
        double dist = fabs(value - v);
        if (dist < best_dist || (dist == best_dist && (cand & 1u) == 0 && (best & 1u) != 0)) {
            best = cand;
            best_dist = dist;
        }
    }
    return best;
}

/* Distance in ulps between two finite values of the same float type, from
 * their sign-magnitude bit patterns. */
static int64_t ulps_apart(uint32_t x, uint32_t y, ug_dtype t)
{
    uint32_t sign = t == UG_F32 ? 0x80000000u : 0x8000u;
    int64_t a = (x & sign) ? -(int64_t)(x & ~sign) : (int64_t)x;
    int64_t b = (y & sign) ? -(int64_t)(y & ~sign) : (int64_t)y;
    return a > b ? a - b : b - a;
}

/* ids with both ends of the vocabulary and two repeats. */
static void make_ids(int32_t ids[COUNT], hx_rng *r)
{
    for (int i = 0; i < COUNT; i++)
        ids[i] = (int32_t)(hx_rng_next(r) % VOCAB);
    ids[0] = VOCAB - 1;
    ids[1] = 0;
    ids[4] = ids[2];
    ids[8] = ids[0];
}

/* dequant(W)^T as C [dim][vocab] f32, from a GEMM with A = I on ctx. */
static void transpose_by_gemm(ug_context *ctx, const ug_packed_weights *w, int64_t dim, float *c)
{
    float *eye = calloc((size_t)(dim * dim), sizeof *eye);
    assert_non_null(eye);
    for (int64_t i = 0; i < dim; i++)
        eye[i * dim + i] = 1.0f;
    ug_gemm_desc d = UG_GEMM_DESC_INIT;
    d.m = dim;
    d.n = VOCAB;
    d.k = dim;
    ug_plan *plan = NULL;
    assert_int_equal(ug_plan_create(ctx, &d, w, NULL, &plan), UG_OK);
    assert_int_equal(ug_plan_execute(plan, w, eye, c, NULL, NULL, 0), UG_OK);
    ug_plan_destroy(plan);
    free(eye);
}

/* ug_embedding_lookup into host `out` ([count][ldo] of t): directly on
 * ref/cpu, through a device copy of out's span on cuda (padding between rows
 * included, so that a write there shows). CUDA failures fail the test. */
static ug_status lookup(ug_context *ctx, const ug_packed_weights *table, const int32_t *ids,
                        int64_t count, ug_dtype t, void *out, int64_t ldo, int64_t dim)
{
    if (ug_context_backend(ctx) != UG_BACKEND_CUDA)
        return ug_embedding_lookup(ctx, table, ids, count, t, out, ldo);
    size_t span = count > 0 ? (size_t)((count - 1) * ldo + dim) * tu_float_bytes(t) : 0;
    void *dev = NULL;
    char msg[256] = "";
    TU_CHECK(hx_dev_alloc(&dev, span, msg, sizeof msg) &&
                 hx_dev_upload(dev, out, span, msg, sizeof msg),
             "embedding on cuda: %s", msg);
    ug_status st = ug_embedding_lookup(ctx, table, ids, count, t, dev, ldo);
    TU_CHECK(hx_dev_sync(msg, sizeof msg) && hx_dev_download(out, dev, span, msg, sizeof msg),
             "embedding on cuda, after the lookup (%s): %s", ug_status_str(st), msg);
    hx_dev_free(dev);
    return st;
}

static void check_backend(ug_backend backend)
{
    hx_rng r = tu_rng(ug_backend_name(backend));
    ug_context *ctx = tu_context(backend, 1), *oracle = tu_context(UG_BACKEND_REF, 1);
    ug_weight_format formats[MAX_FORMATS];
    size_t count = hx_all_formats(formats, MAX_FORMATS);
    int64_t max_ulps = backend == UG_BACKEND_REF ? 0 : 1;
    for (size_t fi = 0; fi < count; fi++) {
        const ug_weight_format *f = &formats[fi];
        char name[96];
        hx_format_str(f, name, sizeof name);
        int64_t dim = dim_for(f);
        hx_weights hw;
        assert_int_equal(hx_weights_make(ctx, f, VOCAB, dim, &r, &hw), UG_OK);
        ug_packed_weights *table = NULL, *table_ref = NULL;
        assert_int_equal(ug_weights_pack(ctx, &hw.src, &table), UG_OK);
        assert_int_equal(ug_weights_pack(oracle, &hw.src, &table_ref), UG_OK);
        double *deq = malloc((size_t)(VOCAB * dim) * sizeof *deq);
        float *columns = malloc((size_t)(dim * VOCAB) * sizeof *columns);
        assert_true(deq && columns);
        tu_dequant(&hw.src, deq);
        transpose_by_gemm(oracle, table_ref, dim, columns);

        for (size_t ti = 0; ti < 3; ti++) {
            ug_dtype t = out_types[ti];
            int32_t ids[COUNT];
            make_ids(ids, &r);
            int64_t ldo = dim + 1 + (int64_t)(hx_rng_next(&r) % 5);
            size_t bytes = (size_t)(COUNT * ldo) * tu_float_bytes(t);
            uint8_t *out = malloc(bytes), *before = malloc(bytes);
            assert_true(out && before);
            for (size_t i = 0; i < bytes; i++)
                out[i] = (uint8_t)hx_rng_next(&r);
            memcpy(before, out, bytes);
            ug_status st = lookup(ctx, table, ids, COUNT, t, out, ldo, dim);
            TU_CHECK(st == UG_OK, "%s on %s, out %s: %s (%s)", name, ug_backend_name(backend),
                     ug_dtype_name(t), ug_status_str(st), ug_context_last_error(ctx));
            size_t esz = tu_float_bytes(t);
            for (int i = 0; i < COUNT; i++) {
                for (int64_t k = 0; k < dim; k++) {
                    uint32_t got = bits_at(out, t, (size_t)(i * ldo + k));
                    uint32_t want = expected_bits(deq[ids[i] * dim + k], t);
                    TU_CHECK(ulps_apart(got, want, t) <= max_ulps,
                             "%s on %s, out %s: row %d (id %d), k %lld is %#x, expected %#x",
                             name, ug_backend_name(backend), ug_dtype_name(t), i, ids[i],
                             (long long)k, got, want);
                    if (t == UG_F32 && backend != UG_BACKEND_CUDA) {
                        /* equal values: a sum may turn a -0 weight into +0
                         * (not on cuda, whose GEMM is not the oracle's) */
                        float col = columns[k * VOCAB + ids[i]], row;
                        memcpy(&row, out + 4 * (size_t)(i * ldo + k), 4);
                        TU_CHECK(row == col,
                                 "%s on %s: row %d (id %d), k %lld differs from the GEMM "
                                 "I . W^T (%g)", name, ug_backend_name(backend), i, ids[i],
                                 (long long)k, (double)col);
                    }
                }
                size_t pad_at = (size_t)(i * ldo + dim) * esz, pad = (size_t)(ldo - dim) * esz;
                TU_CHECK(memcmp(out + pad_at, before + pad_at, pad) == 0,
                         "%s on %s, out %s: the padding after row %d was written", name,
                         ug_backend_name(backend), ug_dtype_name(t), i);
            }
            /* repeated ids: identical rows */
            TU_CHECK(memcmp(out + (size_t)(2 * ldo) * esz, out + (size_t)(4 * ldo) * esz,
                            (size_t)dim * esz) == 0 &&
                         memcmp(out, out + (size_t)(8 * ldo) * esz, (size_t)dim * esz) == 0,
                     "%s on %s: rows of the same id differ", name, ug_backend_name(backend));
            free(out);
            free(before);
        }
        free(deq);
        free(columns);
        ug_weights_destroy(table);
        ug_weights_destroy(table_ref);
        hx_weights_free(&hw);
    }
    ug_context_destroy(ctx);
    ug_context_destroy(oracle);
}

static void test_all_formats_ref(void **state)
{
    (void)state;
    check_backend(UG_BACKEND_REF);
}

static void test_all_formats_cpu(void **state)
{
    (void)state;
    check_backend(UG_BACKEND_CPU);
}

static void test_all_formats_cuda(void **state)
{
    (void)state;
    tu_require_cuda();
    check_backend(UG_BACKEND_CUDA);
}

static void test_count_zero_writes_nothing(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_backend backends[UG_BACKEND_COUNT_];
    size_t nb = tu_available_backends(backends);
    ug_weight_format f = {UG_U4, UG_METHOD_SCALE_BIAS, 32, UG_BF16};
    for (size_t bi = 0; bi < nb; bi++) {
        ug_context *ctx = tu_context(backends[bi], 1);
        hx_weights hw;
        assert_int_equal(hx_weights_make(ctx, &f, VOCAB, 64, &r, &hw), UG_OK);
        ug_packed_weights *table = NULL;
        assert_int_equal(ug_weights_pack(ctx, &hw.src, &table), UG_OK);
        int32_t ids[2] = {3, 4};
        float out[2 * 64], before[2 * 64];
        hx_fill(out, UG_F32, 2 * 64, 1.0, &r);
        memcpy(before, out, sizeof out);
        /* on cuda the output is a device copy of `out`, read back after */
        bool cuda = backends[bi] == UG_BACKEND_CUDA;
        void *target = out;
        char msg[256] = "";
        if (cuda)
            TU_CHECK(hx_dev_alloc(&target, sizeof out, msg, sizeof msg) &&
                         hx_dev_upload(target, out, sizeof out, msg, sizeof msg),
                     "cuda output buffer: %s", msg);
        for (size_t ti = 0; ti < 3; ti++) {
            ug_status st = ug_embedding_lookup(ctx, table, ids, 0, out_types[ti], target, 0);
            TU_CHECK(st == UG_OK, "count 0 on %s: %s", ug_backend_name(backends[bi]),
                     ug_status_str(st));
            if (cuda)
                TU_CHECK(hx_dev_sync(msg, sizeof msg) &&
                             hx_dev_download(out, target, sizeof out, msg, sizeof msg),
                         "cuda output buffer: %s", msg);
            TU_CHECK(memcmp(out, before, sizeof out) == 0, "count 0 on %s wrote the output",
                     ug_backend_name(backends[bi]));
        }
        if (cuda)
            hx_dev_free(target);
        ug_weights_destroy(table);
        hx_weights_free(&hw);
        ug_context_destroy(ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_formats_ref),
        cmocka_unit_test(test_all_formats_cpu),
        cmocka_unit_test(test_all_formats_cuda),
        cmocka_unit_test(test_count_zero_writes_nothing),
    };
    return cmocka_run_group_tests_name("embedding", tests, NULL, NULL);
}
