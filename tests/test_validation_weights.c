/*
 * test_validation_weights.c - bad input to everything before a GEMM, one
 * test per invalid argument: context creation, the wire names (dtype,
 * method, backend parsing), weight formats and sources (ug_weights_pack,
 * ug_weight_source_sizes, ug_weights_describe), ug_weights_unpack and
 * ug_quantize. Each proves the status, that the message names the problem
 * (a distinctive substring of ug_context_last_error, or of the error buffer
 * of ug_context_create), that *out is NULL after a failed create/pack, and
 * that a failed ug_quantize wrote nothing to the codes.
 *
 * The fixture (validation_fixture.h): a fresh ref context per test and
 * valid weights of four formats, [N=16][K=64]. test_validation_gemm.c has
 * the plan, execute and embedding half.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "validation_fixture.h"

/* Pack `src` on fx->ctx, expecting failure: *out must come back NULL. */
static ug_status pack_failing(fixture *fx, const ug_weight_source *src)
{
    ug_packed_weights *out = TU_NOT_NULL;
    ug_status st = ug_weights_pack(fx->ctx, src, &out);
    TU_CHECK(out == NULL, "*out is not NULL after a failed ug_weights_pack (%s)",
             ug_status_str(st));
    return st;
}

/* ------------------------------------------------------------------------ */
/* Contexts                                                                   */
/* ------------------------------------------------------------------------ */

static ug_status create_with(const ug_context_options *opt, char *err, size_t size)
{
    ug_context *out = TU_NOT_NULL;
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
    TU_EXPECT_BUFFER(err, ug_context_create(&opt, NULL, err, sizeof err), UG_ERR_NULL_ARGUMENT,
                     "out is NULL");
}

static void test_context_null_options(void **state)
{
    (void)state;
    char err[256];
    TU_EXPECT_BUFFER(err, create_with(NULL, err, sizeof err), UG_ERR_NULL_ARGUMENT,
                     "options is NULL");
    ug_context *out = TU_NOT_NULL;
    assert_int_equal(ug_context_create(NULL, &out, NULL, 0), UG_ERR_NULL_ARGUMENT);
    assert_null(out);
}

static void test_context_struct_version(void **state)
{
    (void)state;
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    char err[256];
    opt.struct_version = UG_STRUCT_VERSION + 1;
    TU_EXPECT_BUFFER(err, create_with(&opt, err, sizeof err), UG_ERR_STRUCT_VERSION,
                     "struct_version");
    opt.struct_version = 0;
    TU_EXPECT_BUFFER(err, create_with(&opt, err, sizeof err), UG_ERR_STRUCT_VERSION,
                     "struct_version = 0");
}

static void test_context_backend_out_of_range(void **state)
{
    (void)state;
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    char err[256];
    opt.backend = (ug_backend)9;
    TU_EXPECT_BUFFER(err, create_with(&opt, err, sizeof err), UG_ERR_INVALID_ENUM, "backend = 9");
    opt.backend = (ug_backend)-1;
    TU_EXPECT_BUFFER(err, create_with(&opt, err, sizeof err), UG_ERR_INVALID_ENUM, "backend = -1");
}

