/*
 * test_validation.c - bad input, one test per invalid argument: each proves
 * the status, that the message names the problem (a distinctive substring of
 * ug_context_last_error, or of the error buffer of ug_context_create), that
 * *out is NULL after a failed create/pack/plan, and that nothing was written
 * to C, to the embedding output or to the codes after a failure.
 *
 * Every test gets a fresh ref context (so no message is left from an earlier
 * test) and valid weights of four formats, [N=16][K=64]; the GEMM plan is
 * M=3 with bias, over uint4 scale_zero g32 weights.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define N 16
#define K 64
#define M 3

enum { W_SZ, W_SB, W_SYM, W_FP, W_COUNT };

typedef struct fixture {
    ug_context *ctx;
    hx_weights hw[W_COUNT]; /* uint4 scale_zero g32 f16, uint8 scale_bias g64 bf16,
                               int4 symmetric per-channel f32, float16 */
    ug_packed_weights *w;   /* hw[W_SZ] packed on ctx */
    ug_gemm_desc desc;
    ug_plan *plan;
    float a[M * K], bias[N], c[M * N], c_before[M * N];
} fixture;

static const ug_weight_format formats[W_COUNT] = {
    [W_SZ] = {UG_U4, UG_METHOD_SCALE_ZERO, 32, UG_F16},
    [W_SB] = {UG_U8, UG_METHOD_SCALE_BIAS, 64, UG_BF16},
    [W_SYM] = {UG_I4, UG_METHOD_SYMMETRIC, UG_GROUP_PER_CHANNEL, UG_F32},
    [W_FP] = {UG_F16, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
};

/* A non-NULL value to preset out-parameters with. */
static max_align_t marker;
#define NOT_NULL ((void *)&marker)

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->ctx = tu_context(UG_BACKEND_REF, 1);
    hx_rng r = tu_rng("validation");
    for (int i = 0; i < W_COUNT; i++)
        assert_int_equal(hx_weights_make(fx->ctx, &formats[i], N, K, &r, &fx->hw[i]), UG_OK);
    assert_int_equal(ug_weights_pack(fx->ctx, &fx->hw[W_SZ].src, &fx->w), UG_OK);
    fx->desc = (ug_gemm_desc)UG_GEMM_DESC_INIT;
    fx->desc.m = M;
    fx->desc.n = N;
    fx->desc.k = K;
    fx->desc.has_bias = 1;
    fx->desc.alpha = 1.5f;
    fx->desc.beta = 0.5f;
    assert_int_equal(ug_plan_create(fx->ctx, &fx->desc, fx->w, NULL, &fx->plan), UG_OK);
    hx_fill(fx->a, UG_F32, M * K, 1.0, &r);
    hx_fill(fx->bias, UG_F32, N, 1.0, &r);
    hx_fill(fx->c, UG_F32, M * N, 1.0, &r);
    memcpy(fx->c_before, fx->c, sizeof fx->c);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ug_plan_destroy(fx->plan);
    ug_weights_destroy(fx->w);
    for (int i = 0; i < W_COUNT; i++)
        hx_weights_free(&fx->hw[i]);
    ug_context_destroy(fx->ctx);
    free(fx);
    return 0;
}

/* got == want, and `message` contains every one of the NULL-terminated
 * needles. */
static void expect_message(const char *message, ug_status got, ug_status want, ...)
{
    TU_CHECK(got == want, "status %s (%d), expected %s; message: '%s'", ug_status_str(got),
             (int)got, ug_status_str(want), message);
    va_list ap;
    va_start(ap, want);
    for (const char *needle = va_arg(ap, const char *); needle != NULL;
         needle = va_arg(ap, const char *))
        TU_CHECK(strstr(message, needle) != NULL, "message '%s' does not mention '%s'", message,
                 needle);
    va_end(ap);
}

#define EXPECT_ERROR(ctx, got, want, ...)                                                    \
    expect_message(ug_context_last_error(ctx), got, want, __VA_ARGS__, (const char *)NULL)
#define EXPECT_BUFFER(buf, got, want, ...)                                                   \
    expect_message(buf, got, want, __VA_ARGS__, (const char *)NULL)

static void expect_c_untouched(const fixture *fx)
{
    TU_CHECK(memcmp(fx->c, fx->c_before, sizeof fx->c) == 0,
             "C was written by a call that failed");
}

/* Pack `src` on fx->ctx, expecting failure: *out must come back NULL. */
static ug_status pack_failing(fixture *fx, const ug_weight_source *src)
{
    ug_packed_weights *out = NOT_NULL;
    ug_status st = ug_weights_pack(fx->ctx, src, &out);
    TU_CHECK(out == NULL, "*out is not NULL after a failed ug_weights_pack (%s)",
             ug_status_str(st));
    return st;
}

