/*
 * test_validation_gemm.c - bad input to the GEMM and the embedding lookup,
 * one test per invalid argument: the gemm descriptor and plan options
 * (ug_plan_create), ug_plan_workspace_size, ug_plan_execute (weights that do
 * not match the plan, missing workspace, C overlapping A or bias) and
 * ug_embedding_lookup. Each proves the status, that ug_context_last_error
 * names the problem, that *out is NULL after a failed plan, and that nothing
 * was written to C or to the embedding output after a failure.
 *
 * The fixture (validation_fixture.h): a fresh ref context per test, valid
 * weights [N=16][K=64] and a plan of M=3 with bias over the uint4
 * scale_zero g32 ones. test_validation_weights.c has the context, format
 * and weights half.
 */
#include <stdlib.h>
#include <string.h>

#include "validation_fixture.h"

static void expect_c_untouched(const fixture *fx)
{
    TU_CHECK(memcmp(fx->c, fx->c_before, sizeof fx->c) == 0,
             "C was written by a call that failed");
}

/* Plan `desc` over fx->w on fx->ctx, expecting failure: *out must be NULL. */
static ug_status plan_failing(fixture *fx, const ug_gemm_desc *desc,
                              const ug_plan_options *options)
{
    ug_plan *out = TU_NOT_NULL;
    ug_status st = ug_plan_create(fx->ctx, desc, fx->w, options, &out);
    TU_CHECK(out == NULL, "*out is not NULL after a failed ug_plan_create (%s)",
             ug_status_str(st));
    return st;
}

static ug_status execute(fixture *fx, const ug_packed_weights *w, const void *a, void *c,
                         const void *bias)
{
    return ug_plan_execute(fx->plan, w, a, c, bias, NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* Plans                                                                      */
/* ------------------------------------------------------------------------ */

static void test_plan_null_ctx(void **state)
{
    fixture *fx = *state;
    ug_plan *out = TU_NOT_NULL;
    assert_int_equal(ug_plan_create(NULL, &fx->desc, fx->w, NULL, &out), UG_ERR_NULL_ARGUMENT);
    assert_null(out);
}

static void test_plan_null_desc(void **state)
{
    fixture *fx = *state;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, NULL, NULL), UG_ERR_NULL_ARGUMENT, "desc is NULL");
}

static void test_plan_null_weights(void **state)
{
    fixture *fx = *state;
    ug_plan *out = TU_NOT_NULL;
    TU_EXPECT_ERROR(fx->ctx, ug_plan_create(fx->ctx, &fx->desc, NULL, NULL, &out),
                    UG_ERR_NULL_ARGUMENT, "weights is NULL");
    assert_null(out);
}

static void test_plan_null_out(void **state)
{
    fixture *fx = *state;
    TU_EXPECT_ERROR(fx->ctx, ug_plan_create(fx->ctx, &fx->desc, fx->w, NULL, NULL),
                    UG_ERR_NULL_ARGUMENT, "out is NULL");
}

static void test_plan_desc_struct_version(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.struct_version = 7;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_STRUCT_VERSION, "gemm desc",
                    "struct_version = 7");
}

static void test_plan_options_struct_version(void **state)
{
    fixture *fx = *state;
    ug_plan_options opt = UG_PLAN_OPTIONS_INIT;
    opt.struct_version = 0;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &fx->desc, &opt), UG_ERR_STRUCT_VERSION,
                    "plan options", "struct_version = 0");
}

static void test_plan_a_type_out_of_range(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.a_type = (ug_dtype)99;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_ENUM, "a_type = 99");
}

static void test_plan_c_type_out_of_range(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.c_type = (ug_dtype)-1;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_ENUM, "c_type = -1");
}

static void test_plan_bias_type_out_of_range(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.bias_type = (ug_dtype)42;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_ENUM, "bias_type = 42");
}

static void test_plan_a_type_integer(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.a_type = UG_I8;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_UNSUPPORTED, "a_type", "int8");
}

static void test_plan_c_type_integer(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.c_type = UG_U4;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_UNSUPPORTED, "c_type", "uint4");
}

static void test_plan_bias_type_integer(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.bias_type = UG_I4;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_UNSUPPORTED, "bias_type", "int4");
}

static void test_plan_has_bias_2(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.has_bias = 2;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_VALUE, "has_bias = 2");
}

static void test_plan_m_negative(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.m = -1;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_SHAPE, "m = -1");
}

static void test_plan_n_not_positive(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.n = 0;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_SHAPE, "n = 0");
}