static void test_context_negative_threads(void **state)
{
    (void)state;
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    char err[256];
    opt.num_threads = -1;
    TU_EXPECT_BUFFER(err, create_with(&opt, err, sizeof err), UG_ERR_INVALID_VALUE,
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
    ug_context *out = TU_NOT_NULL;
    memset(err, 'Z', sizeof err);
    ug_status st = ug_context_create(&opt, &out, err, sizeof err);
    if (access("/dev/nvidia0", F_OK) != 0) {
        TU_EXPECT_BUFFER(err, st, UG_ERR_BACKEND_UNAVAILABLE, "cuda");
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
    TU_EXPECT_ERROR(fx->ctx, ug_dtype_parse(fx->ctx, "float8_e4m3", &d), UG_ERR_UNKNOWN_NAME,
                    "'float8_e4m3'");
}

static void test_parse_unknown_method(void **state)
{
    fixture *fx = *state;
    ug_method m;
    TU_EXPECT_ERROR(fx->ctx, ug_method_parse(fx->ctx, "gguf_q4_k", &m), UG_ERR_UNKNOWN_NAME,
                    "'gguf_q4_k'");
}

static void test_parse_unknown_backend(void **state)
{
    fixture *fx = *state;
    ug_backend b;
    TU_EXPECT_ERROR(fx->ctx, ug_backend_parse(fx->ctx, "metal", &b), UG_ERR_UNKNOWN_NAME,
                    "'metal'");
}

static void test_parse_null_name(void **state)
{
    fixture *fx = *state;
    ug_dtype d;
    ug_method m;
    ug_backend b;
    TU_EXPECT_ERROR(fx->ctx, ug_dtype_parse(fx->ctx, NULL, &d), UG_ERR_NULL_ARGUMENT,
                    "name is NULL");
    TU_EXPECT_ERROR(fx->ctx, ug_method_parse(fx->ctx, NULL, &m), UG_ERR_NULL_ARGUMENT,
                    "name is NULL");
    TU_EXPECT_ERROR(fx->ctx, ug_backend_parse(fx->ctx, NULL, &b), UG_ERR_NULL_ARGUMENT,
                    "name is NULL");
}

static void test_parse_null_out(void **state)
{
    fixture *fx = *state;
    TU_EXPECT_ERROR(fx->ctx, ug_dtype_parse(fx->ctx, "int4", NULL), UG_ERR_NULL_ARGUMENT,
                    "out is NULL");
    TU_EXPECT_ERROR(fx->ctx, ug_method_parse(fx->ctx, "awq", NULL), UG_ERR_NULL_ARGUMENT,
                    "out is NULL");
    TU_EXPECT_ERROR(fx->ctx, ug_backend_parse(fx->ctx, "cpu", NULL), UG_ERR_NULL_ARGUMENT,
                    "out is NULL");
}

/* ------------------------------------------------------------------------ */
/* Weight sources                                                             */
/* ------------------------------------------------------------------------ */

static void test_pack_null_ctx(void **state)
{
    fixture *fx = *state;
    ug_packed_weights *out = TU_NOT_NULL;
    assert_int_equal(ug_weights_pack(NULL, &fx->hw[W_SZ].src, &out), UG_ERR_NULL_ARGUMENT);
    assert_null(out);
}

static void test_pack_null_src(void **state)
{
    fixture *fx = *state;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, NULL), UG_ERR_NULL_ARGUMENT, "src is NULL");
}

static void test_pack_null_out(void **state)
{
    fixture *fx = *state;
    TU_EXPECT_ERROR(fx->ctx, ug_weights_pack(fx->ctx, &fx->hw[W_SZ].src, NULL),
                    UG_ERR_NULL_ARGUMENT, "out is NULL");
}

static void test_pack_null_codes(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_FP].src;
    src.codes = NULL;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_NULL_ARGUMENT, "codes is NULL");
}

static void test_pack_null_scales(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SYM].src;
    src.scales = NULL;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_NULL_ARGUMENT, "scales is NULL");
}

static void test_pack_null_biases(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SB].src;
    src.biases = NULL;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_NULL_ARGUMENT, "biases is NULL");
}

static void test_pack_null_zeros(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.zeros = NULL;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_NULL_ARGUMENT, "zeros is NULL");
}

static void test_pack_struct_version(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.struct_version = 0;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_STRUCT_VERSION, "struct_version = 0");
}

static void test_pack_storage_out_of_range(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.format.storage = (ug_dtype)99;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_ENUM, "storage = 99");
}

static void test_pack_method_out_of_range(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.format.method = (ug_method)-1;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_ENUM, "method = -1");
}

static void test_pack_scale_type_out_of_range(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.format.scale_type = UG_DTYPE_COUNT_;
    char needle[32];
    snprintf(needle, sizeof needle, "scale_type = %d", (int)UG_DTYPE_COUNT_);
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_ENUM, needle);
}

static void test_pack_n_not_positive(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.n = 0;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_SHAPE, "n = 0");
    src.n = -5;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_SHAPE, "n = -5");
}