/* Plan `desc` over fx->w on fx->ctx, expecting failure: *out must be NULL. */
static ug_status plan_failing(fixture *fx, const ug_gemm_desc *desc,
                              const ug_plan_options *options)
{
    ug_plan *out = NOT_NULL;
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
/* Contexts                                                                   */
/* ------------------------------------------------------------------------ */

static ug_status create_with(const ug_context_options *opt, char *err, size_t size)
{
    ug_context *out = NOT_NULL;
    memset(err, 'Z', size);
    ug_status st = ug_context_create(opt, &out, err, size);
    TU_CHECK(out == NULL, "*out is not NULL after a failed ug_context_create (%s)",
             ug_status_str(st));
    TU_CHECK(memchr(err, '\0', size) != NULL, "the error buffer is not a string");
    return st;
}

static void test_context_null_out(void **state)
{
    (void)state;
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    char err[256] = "";
    EXPECT_BUFFER(err, ug_context_create(&opt, NULL, err, sizeof err), UG_ERR_NULL_ARGUMENT,
                  "out is NULL");
}

static void test_context_null_options(void **state)
{
    (void)state;
    char err[256];
    EXPECT_BUFFER(err, create_with(NULL, err, sizeof err), UG_ERR_NULL_ARGUMENT,
                  "options is NULL");
    ug_context *out = NOT_NULL;
    assert_int_equal(ug_context_create(NULL, &out, NULL, 0), UG_ERR_NULL_ARGUMENT);
    assert_null(out);
}

static void test_context_struct_version(void **state)
{
    (void)state;
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    char err[256];
    opt.struct_version = UG_STRUCT_VERSION + 1;
    EXPECT_BUFFER(err, create_with(&opt, err, sizeof err), UG_ERR_STRUCT_VERSION,
                  "struct_version");
    opt.struct_version = 0;
    EXPECT_BUFFER(err, create_with(&opt, err, sizeof err), UG_ERR_STRUCT_VERSION,
                  "struct_version = 0");
}

static void test_context_backend_out_of_range(void **state)
{
    (void)state;
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    char err[256];
    opt.backend = (ug_backend)9;
    EXPECT_BUFFER(err, create_with(&opt, err, sizeof err), UG_ERR_INVALID_ENUM, "backend = 9");
    opt.backend = (ug_backend)-1;
    EXPECT_BUFFER(err, create_with(&opt, err, sizeof err), UG_ERR_INVALID_ENUM, "backend = -1");
}

static void test_context_negative_threads(void **state)
{
    (void)state;
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    char err[256];
    opt.num_threads = -1;
    EXPECT_BUFFER(err, create_with(&opt, err, sizeof err), UG_ERR_INVALID_VALUE,
                  "num_threads = -1");
}

/* Without a GPU (no /dev/nvidia0, or a build without CUDA) the cuda backend
 * is unavailable and the buffer says why. With one, this version has no
 * kernels and answers UNSUPPORTED; once it has, the context is created. */
static void test_context_cuda_without_gpu(void **state)
{
    (void)state;
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = UG_BACKEND_CUDA;
    char err[256];
    ug_context *out = NOT_NULL;
    memset(err, 'Z', sizeof err);
    ug_status st = ug_context_create(&opt, &out, err, sizeof err);
    if (access("/dev/nvidia0", F_OK) != 0) {
        EXPECT_BUFFER(err, st, UG_ERR_BACKEND_UNAVAILABLE, "cuda");
        assert_null(out);
        return;
    }
    if (st == UG_OK) {
        assert_int_equal(ug_context_backend(out), UG_BACKEND_CUDA);
        ug_context_destroy(out);
        return;
    }
    TU_CHECK(st == UG_ERR_UNSUPPORTED || st == UG_ERR_BACKEND_UNAVAILABLE,
             "cuda context with a GPU present: %s (%s)", ug_status_str(st), err);
    assert_null(out);
    assert_non_null(strstr(err, "cuda"));
}

static void test_context_error_buffer_truncated(void **state)
{
    (void)state;
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.num_threads = -1;
    char err[8];
    assert_int_equal(create_with(&opt, err, sizeof err), UG_ERR_INVALID_VALUE);
    assert_int_equal(strlen(err), sizeof err - 1);
}

/* ------------------------------------------------------------------------ */
/* Wire names                                                                 */
/* ------------------------------------------------------------------------ */

static void test_parse_unknown_dtype(void **state)
{
    fixture *fx = *state;
    ug_dtype d;
    EXPECT_ERROR(fx->ctx, ug_dtype_parse(fx->ctx, "float8_e4m3", &d), UG_ERR_UNKNOWN_NAME,
                 "'float8_e4m3'");
}

static void test_parse_unknown_method(void **state)
{
    fixture *fx = *state;
    ug_method m;
    EXPECT_ERROR(fx->ctx, ug_method_parse(fx->ctx, "gguf_q4_k", &m), UG_ERR_UNKNOWN_NAME,
                 "'gguf_q4_k'");
}

static void test_parse_unknown_backend(void **state)
{
    fixture *fx = *state;
    ug_backend b;
    EXPECT_ERROR(fx->ctx, ug_backend_parse(fx->ctx, "metal", &b), UG_ERR_UNKNOWN_NAME,
                 "'metal'");
}

static void test_parse_null_name(void **state)
{
    fixture *fx = *state;
    ug_dtype d;
    ug_method m;
    ug_backend b;
    EXPECT_ERROR(fx->ctx, ug_dtype_parse(fx->ctx, NULL, &d), UG_ERR_NULL_ARGUMENT,
                 "name is NULL");
    EXPECT_ERROR(fx->ctx, ug_method_parse(fx->ctx, NULL, &m), UG_ERR_NULL_ARGUMENT,
                 "name is NULL");
    EXPECT_ERROR(fx->ctx, ug_backend_parse(fx->ctx, NULL, &b), UG_ERR_NULL_ARGUMENT,
                 "name is NULL");
}

static void test_parse_null_out(void **state)
{
    fixture *fx = *state;
    EXPECT_ERROR(fx->ctx, ug_dtype_parse(fx->ctx, "int4", NULL), UG_ERR_NULL_ARGUMENT,
                 "out is NULL");
    EXPECT_ERROR(fx->ctx, ug_method_parse(fx->ctx, "awq", NULL), UG_ERR_NULL_ARGUMENT,
                 "out is NULL");
    EXPECT_ERROR(fx->ctx, ug_backend_parse(fx->ctx, "cpu", NULL), UG_ERR_NULL_ARGUMENT,
                 "out is NULL");
}

/* ------------------------------------------------------------------------ */
/* Weight sources                                                             */
/* ------------------------------------------------------------------------ */

static void test_pack_null_ctx(void **state)
{
    fixture *fx = *state;
    ug_packed_weights *out = NOT_NULL;
    assert_int_equal(ug_weights_pack(NULL, &fx->hw[W_SZ].src, &out), UG_ERR_NULL_ARGUMENT);
    assert_null(out);
}

static void test_pack_null_src(void **state)
{
    fixture *fx = *state;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, NULL), UG_ERR_NULL_ARGUMENT, "src is NULL");
}