static void test_plan_k_not_positive(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.k = -64;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_SHAPE, "k = -64");
}

static void test_plan_n_mismatch(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.n = 8;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_MISMATCH, "n = 8", "n = 16");
}

static void test_plan_k_mismatch(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.k = 128;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_MISMATCH, "k = 128", "k = 64");
}

static void test_plan_lda_short(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.lda = K - 1;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_STRIDE, "lda = 63");
}

static void test_plan_ldc_short(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.ldc = N - 1;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_STRIDE, "ldc = 15");
}

static void test_plan_lda_negative(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.lda = -1;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_STRIDE, "lda = -1");
}

static void test_plan_ldc_negative(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.ldc = -4;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_STRIDE, "ldc = -4");
}

static void test_plan_a_size_overflow(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.m = INT64_MAX / 8; /* (m - 1) * lda elements of A overflow */
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_SIZE_OVERFLOW, "overflow");
}

static void test_plan_c_size_overflow(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.m = (int64_t)1 << 40; /* A spans 2^48 bytes, C with ldc = 2^30 overflows */
    d.ldc = (int64_t)1 << 30;
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_SIZE_OVERFLOW, "overflow");
}

/* An unknown forced schedule is refused; the message names it and lists
 * what the backend offers (at least the schedule it picks by itself). */
static void test_plan_unknown_schedule(void **state)
{
    fixture *fx = *state;
    ug_plan_options opt = UG_PLAN_OPTIONS_INIT;
    opt.schedule = "warp-specialized";
    TU_EXPECT_ERROR(fx->ctx, plan_failing(fx, &fx->desc, &opt), UG_ERR_UNSUPPORTED,
                    "'warp-specialized'", "backend ref", ug_plan_schedule(fx->plan));

    ug_context *cpu = tu_context(UG_BACKEND_CPU, 1);
    ug_packed_weights *w = NULL;
    ug_plan *chosen = NULL, *out = TU_NOT_NULL;
    assert_int_equal(ug_weights_pack(cpu, &fx->hw[W_SZ].src, &w), UG_OK);
    assert_int_equal(ug_plan_create(cpu, &fx->desc, w, NULL, &chosen), UG_OK);
    TU_EXPECT_ERROR(cpu, ug_plan_create(cpu, &fx->desc, w, &opt, &out), UG_ERR_UNSUPPORTED,
                    "'warp-specialized'", "backend cpu", ug_plan_schedule(chosen));
    assert_null(out);

    /* the schedule a backend picks by itself is accepted when forced */
    opt.schedule = ug_plan_schedule(chosen);
    assert_int_equal(ug_plan_create(cpu, &fx->desc, w, &opt, &out), UG_OK);
    assert_string_equal(ug_plan_schedule(out), ug_plan_schedule(chosen));
    ug_plan_destroy(out);
    ug_plan_destroy(chosen);
    ug_weights_destroy(w);
    ug_context_destroy(cpu);
}

static void test_plan_weights_of_other_backend(void **state)
{
    fixture *fx = *state;
    ug_context *cpu = tu_context(UG_BACKEND_CPU, 1);
    ug_packed_weights *w = NULL;
    assert_int_equal(ug_weights_pack(cpu, &fx->hw[W_SZ].src, &w), UG_OK);
    ug_plan *out = TU_NOT_NULL;
    TU_EXPECT_ERROR(fx->ctx, ug_plan_create(fx->ctx, &fx->desc, w, NULL, &out), UG_ERR_MISMATCH,
                    "backend cpu");
    assert_null(out);
    ug_weights_destroy(w);
    ug_context_destroy(cpu);
}

static void test_workspace_size_null_bytes(void **state)
{
    fixture *fx = *state;
    TU_EXPECT_ERROR(fx->ctx, ug_plan_workspace_size(fx->plan, NULL), UG_ERR_NULL_ARGUMENT,
                    "bytes is NULL");
    size_t bytes = 1;
    assert_int_equal(ug_plan_workspace_size(NULL, &bytes), UG_ERR_NULL_ARGUMENT);
}

/* ------------------------------------------------------------------------ */
/* Execute                                                                    */
/* ------------------------------------------------------------------------ */

static void test_execute_null_plan(void **state)
{
    fixture *fx = *state;
    assert_int_equal(ug_plan_execute(NULL, fx->w, fx->a, fx->c, fx->bias, NULL, 0),
                     UG_ERR_NULL_ARGUMENT);
    expect_c_untouched(fx);
}