static void test_pack_k_not_positive(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_FP].src;
    src.k = 0;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_SHAPE, "k = 0");
    src.k = -64;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_SHAPE, "k = -64");
}

static void test_pack_size_overflow(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.n = INT64_MAX / 16;
    src.k = 1 << 20;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_SIZE_OVERFLOW, "overflow");
}

static void test_source_sizes_overflow(void **state)
{
    fixture *fx = *state;
    size_t codes = 7;
    TU_EXPECT_ERROR(fx->ctx,
                    ug_weight_source_sizes(fx->ctx, &vf_formats[W_FP], INT64_MAX / 2, 4, &codes,
                                           NULL, NULL, NULL),
                    UG_ERR_SIZE_OVERFLOW, "overflow");
    assert_int_equal(codes, 7);
}

static void test_source_sizes_null_format(void **state)
{
    fixture *fx = *state;
    TU_EXPECT_ERROR(fx->ctx, ug_weight_source_sizes(fx->ctx, NULL, N, K, NULL, NULL, NULL, NULL),
                    UG_ERR_NULL_ARGUMENT, "format is NULL");
}

static void test_pack_group_48(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SZ].src;
    src.format.group_size = 48;
    src.k = 96;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_GROUP_SIZE, "group_size = 48");
}

static void test_pack_group_0_quantized(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SB].src;
    src.format.group_size = 0;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_GROUP_SIZE, "group_size = 0");
}

static void test_pack_group_for_method_none(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_FP].src;
    src.format.group_size = 32;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_GROUP_SIZE, "group_size = 32",
                    "method none");
}

static void test_pack_k_not_multiple_of_group(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SB].src; /* g64 */
    src.k = 96;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_GROUP_NOT_DIVIDING_K, "k = 96", "64");
}

static void test_pack_odd_k_4bit(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SYM].src; /* int4 per channel: any K is one group */
    src.k = 33;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_K_NOT_PACKABLE, "k = 33", "odd");
}

static void test_pack_int_storage_method_none(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_FP].src;
    src.format.storage = UG_U4;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_UNSUPPORTED, "uint4", "method none");
}

static void test_pack_float_storage_quantized(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SB].src;
    src.format.storage = UG_BF16;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_UNSUPPORTED, "bfloat16", "scale_bias");
}

static void test_pack_scale_type_int8(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SYM].src;
    src.format.scale_type = UG_I8;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_UNSUPPORTED, "scale_type", "int8");
}

static void test_pack_scale_type_for_method_none(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_FP].src;
    src.format.scale_type = UG_F16;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_UNSUPPORTED, "scale_type float16",
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
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_VALUE, needle, "row 3",
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
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_VALUE, "biases given",
                    "scale_zero");
}

static void test_pack_zeros_for_scale_bias(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_SB].src;
    src.zeros = fx->hw[W_SZ].zeros;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_VALUE, "zeros given",
                    "scale_bias");
}

static void test_pack_scales_for_method_none(void **state)
{
    fixture *fx = *state;
    ug_weight_source src = fx->hw[W_FP].src;
    src.scales = fx->hw[W_SZ].scales;
    TU_EXPECT_ERROR(fx->ctx, pack_failing(fx, &src), UG_ERR_INVALID_VALUE, "scales given");
}

static void test_describe_null_weights(void **state)
{
    (void)state;
    assert_int_equal(ug_weights_describe(NULL, NULL, NULL, NULL), UG_ERR_NULL_ARGUMENT);
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
    TU_EXPECT_ERROR(fx->ctx, ug_weights_unpack(fx->ctx, NULL, b.codes, b.scales, NULL, b.zeros),
                    UG_ERR_NULL_ARGUMENT, "weights is NULL");
}

static void test_unpack_null_codes(void **state)
{
    fixture *fx = *state;
    unpack_buffers b;
    TU_EXPECT_ERROR(fx->ctx, ug_weights_unpack(fx->ctx, fx->w, NULL, b.scales, NULL, b.zeros),
                    UG_ERR_NULL_ARGUMENT, "codes is NULL");
}