static void test_pack_null_out(void **state)
{
    fixture *fx = *state;
    EXPECT_ERROR(fx->ctx, ug_weights_pack(fx->ctx, &fx->hw[W_SZ].src, NULL),
                 UG_ERR_NULL_ARGUMENT, "out is NULL");
}

static void test_pack_null_codes(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_FP].src;
    src.codes = NULL;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_NULL_ARGUMENT, "codes is NULL");
}

static void test_pack_null_scales(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SYM].src;
    src.scales = NULL;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_NULL_ARGUMENT, "scales is NULL");
}

static void test_pack_null_biases(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SB].src;
    src.biases = NULL;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_NULL_ARGUMENT, "biases is NULL");
}

static void test_pack_null_zeros(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.zeros = NULL;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_NULL_ARGUMENT, "zeros is NULL");
}

static void test_pack_struct_version(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.struct_version = 0;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_STRUCT_VERSION, "struct_version = 0");
}

static void test_pack_storage_out_of_range(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.format.storage = (ug_dtype)99;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_ENUM, "storage = 99");
}

static void test_pack_method_out_of_range(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.format.method = (ug_method)-1;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_ENUM, "method = -1");
}

static void test_pack_scale_type_out_of_range(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.format.scale_type = UG_DTYPE_COUNT_;
    char needle[32];
    snprintf(needle, sizeof needle, "scale_type = %d", (int)UG_DTYPE_COUNT_);
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_ENUM, needle);
}

static void test_pack_n_not_positive(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.n = 0;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_SHAPE, "n = 0");
    src.n = -5;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_SHAPE, "n = -5");
}

static void test_pack_k_not_positive(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_FP].src;
    src.k = 0;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_SHAPE, "k = 0");
    src.k = -64;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_SHAPE, "k = -64");
}

static void test_pack_size_overflow(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.n = INT64_MAX / 16;
    src.k = 1 << 20;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_SIZE_OVERFLOW, "overflow");
}

static void test_source_sizes_overflow(void **state)
{
    fixture *fx = *state;
    size_t codes = 7;
    EXPECT_ERROR(fx->ctx,
                 ug_weight_source_sizes(fx->ctx, &formats[W_FP], INT64_MAX / 2, 4, &codes, NULL,
                                        NULL, NULL),
                 UG_ERR_SIZE_OVERFLOW, "overflow");
    assert_int_equal(codes, 7);
}