static void test_execute_null_weights(void **state)
{
    fixture *fx = *state;
    TU_EXPECT_ERROR(fx->ctx, execute(fx, NULL, fx->a, fx->c, fx->bias), UG_ERR_NULL_ARGUMENT,
                    "weights is NULL");
    expect_c_untouched(fx);
}

static void test_execute_null_a(void **state)
{
    fixture *fx = *state;
    TU_EXPECT_ERROR(fx->ctx, execute(fx, fx->w, NULL, fx->c, fx->bias), UG_ERR_NULL_ARGUMENT,
                    "a is NULL");
    expect_c_untouched(fx);
}

static void test_execute_null_c(void **state)
{
    fixture *fx = *state;
    TU_EXPECT_ERROR(fx->ctx, execute(fx, fx->w, fx->a, NULL, fx->bias), UG_ERR_NULL_ARGUMENT,
                    "c is NULL");
}

static void test_execute_null_bias(void **state)
{
    fixture *fx = *state;
    TU_EXPECT_ERROR(fx->ctx, execute(fx, fx->w, fx->a, fx->c, NULL), UG_ERR_NULL_ARGUMENT,
                    "bias is NULL");
    expect_c_untouched(fx);
}

static void test_execute_weights_of_other_format(void **state)
{
    fixture *fx = *state;
    ug_packed_weights *other = NULL;
    assert_int_equal(ug_weights_pack(fx->ctx, &fx->hw[W_SB].src, &other), UG_OK);
    TU_EXPECT_ERROR(fx->ctx, execute(fx, other, fx->a, fx->c, fx->bias), UG_ERR_MISMATCH, "uint8",
                    "scale_bias");
    expect_c_untouched(fx);
    ug_weights_destroy(other);
}

static void test_execute_weights_of_other_shape(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.n = N / 2; /* the first half of the rows: a valid source of another shape */
    ug_packed_weights *other = NULL;
    assert_int_equal(ug_weights_pack(fx->ctx, &src, &other), UG_OK);
    TU_EXPECT_ERROR(fx->ctx, execute(fx, other, fx->a, fx->c, fx->bias), UG_ERR_MISMATCH, "n = 8");
    expect_c_untouched(fx);
    ug_weights_destroy(other);
}

static void test_execute_weights_of_other_backend(void **state)
{
    fixture *fx = *state;
    ug_context *cpu = tu_context(UG_BACKEND_CPU, 1);
    ug_packed_weights *other = NULL;
    assert_int_equal(ug_weights_pack(cpu, &fx->hw[W_SZ].src, &other), UG_OK);
    TU_EXPECT_ERROR(fx->ctx, execute(fx, other, fx->a, fx->c, fx->bias), UG_ERR_MISMATCH,
                    "backend cpu");
    expect_c_untouched(fx);
    ug_weights_destroy(other);
    ug_context_destroy(cpu);
}

/* No plan of the ref or cpu backends needs workspace, so WORKSPACE_TOO_SMALL
 * cannot be provoked; what can be shown is that a plan reporting 0 bytes
 * runs with no workspace at all. */
static void test_execute_without_workspace(void **state)
{
    fixture *fx = *state;
    static const ug_backend backends[] = {UG_BACKEND_REF, UG_BACKEND_CPU};
    for (size_t i = 0; i < 2; i++) {
        ug_context *ctx = tu_context(backends[i], 1);
        ug_packed_weights *w = NULL;
        ug_plan *plan = NULL;
        assert_int_equal(ug_weights_pack(ctx, &fx->hw[W_SZ].src, &w), UG_OK);
        assert_int_equal(ug_plan_create(ctx, &fx->desc, w, NULL, &plan), UG_OK);
        size_t bytes = 12345;
        assert_int_equal(ug_plan_workspace_size(plan, &bytes), UG_OK);
        assert_int_equal(bytes, 0);
        memcpy(fx->c, fx->c_before, sizeof fx->c);
        ug_status st = ug_plan_execute(plan, w, fx->a, fx->c, fx->bias, NULL, 0);
        TU_CHECK(st == UG_OK, "%s: %s", ug_status_str(st), ug_context_last_error(ctx));
        TU_CHECK(memcmp(fx->c, fx->c_before, sizeof fx->c) != 0, "C was not written");
        ug_plan_destroy(plan);
        ug_weights_destroy(w);
        ug_context_destroy(ctx);
    }
}