static void test_unpack_null_scales(void **state)
{
    fixture *fx = *state;
    unpack_buffers b;
    TU_EXPECT_ERROR(fx->ctx, ug_weights_unpack(fx->ctx, fx->w, b.codes, NULL, NULL, b.zeros),
                    UG_ERR_NULL_ARGUMENT, "scales is NULL");
}

static void test_unpack_null_zeros(void **state)
{
    fixture *fx = *state;
    unpack_buffers b;
    TU_EXPECT_ERROR(fx->ctx, ug_weights_unpack(fx->ctx, fx->w, b.codes, b.scales, NULL, NULL),
                    UG_ERR_NULL_ARGUMENT, "zeros is NULL");
}

static void test_unpack_null_biases(void **state)
{
    fixture *fx = *state;
    ug_packed_weights *w = NULL;
    assert_int_equal(ug_weights_pack(fx->ctx, &fx->hw[W_SB].src, &w), UG_OK);
    unpack_buffers b;
    TU_EXPECT_ERROR(fx->ctx, ug_weights_unpack(fx->ctx, w, b.codes, b.scales, NULL, NULL),
                    UG_ERR_NULL_ARGUMENT, "biases is NULL");
    ug_weights_destroy(w);
}

static void test_unpack_other_backend(void **state)
{
    fixture *fx = *state;
    ug_context *cpu = tu_context(UG_BACKEND_CPU, 1);
    unpack_buffers b;
    TU_EXPECT_ERROR(cpu, ug_weights_unpack(cpu, fx->w, b.codes, b.scales, NULL, b.zeros),
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
    TU_EXPECT_ERROR(fx->ctx,
                    ug_quantize(fx->ctx, &vf_formats[which], N, K, w, q.codes, q.scales, q.biases,
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
    TU_EXPECT_ERROR(fx->ctx,
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
    TU_EXPECT_ERROR(fx->ctx,
                    ug_quantize(fx->ctx, &vf_formats[W_SZ], N, K, NULL, q.codes, q.scales, NULL,
                                q.zeros),
                    UG_ERR_NULL_ARGUMENT, "w is NULL");
    expect_codes_untouched(&q);
}

static void test_quantize_null_codes(void **state)
{
    fixture *fx = *state;
    quantize_buffers q;
    TU_EXPECT_ERROR(fx->ctx,
                    ug_quantize(fx->ctx, &vf_formats[W_SZ], N, K, fx->hw[W_SZ].w, NULL, q.scales,
                                NULL, q.zeros),
                    UG_ERR_NULL_ARGUMENT, "codes is NULL");
}

static void test_quantize_null_scales(void **state)
{
    fixture *fx = *state;
    hx_rng r = tu_rng(__func__);
    quantize_buffers q;
    quantize_prepare(&q, &r);
    TU_EXPECT_ERROR(fx->ctx,
                    ug_quantize(fx->ctx, &vf_formats[W_SYM], N, K, fx->hw[W_SYM].w, q.codes, NULL,
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
    TU_EXPECT_ERROR(fx->ctx,
                    ug_quantize(fx->ctx, &vf_formats[W_SB], N, K, fx->hw[W_SB].w, q.codes, q.scales,
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
    TU_EXPECT_ERROR(fx->ctx,
                    ug_quantize(fx->ctx, &vf_formats[W_SZ], N, K, fx->hw[W_SZ].w, q.codes, q.scales,
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
    ug_weight_format f = vf_formats[W_SZ];
    f.group_size = 16;
    TU_EXPECT_ERROR(fx->ctx,
                    ug_quantize(fx->ctx, &f, N, K, fx->hw[W_SZ].w, q.codes, q.scales, NULL,
                                q.zeros),
                    UG_ERR_INVALID_GROUP_SIZE, "group_size = 16");
    expect_codes_untouched(&q);
}

#define T(name) cmocka_unit_test_setup_teardown(test_##name, vf_setup, vf_teardown)

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
    return cmocka_run_group_tests_name("validation_weights", tests, NULL, NULL);
}