static void test_source_sizes_null_format(void **state)
{
    fixture *fx = *state;
    EXPECT_ERROR(fx->ctx, ug_weight_source_sizes(fx->ctx, NULL, N, K, NULL, NULL, NULL, NULL),
                 UG_ERR_NULL_ARGUMENT, "format is NULL");
}

static void test_pack_group_48(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.format.group_size = 48;
    src.k = 96;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_GROUP_SIZE, "group_size = 48");
}

static void test_pack_group_0_quantized(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SB].src;
    src.format.group_size = 0;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_GROUP_SIZE, "group_size = 0");
}

static void test_pack_group_for_method_none(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_FP].src;
    src.format.group_size = 32;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_GROUP_SIZE, "group_size = 32",
                 "method none");
}

static void test_pack_k_not_multiple_of_group(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SB].src; /* g64 */
    src.k = 96;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_GROUP_NOT_DIVIDING_K, "k = 96", "64");
}

static void test_pack_odd_k_4bit(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SYM].src; /* int4 per channel: any K is one group */
    src.k = 33;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_K_NOT_PACKABLE, "k = 33", "odd");
}

static void test_pack_int_storage_method_none(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_FP].src;
    src.format.storage = UG_U4;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_UNSUPPORTED, "uint4", "method none");
}

static void test_pack_float_storage_quantized(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SB].src;
    src.format.storage = UG_BF16;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_UNSUPPORTED, "bfloat16", "scale_bias");
}

static void test_pack_scale_type_int8(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SYM].src;
    src.format.scale_type = UG_I8;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_UNSUPPORTED, "scale_type", "int8");
}

static void test_pack_scale_type_for_method_none(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_FP].src;
    src.format.scale_type = UG_F16;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_UNSUPPORTED, "scale_type float16",
                 "method none");
}

/* fx->hw[W_SZ] with one zero point (row 3, group 1) replaced, as format
 * `storage`, packed: must fail naming the value and its place. */
static void expect_bad_zero(fixture *fx, ug_dtype storage, int value)
{
    uint8_t zeros[N * (K / 32)];
    memcpy(zeros, fx->hw[W_SZ].zeros, sizeof zeros);
    for (size_t i = 0; i < sizeof zeros; i++)
        zeros[i] = storage == UG_I4 ? (uint8_t)(zeros[i] % 16 - 8) : zeros[i];
    zeros[3 * (K / 32) + 1] = (uint8_t)value;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.format.storage = storage;
    src.zeros = zeros;
    char needle[32];
    snprintf(needle, sizeof needle, "zero point %d", value);
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_VALUE, needle, "row 3",
                 "group 1");
}

static void test_pack_zero_point_u4_16(void **state)
{
    expect_bad_zero(*state, UG_U4, 16);
}

static void test_pack_zero_point_i4_minus_9(void **state)
{
    expect_bad_zero(*state, UG_I4, -9);
}

static void test_pack_zero_point_i4_8(void **state)
{
    expect_bad_zero(*state, UG_I4, 8);
}

static void test_pack_biases_for_scale_zero(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.biases = fx->hw[W_SZ].scales;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_VALUE, "biases given",
                 "scale_zero");
}

static void test_pack_zeros_for_scale_bias(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SB].src;
    src.zeros = fx->hw[W_SZ].zeros;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_VALUE, "zeros given",
                 "scale_bias");
}

static void test_pack_scales_for_method_none(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_FP].src;
    src.scales = fx->hw[W_SZ].scales;
    EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_VALUE, "scales given");
}

static void test_describe_null_weights(void **state)
{
    (void)state;
    assert_int_equal(ug_weights_describe(NULL, NULL, NULL, NULL), UG_ERR_NULL_ARGUMENT);
}

/* ------------------------------------------------------------------------ */
/* Plans                                                                      */
/* ------------------------------------------------------------------------ */

static void test_plan_null_ctx(void **state)
{
    fixture *fx = *state;
    ug_plan *out = NOT_NULL;
    assert_int_equal(ug_plan_create(NULL, &fx->desc, fx->w, NULL, &out), UG_ERR_NULL_ARGUMENT);
    assert_null(out);
}

static void test_plan_null_desc(void **state)
{
    fixture *fx = *state;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, NULL, NULL), UG_ERR_NULL_ARGUMENT, "desc is NULL");
}

static void test_plan_null_weights(void **state)
{
    fixture *fx = *state;
    ug_plan *out = NOT_NULL;
    EXPECT_ERROR(fx->ctx, ug_plan_create(fx->ctx, &fx->desc, NULL, NULL, &out),
                 UG_ERR_NULL_ARGUMENT, "weights is NULL");
    assert_null(out);
}

static void test_plan_null_out(void **state)
{
    fixture *fx = *state;
    EXPECT_ERROR(fx->ctx, ug_plan_create(fx->ctx, &fx->desc, fx->w, NULL, NULL),
                 UG_ERR_NULL_ARGUMENT, "out is NULL");
}