static void test_execute_c_overlaps_a(void **state)
{
    fixture *fx = *state;
    /* one buffer: A [3][64] followed by C [3][16], C starting 8 floats early */
    float buf[M * K + M * N];
    memcpy(buf, fx->a, sizeof fx->a);
    memcpy(buf + M * K, fx->c, sizeof fx->c);
    float before[M * K + M * N];
    memcpy(before, buf, sizeof buf);
    TU_EXPECT_ERROR(fx->ctx, execute(fx, fx->w, buf, buf + M * K - 8, fx->bias), UG_ERR_ALIASING,
                    "overlaps a");
    TU_CHECK(memcmp(buf, before, sizeof buf) == 0, "the overlapping buffer was written");
}

static void test_execute_c_overlaps_bias(void **state)
{
    fixture *fx = *state;
    float buf[M * N + N];
    memcpy(buf, fx->c, sizeof fx->c);
    memcpy(buf + M * N, fx->bias, sizeof fx->bias);
    float before[M * N + N];
    memcpy(before, buf, sizeof buf);
    TU_EXPECT_ERROR(fx->ctx, execute(fx, fx->w, fx->a, buf, buf + M * N - 1), UG_ERR_ALIASING,
                    "overlaps bias");
    TU_CHECK(memcmp(buf, before, sizeof buf) == 0, "the overlapping buffer was written");
}

/* The overlap check is exact: C starting right after A (and bias right
 * after C) in one buffer is accepted. */
static void test_execute_adjacent_buffers_accepted(void **state)
{
    fixture *fx = *state;
    float buf[M * K + M * N + N];
    memcpy(buf, fx->a, sizeof fx->a);
    memcpy(buf + M * K, fx->c, sizeof fx->c);
    memcpy(buf + M * K + M * N, fx->bias, sizeof fx->bias);
    ug_status st = execute(fx, fx->w, buf, buf + M * K, buf + M * K + M * N);
    TU_CHECK(st == UG_OK, "%s: %s", ug_status_str(st), ug_context_last_error(fx->ctx));
    TU_CHECK(memcmp(buf, fx->a, sizeof fx->a) == 0, "A was written");
    TU_CHECK(memcmp(buf + M * K + M * N, fx->bias, sizeof fx->bias) == 0, "bias was written");
}

/* ------------------------------------------------------------------------ */
/* Embedding lookup (table: the fixture's [16][64] weights)                  */
/* ------------------------------------------------------------------------ */

typedef struct embed_out {
    float out[4 * K];
    float before[4 * K];
} embed_out;

static void embed_prepare(embed_out *e, hx_rng *r)
{
    hx_fill(e->out, UG_F32, 4 * K, 1.0, r);
    memcpy(e->before, e->out, sizeof e->out);
}

static void expect_embed_untouched(const embed_out *e)
{
    TU_CHECK(memcmp(e->out, e->before, sizeof e->out) == 0,
             "the embedding output was written by a call that failed");
}

static void test_embed_null_ctx(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    embed_out e;
    embed_prepare(&e, &r);
    int32_t ids[2] = {1, 2};
    assert_int_equal(ug_embedding_lookup(NULL, fx->w, ids, 2, UG_F32, e.out, 0),
                     UG_ERR_NULL_ARGUMENT);
    expect_embed_untouched(&e);
}

static void test_embed_null_table(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    embed_out e;
    embed_prepare(&e, &r);
    int32_t ids[2] = {1, 2};
    TU_EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, NULL, ids, 2, UG_F32, e.out, 0),
                    UG_ERR_NULL_ARGUMENT, "table is NULL");
    expect_embed_untouched(&e);
}

static void test_embed_null_ids(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    embed_out e;
    embed_prepare(&e, &r);
    TU_EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, NULL, 2, UG_F32, e.out, 0),
                    UG_ERR_NULL_ARGUMENT, "ids is NULL");
    expect_embed_untouched(&e);
}

static void test_embed_null_out(void **state)
{
    fixture *fx = *state;
    int32_t ids[2] = {1, 2};
    TU_EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 2, UG_F32, NULL, 0),
                    UG_ERR_NULL_ARGUMENT, "out is NULL");
}

static void test_embed_id_negative(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    embed_out e;
    embed_prepare(&e, &r);
    int32_t ids[4] = {3, 0, -1, 5};
    TU_EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 4, UG_F32, e.out, 0),
                    UG_ERR_INVALID_VALUE, "ids[2] = -1");
    expect_embed_untouched(&e);
}