static void test_plan_desc_struct_version(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.struct_version = 7;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_STRUCT_VERSION, "gemm desc",
                 "struct_version = 7");
}

static void test_plan_options_struct_version(void **state)
{
    fixture *fx = *state;
    ug_plan_options opt = UG_PLAN_OPTIONS_INIT;
    opt.struct_version = 0;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &fx->desc, &opt), UG_ERR_STRUCT_VERSION,
                 "plan options", "struct_version = 0");
}

static void test_plan_a_type_out_of_range(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.a_type = (ug_dtype)99;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_ENUM, "a_type = 99");
}

static void test_plan_c_type_out_of_range(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.c_type = (ug_dtype)-1;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_ENUM, "c_type = -1");
}

static void test_plan_bias_type_out_of_range(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.bias_type = (ug_dtype)42;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_ENUM, "bias_type = 42");
}

static void test_plan_a_type_integer(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.a_type = UG_I8;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_UNSUPPORTED, "a_type", "int8");
}

static void test_plan_c_type_integer(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.c_type = UG_U4;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_UNSUPPORTED, "c_type", "uint4");
}

static void test_plan_bias_type_integer(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.bias_type = UG_I4;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_UNSUPPORTED, "bias_type", "int4");
}

static void test_plan_has_bias_2(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.has_bias = 2;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_VALUE, "has_bias = 2");
}

static void test_plan_m_negative(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.m = -1;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_SHAPE, "m = -1");
}

static void test_plan_n_not_positive(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.n = 0;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_SHAPE, "n = 0");
}

static void test_plan_k_not_positive(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.k = -64;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_SHAPE, "k = -64");
}

static void test_plan_n_mismatch(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.n = 8;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_MISMATCH, "n = 8", "n = 16");
}

static void test_plan_k_mismatch(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.k = 128;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_MISMATCH, "k = 128", "k = 64");
}

static void test_plan_lda_short(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.lda = K - 1;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_STRIDE, "lda = 63");
}

static void test_plan_ldc_short(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.ldc = N - 1;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_STRIDE, "ldc = 15");
}

static void test_plan_lda_negative(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.lda = -1;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_STRIDE, "lda = -1");
}

static void test_plan_ldc_negative(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.ldc = -4;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_INVALID_STRIDE, "ldc = -4");
}

static void test_plan_a_size_overflow(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.m = INT64_MAX / 8; /* (m - 1) * lda elements of A overflow */
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_SIZE_OVERFLOW, "overflow");
}

static void test_plan_c_size_overflow(void **state)
{
    fixture *fx = *state;
    ug_gemm_desc d = fx->desc;
    d.m = (int64_t)1 << 40; /* A spans 2^48 bytes, C with ldc = 2^30 overflows */
    d.ldc = (int64_t)1 << 30;
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &d, NULL), UG_ERR_SIZE_OVERFLOW, "overflow");
}

/* An unknown forced schedule is refused; the message names it and lists
 * what the backend offers (at least the schedule it picks by itself). */