static void test_embed_id_vocab(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    embed_out e;
    embed_prepare(&e, &r);
    int32_t ids[4] = {0, 15, 4, N};
    TU_EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 4, UG_F32, e.out, 0),
                    UG_ERR_INVALID_VALUE, "ids[3] = 16");
    expect_embed_untouched(&e);
}

static void test_embed_out_type_int8(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    embed_out e;
    embed_prepare(&e, &r);
    int32_t ids[2] = {1, 2};
    TU_EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 2, UG_I8, e.out, 0),
                    UG_ERR_UNSUPPORTED, "out_type", "int8");
    expect_embed_untouched(&e);
}

static void test_embed_out_type_out_of_range(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    embed_out e;
    embed_prepare(&e, &r);
    int32_t ids[2] = {1, 2};
    TU_EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 2, (ug_dtype)99, e.out, 0),
                    UG_ERR_INVALID_ENUM, "out_type = 99");
    expect_embed_untouched(&e);
}

static void test_embed_ldo_short(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    embed_out e;
    embed_prepare(&e, &r);
    int32_t ids[2] = {1, 2};
    TU_EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 2, UG_F32, e.out, K - 1),
                    UG_ERR_INVALID_STRIDE, "ldo = 63");
    expect_embed_untouched(&e);
}

static void test_embed_ldo_negative(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    embed_out e;
    embed_prepare(&e, &r);
    int32_t ids[2] = {1, 2};
    TU_EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 2, UG_F32, e.out, -2),
                    UG_ERR_INVALID_STRIDE, "ldo = -2");
    expect_embed_untouched(&e);
}

static void test_embed_count_negative(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    embed_out e;
    embed_prepare(&e, &r);
    int32_t ids[2] = {1, 2};
    TU_EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, -1, UG_F32, e.out, 0),
                    UG_ERR_INVALID_SHAPE, "count = -1");
    expect_embed_untouched(&e);
}

static void test_embed_size_overflow(void **state)
{
    fixture *fx = *state;
    int32_t ids[2] = {1, 2};
    float out[K];
    TU_EXPECT_ERROR(fx->ctx,
                    ug_embedding_lookup(fx->ctx, fx->w, ids, INT64_MAX / 16, UG_F32, out, 1 << 10),
                    UG_ERR_SIZE_OVERFLOW, "overflow");
}

static void test_embed_table_of_other_backend(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    embed_out e;
    embed_prepare(&e, &r);
    ug_context *cpu = tu_context(UG_BACKEND_CPU, 1);
    int32_t ids[2] = {1, 2};
    TU_EXPECT_ERROR(cpu, ug_embedding_lookup(cpu, fx->w, ids, 2, UG_F32, e.out, 0), UG_ERR_MISMATCH,
                    "backend ref");
    expect_embed_untouched(&e);
    ug_context_destroy(cpu);
}

static void test_execute_a_misaligned(void **state)
{
    fixture *fx = *state;
    float buf[M * K + 1];
    char *odd = (char *)buf + 1;
    memcpy(odd, fx->a, sizeof fx->a);
    TU_EXPECT_ERROR(fx->ctx, execute(fx, fx->w, odd, fx->c, fx->bias), UG_ERR_MISALIGNED,
                    "ug_plan_execute: a = ");
    TU_CHECK(memcmp(fx->c, fx->c_before, sizeof fx->c) == 0, "C was written");
}

static void test_execute_c_misaligned(void **state)
{
    fixture *fx = *state;
    float buf[M * N + 1];
    char *odd = (char *)buf + 2;
    TU_EXPECT_ERROR(fx->ctx, execute(fx, fx->w, fx->a, odd, fx->bias), UG_ERR_MISALIGNED,
                    "ug_plan_execute: c = ");
}

/* A and C as column slices of one [M][K + N] buffer: disjoint, so accepted,
 * and the result equals that of separate buffers. */
static void test_execute_column_slices_accepted(void **state)
{
    fixture *fx = *state;
    enum { LD = K + N };
    float buf[M * LD];
    for (int i = 0; i < M; i++) {
        memcpy(buf + i * LD, fx->a + i * K, K * sizeof(float));
        memcpy(buf + i * LD + K, fx->c + i * N, N * sizeof(float));
    }
    ug_gemm_desc d = fx->desc;
    d.lda = LD;
    d.ldc = LD;
    ug_plan *plan = NULL;
    assert_int_equal(ug_plan_create(fx->ctx, &d, fx->w, NULL, &plan), UG_OK);
    ug_status st = ug_plan_execute(plan, fx->w, buf, buf + K, fx->bias, NULL, 0);
    TU_CHECK(st == UG_OK, "%s", ug_context_last_error(fx->ctx));
    assert_int_equal(execute(fx, fx->w, fx->a, fx->c, fx->bias), UG_OK);
    for (int i = 0; i < M; i++)
        TU_CHECK(memcmp(buf + i * LD + K, fx->c + i * N, N * sizeof(float)) == 0,
                 "row %d differs from the separate-buffer result", i);
    ug_plan_destroy(plan);
}