static void test_plan_unknown_schedule(void **state)
{
    fixture *fx = *state;
    ug_plan_options opt = UG_PLAN_OPTIONS_INIT;
    opt.schedule = "warp-specialized";
    EXPECT_ERROR(fx->ctx, plan_failing(fx, &fx->desc, &opt), UG_ERR_UNSUPPORTED,
                 "'warp-specialized'", "backend ref", ug_plan_schedule(fx->plan));

    ug_context *cpu = tu_context(UG_BACKEND_CPU, 1);
    ug_packed_weights *w = NULL;
    ug_plan *chosen = NULL, *out = NOT_NULL;
    assert_int_equal(ug_weights_pack(cpu, &fx->hw[W_SZ].src, &w), UG_OK);
    assert_int_equal(ug_plan_create(cpu, &fx->desc, w, NULL, &chosen), UG_OK);
    EXPECT_ERROR(cpu, ug_plan_create(cpu, &fx->desc, w, &opt, &out), UG_ERR_UNSUPPORTED,
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
    ug_plan *out = NOT_NULL;
    EXPECT_ERROR(fx->ctx, ug_plan_create(fx->ctx, &fx->desc, w, NULL, &out), UG_ERR_MISMATCH,
                 "backend cpu");
    assert_null(out);
    ug_weights_destroy(w);
    ug_context_destroy(cpu);
}

static void test_workspace_size_null_bytes(void **state)
{
    fixture *fx = *state;
    EXPECT_ERROR(fx->ctx, ug_plan_workspace_size(fx->plan, NULL), UG_ERR_NULL_ARGUMENT,
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
    EXPECT_ERROR(fx->ctx, execute(fx, NULL, fx->a, fx->c, fx->bias), UG_ERR_NULL_ARGUMENT,
                 "weights is NULL");
    expect_c_untouched(fx);
}

static void test_execute_null_a(void **state)
{
    fixture *fx = *state;
    EXPECT_ERROR(fx->ctx, execute(fx, fx->w, NULL, fx->c, fx->bias), UG_ERR_NULL_ARGUMENT,
                 "a is NULL");
    expect_c_untouched(fx);
}

static void test_execute_null_c(void **state)
{
    fixture *fx = *state;
    EXPECT_ERROR(fx->ctx, execute(fx, fx->w, fx->a, NULL, fx->bias), UG_ERR_NULL_ARGUMENT,
                 "c is NULL");
}

static void test_execute_null_bias(void **state)
{
    fixture *fx = *state;
    EXPECT_ERROR(fx->ctx, execute(fx, fx->w, fx->a, fx->c, NULL), UG_ERR_NULL_ARGUMENT,
                 "bias is NULL");
    expect_c_untouched(fx);
}

static void test_execute_weights_of_other_format(void **state)
{
    fixture *fx = *state;
    ug_packed_weights *other = NULL;
    assert_int_equal(ug_weights_pack(fx->ctx, &fx->hw[W_SB].src, &other), UG_OK);
    EXPECT_ERROR(fx->ctx, execute(fx, other, fx->a, fx->c, fx->bias), UG_ERR_MISMATCH, "uint8",
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
    EXPECT_ERROR(fx->ctx, execute(fx, other, fx->a, fx->c, fx->bias), UG_ERR_MISMATCH, "n = 8");
    expect_c_untouched(fx);
    ug_weights_destroy(other);
}

static void test_execute_weights_of_other_backend(void **state)
{
    fixture *fx = *state;
    ug_context *cpu = tu_context(UG_BACKEND_CPU, 1);
    ug_packed_weights *other = NULL;
    assert_int_equal(ug_weights_pack(cpu, &fx->hw[W_SZ].src, &other), UG_OK);
    EXPECT_ERROR(fx->ctx, execute(fx, other, fx->a, fx->c, fx->bias), UG_ERR_MISMATCH,
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
    EXPECT_ERROR(fx->ctx, execute(fx, fx->w, buf, buf + M * K - 8, fx->bias), UG_ERR_ALIASING,
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
    EXPECT_ERROR(fx->ctx, execute(fx, fx->w, fx->a, buf, buf + M * N - 1), UG_ERR_ALIASING,
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
    EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, NULL, ids, 2, UG_F32, e.out, 0),
                 UG_ERR_NULL_ARGUMENT, "table is NULL");
    expect_embed_untouched(&e);
}

static void test_embed_null_ids(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    embed_out e;
    embed_prepare(&e, &r);
    EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, NULL, 2, UG_F32, e.out, 0),
                 UG_ERR_NULL_ARGUMENT, "ids is NULL");
    expect_embed_untouched(&e);
}

static void test_embed_null_out(void **state)
{
    fixture *fx = *state;
    int32_t ids[2] = {1, 2};
    EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 2, UG_F32, NULL, 0),
                 UG_ERR_NULL_ARGUMENT, "out is NULL");
}

static void test_embed_id_negative(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    embed_out e;
    embed_prepare(&e, &r);
    int32_t ids[4] = {3, 0, -1, 5};
    EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 4, UG_F32, e.out, 0),
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
    EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 4, UG_F32, e.out, 0),
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
    EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 2, UG_I8, e.out, 0),
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
    EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 2, (ug_dtype)99, e.out, 0),
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
    EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 2, UG_F32, e.out, K - 1),
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
    EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, 2, UG_F32, e.out, -2),
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
    EXPECT_ERROR(fx->ctx, ug_embedding_lookup(fx->ctx, fx->w, ids, -1, UG_F32, e.out, 0),
                 UG_ERR_INVALID_SHAPE, "count = -1");
    expect_embed_untouched(&e);
}

static void test_embed_size_overflow(void **state)
{
    fixture *fx = *state;
    int32_t ids[2] = {1, 2};
    float out[K];
    EXPECT_ERROR(fx->ctx,
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
    EXPECT_ERROR(cpu, ug_embedding_lookup(cpu, fx->w, ids, 2, UG_F32, e.out, 0), UG_ERR_MISMATCH,
                 "backend ref");
    expect_embed_untouched(&e);
    ug_context_destroy(cpu);
}

/* ------------------------------------------------------------------------ */
/* Unpack                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct unpack_buffers {
    uint8_t codes[N * K], scales[N * K], biases[N * K], zeros[N * K];
} unpack_buffers;

static void test_unpack_null_ctx(void **state)
{
    fixture *fx = *state;
    unpack_buffers b;
    assert_int_equal(ug_weights_unpack(NULL, fx->w, b.codes, b.scales, NULL, b.zeros),
                     UG_ERR_NULL_ARGUMENT);
}

static void test_unpack_null_weights(void **state)
{
    fixture *fx = *state;
    unpack_buffers b;
    EXPECT_ERROR(fx->ctx, ug_weights_unpack(fx->ctx, NULL, b.codes, b.scales, NULL, b.zeros),
                 UG_ERR_NULL_ARGUMENT, "weights is NULL");
}

static void test_unpack_null_codes(void **state)
{
    fixture *fx = *state;
    unpack_buffers b;
    EXPECT_ERROR(fx->ctx, ug_weights_unpack(fx->ctx, fx->w, NULL, b.scales, NULL, b.zeros),
                 UG_ERR_NULL_ARGUMENT, "codes is NULL");
}

static void test_unpack_null_scales(void **state)
{
    fixture *fx = *state;
    unpack_buffers b;
    EXPECT_ERROR(fx->ctx, ug_weights_unpack(fx->ctx, fx->w, b.codes, NULL, NULL, b.zeros),
                 UG_ERR_NULL_ARGUMENT, "scales is NULL");
}

static void test_unpack_null_zeros(void **state)
{
    fixture *fx = *state;
    unpack_buffers b;
    EXPECT_ERROR(fx->ctx, ug_weights_unpack(fx->ctx, fx->w, b.codes, b.scales, NULL, NULL),
                 UG_ERR_NULL_ARGUMENT, "zeros is NULL");
}

static void test_unpack_null_biases(void **state)
{
    fixture *fx = *state;
    ug_packed_weights *w = NULL;
    assert_int_equal(ug_weights_pack(fx->ctx, &fx->hw[W_SB].src, &w), UG_OK);
    unpack_buffers b;
    EXPECT_ERROR(fx->ctx, ug_weights_unpack(fx->ctx, w, b.codes, b.scales, NULL, NULL),
                 UG_ERR_NULL_ARGUMENT, "biases is NULL");
    ug_weights_destroy(w);
}

static void test_unpack_other_backend(void **state)
{
    fixture *fx = *state;
    ug_context *cpu = tu_context(UG_BACKEND_CPU, 1);
    unpack_buffers b;
    EXPECT_ERROR(cpu, ug_weights_unpack(cpu, fx->w, b.codes, b.scales, NULL, b.zeros),
                 UG_ERR_MISMATCH, "backend ref");
    ug_context_destroy(cpu);
}

/* ------------------------------------------------------------------------ */
/* Quantize                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct quantize_buffers {
    uint8_t codes[N * K], scales[N * K * 4], biases[N * K * 4], zeros[N * K];
    uint8_t codes_before[N * K];
} quantize_buffers;

static void quantize_prepare(quantize_buffers *q, hx_rng *r)
{
    for (size_t i = 0; i < sizeof q->codes; i++)
        q->codes[i] = (uint8_t)hx_rng_next(r);
    memcpy(q->codes_before, q->codes, sizeof q->codes);
}

static void expect_codes_untouched(const quantize_buffers *q)
{
    TU_CHECK(memcmp(q->codes, q->codes_before, sizeof q->codes) == 0,
             "codes were written by a ug_quantize that failed");
}

/* fx's weights of format `which` with w[1][3] set to `bad`. */
static void expect_non_finite_refused(fixture *fx, int which, float bad)
{
    hx_rng r = tu_rng("non-finite");
    quantize_buffers q;
    quantize_prepare(&q, &r);
    float w[N * K];
    memcpy(w, fx->hw[which].w, sizeof w);
    w[1 * K + 3] = bad;
    EXPECT_ERROR(fx->ctx,
                 ug_quantize(fx->ctx, &formats[which], N, K, w, q.codes, q.scales, q.biases,
                             q.zeros),
                 UG_ERR_INVALID_VALUE, "w[1][3]", "not finite");
    expect_codes_untouched(&q);
}

static void test_quantize_nan_weight(void **state)
{
    fixture *fx = *state;
    expect_non_finite_refused(fx, W_SZ, NAN);
    expect_non_finite_refused(fx, W_FP, NAN);
}

static void test_quantize_infinite_weight(void **state)
{
    fixture *fx = *state;
    expect_non_finite_refused(fx, W_SB, INFINITY);
    expect_non_finite_refused(fx, W_SYM, -INFINITY);
}

static void test_quantize_null_format(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    quantize_buffers q;
    quantize_prepare(&q, &r);
    EXPECT_ERROR(fx->ctx,
                 ug_quantize(fx->ctx, NULL, N, K, fx->hw[W_SZ].w, q.codes, q.scales, NULL,
                             q.zeros),
                 UG_ERR_NULL_ARGUMENT, "format is NULL");
    expect_codes_untouched(&q);
}

static void test_quantize_null_w(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    quantize_buffers q;
    quantize_prepare(&q, &r);
    EXPECT_ERROR(fx->ctx,
                 ug_quantize(fx->ctx, &formats[W_SZ], N, K, NULL, q.codes, q.scales, NULL,
                             q.zeros),
                 UG_ERR_NULL_ARGUMENT, "w is NULL");
    expect_codes_untouched(&q);
}

static void test_quantize_null_codes(void **state)
{
    fixture *fx = *state;
    quantize_buffers q;
    EXPECT_ERROR(fx->ctx,
                 ug_quantize(fx->ctx, &formats[W_SZ], N, K, fx->hw[W_SZ].w, NULL, q.scales, NULL,
                             q.zeros),
                 UG_ERR_NULL_ARGUMENT, "codes is NULL");
}

static void test_quantize_null_scales(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    quantize_buffers q;
    quantize_prepare(&q, &r);
    EXPECT_ERROR(fx->ctx,
                 ug_quantize(fx->ctx, &formats[W_SYM], N, K, fx->hw[W_SYM].w, q.codes, NULL,
                             NULL, NULL),
                 UG_ERR_NULL_ARGUMENT, "scales is NULL");
    expect_codes_untouched(&q);
}

static void test_quantize_null_biases(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    quantize_buffers q;
    quantize_prepare(&q, &r);
    EXPECT_ERROR(fx->ctx,
                 ug_quantize(fx->ctx, &formats[W_SB], N, K, fx->hw[W_SB].w, q.codes, q.scales,
                             NULL, NULL),
                 UG_ERR_NULL_ARGUMENT, "biases is NULL");
    expect_codes_untouched(&q);
}

static void test_quantize_null_zeros(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    quantize_buffers q;
    quantize_prepare(&q, &r);
    EXPECT_ERROR(fx->ctx,
                 ug_quantize(fx->ctx, &formats[W_SZ], N, K, fx->hw[W_SZ].w, q.codes, q.scales,
                             NULL, NULL),
                 UG_ERR_NULL_ARGUMENT, "zeros is NULL");
    expect_codes_untouched(&q);
}

static void test_quantize_invalid_group(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    quantize_buffers q;
    quantize_prepare(&q, &r);
    ug_weight_format f = formats[W_SZ];
    f.group_size = 16;
    EXPECT_ERROR(fx->ctx,
                 ug_quantize(fx->ctx, &f, N, K, fx->hw[W_SZ].w, q.codes, q.scales, NULL,
                             q.zeros),
                 UG_ERR_INVALID_GROUP_SIZE, "group_size = 16");
    expect_codes_untouched(&q);
}

#define T(name) cmocka_unit_test_setup_teardown(test_##name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(context_null_out),
        T(context_null_options),
        T(context_struct_version),
        T(context_backend_out_of_range),
        T(context_negative_threads),
        T(context_cuda_without_gpu),
        T(context_error_buffer_truncated),
        T(parse_unknown_dtype),
        T(parse_unknown_method),
        T(parse_unknown_backend),
        T(parse_null_name),
        T(parse_null_out),
        T(pack_null_ctx),
        T(pack_null_src),
        T(pack_null_out),
        T(pack_null_codes),
        T(pack_null_scales),
        T(pack_null_biases),
        T(pack_null_zeros),
        T(pack_struct_version),
        T(pack_storage_out_of_range),
        T(pack_method_out_of_range),
        T(pack_scale_type_out_of_range),
        T(pack_n_not_positive),
        T(pack_k_not_positive),
        T(pack_size_overflow),
        T(source_sizes_overflow),
        T(source_sizes_null_format),
        T(pack_group_48),
        T(pack_group_0_quantized),
        T(pack_group_for_method_none),
        T(pack_k_not_multiple_of_group),
        T(pack_odd_k_4bit),
        T(pack_int_storage_method_none),
        T(pack_float_storage_quantized),
        T(pack_scale_type_int8),
        T(pack_scale_type_for_method_none),
        T(pack_zero_point_u4_16),
        T(pack_zero_point_i4_minus_9),
        T(pack_zero_point_i4_8),
        T(pack_biases_for_scale_zero),
        T(pack_zeros_for_scale_bias),
        T(pack_scales_for_method_none),
        T(describe_null_weights),
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
        T(unpack_null_ctx),
        T(unpack_null_weights),
        T(unpack_null_codes),
        T(unpack_null_scales),
        T(unpack_null_zeros),
        T(unpack_null_biases),
        T(unpack_other_backend),
        T(quantize_nan_weight),
        T(quantize_infinite_weight),
        T(quantize_null_format),
        T(quantize_null_w),
        T(quantize_null_codes),
        T(quantize_null_scales),
        T(quantize_null_biases),
        T(quantize_null_zeros),
        T(quantize_invalid_group),
    };
    return cmocka_run_group_tests_name("validation", tests, NULL, NULL);
}