static void test_embed_out_overlaps_ids(void **state)
{
    fixture *fx = *state;
    float out[2 * K];
    int32_t *ids = (int32_t *)(out + K); /* ids inside row 1 of out */
    ids[0] = 1;
    ids[1] = 2;
    TU_EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 2, UG_F32, out, 0),
                    UG_ERR_ALIASING, "out overlaps ids");
    TU_CHECK(ids[0] == 1 && ids[1] == 2, "ids were overwritten");
}

static void test_last_error_copy(void **state)
{
    fixture *fx = *state;
    assert_int_equal(execute(fx, fx->w, NULL, fx->c, fx->bias), UG_ERR_NULL_ARGUMENT);
    char copy[64];
    assert_int_equal(ug_context_last_error_copy(fx->ctx, copy, sizeof copy), UG_OK);
    TU_CHECK(strncmp(copy, ug_context_last_error(fx->ctx), sizeof copy - 1) == 0,
             "copy '%s' differs from '%s'", copy, ug_context_last_error(fx->ctx));
    char tiny[4];
    assert_int_equal(ug_context_last_error_copy(fx->ctx, tiny, sizeof tiny), UG_OK);
    TU_CHECK(strlen(tiny) == 3, "a 4-byte copy holds '%s'", tiny);
    assert_int_equal(ug_context_last_error_copy(fx->ctx, NULL, 8), UG_ERR_NULL_ARGUMENT);
}

static void test_plan_desc_struct_version_zero(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.struct_version = 0;
    ug_plan *plan = NULL;
    TU_EXPECT_ERROR(fx->ctx, ug_plan_create(fx->ctx, &d, fx->w, NULL, &plan),
                    UG_ERR_STRUCT_VERSION, "struct_version = 0");
    assert_null(plan);
}

#define T(name) cmocka_unit_test_setup_teardown(test_##name, vf_setup, vf_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(plan_null_ctx),
        T(plan_null_desc),
        T(plan_null_weights),
        T(plan_null_out),
        T(plan_desc_struct_version),
        T(plan_options_struct_version),
        T(plan_a_type_out_of_range),
        T(plan_c_type_out_of_range),
        T(plan_bias_type_out_of_range),
        T(plan_a_type_integer),
        T(plan_c_type_integer),
        T(plan_bias_type_integer),
        T(plan_has_bias_2),
        T(plan_m_negative),
        T(plan_n_not_positive),
        T(plan_k_not_positive),
        T(plan_n_mismatch),
        T(plan_k_mismatch),
        T(plan_lda_short),
        T(plan_ldc_short),
        T(plan_lda_negative),
        T(plan_ldc_negative),
        T(plan_a_size_overflow),
        T(plan_c_size_overflow),
        T(plan_unknown_schedule),
        T(plan_weights_of_other_backend),
        T(workspace_size_null_bytes),
        T(execute_null_plan),
        T(execute_null_weights),
        T(execute_null_a),
        T(execute_null_c),
        T(execute_null_bias),
        T(execute_weights_of_other_format),
        T(execute_weights_of_other_shape),
        T(execute_weights_of_other_backend),
        T(execute_without_workspace),
        T(execute_c_overlaps_a),
        T(execute_c_overlaps_bias),
        T(execute_adjacent_buffers_accepted),
        T(execute_a_misaligned),
        T(execute_c_misaligned),
        T(execute_column_slices_accepted),
        T(embed_out_overlaps_ids),
        T(last_error_copy),
        T(plan_desc_struct_version_zero),
        T(embed_null_ctx),
        T(embed_null_table),
        T(embed_null_ids),
        T(embed_null_out),
        T(embed_id_negative),
        T(embed_id_vocab),
        T(embed_out_type_int8),
        T(embed_out_type_out_of_range),
        T(embed_ldo_short),
        T(embed_ldo_negative),
        T(embed_count_negative),
        T(embed_size_overflow),
        T(embed_table_of_other_backend),
    };
    return cmocka_run_group_tests_name("validation_gemm", tests, NULL, NULL);
}
