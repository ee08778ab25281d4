/*
 * testutil.c - the tests' shared helpers: run seed, failure reports,
 * status-and-message checks, contexts per backend, and the independent
 * dequantizer (its own f16/bf16 decoding and nibble extraction; nothing from
 * the library's sources).
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool seed_ready;
static uint64_t seed_value;

uint64_t tu_seed(void)
{
    if (!seed_ready) {
        const char *env = getenv("UG_TEST_SEED");
        if (env != NULL && *env != '\0') {
            seed_value = strtoull(env, NULL, 0);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            seed_value = ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^
                         ((uint64_t)getpid() << 32);
        }
        seed_ready = true;
    }
    return seed_value;
}

hx_rng tu_rng(const char *test_name)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a of the name */
    for (const char *p = test_name; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    return hx_rng_seed(tu_seed() ^ h);
}

void tu_report_failure(const char *file, int line, const char *condition)
{
    print_message("%s:%d: check failed: %s\n", file, line, condition);
    print_message("seed %llu (replay with UG_TEST_SEED=%llu)\n", (unsigned long long)tu_seed(),
                  (unsigned long long)tu_seed());
}

max_align_t tu_marker;

void tu_expect_message(const char *file, int line, const char *message, ug_status got,
                       ug_status want, ...)
{
    if (got != want) {
        tu_report_failure(file, line, "got == want");
        fail_msg("status %s (%d), expected %s; message: '%s'", ug_status_str(got), (int)got,
                 ug_status_str(want), message);
    }
    va_list ap;
    va_start(ap, want);
    for (const char *needle = va_arg(ap, const char *); needle != NULL;
         needle = va_arg(ap, const char *)) {
        if (strstr(message, needle) == NULL) {
            va_end(ap);
            tu_report_failure(file, line, "strstr(message, needle) != NULL");
            fail_msg("message '%s' does not mention '%s'", message, needle);
        }
    }
    va_end(ap);
}

ug_context *tu_context(ug_backend backend, int32_t threads)
{
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = backend;
    opt.num_threads = threads;
    ug_context *ctx = NULL;
    char err[256] = "";
    ug_status st = ug_context_create(&opt, &ctx, err, sizeof err);
    TU_CHECK(st == UG_OK && ctx != NULL, "cannot create a %s context: %s (%s)",
             ug_backend_name(backend), ug_status_str(st), err);
    return ctx;
}

size_t tu_available_backends(ug_backend out[UG_BACKEND_COUNT_])
{
    size_t count = 0;
    out[count++] = UG_BACKEND_REF;
    out[count++] = UG_BACKEND_CPU;
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = UG_BACKEND_CUDA;
    ug_context *ctx = NULL;
    if (ug_context_create(&opt, &ctx, NULL, 0) == UG_OK) {
        out[count++] = UG_BACKEND_CUDA;
        ug_context_destroy(ctx);
    }
    return count;
}

double tu_f16_value(uint16_t bits)
{
    int exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
    double v;
    if (exponent == 0x1f)
        v = mantissa != 0 ? NAN : INFINITY;
    else if (exponent == 0)
        v = ldexp(mantissa, -24);
    else
        v = ldexp(1024 + mantissa, exponent - 25);
    return (bits & 0x8000) ? -v : v;
}

double tu_bf16_value(uint16_t bits)
{
    /* bf16 is the top half of an f32 */
    uint32_t u = (uint32_t)bits << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

double tu_load(const void *base, ug_dtype dtype, size_t i)
{
    switch (dtype) {
    case UG_F32:
        return ((const float *)base)[i];
    case UG_F16:
        return tu_f16_value(((const uint16_t *)base)[i]);
    case UG_BF16:
        return tu_bf16_value(((const uint16_t *)base)[i]);
    default:
        fail_msg("tu_load: %s is not a float type", ug_dtype_name(dtype));
        return NAN;
    }
}

size_t tu_float_bytes(ug_dtype dtype)
{
    return dtype == UG_F32 ? 4 : 2;
}

int32_t tu_code(const uint8_t *row, int bits, bool is_signed, int64_t k)
{
    int32_t v;
    if (bits == 8) {
        v = row[k];
        return is_signed && v >= 128 ? v - 256 : v;
    }
    uint8_t byte = row[k / 2];
    v = k % 2 == 0 ? (byte & 0x0f) : (byte >> 4);
    return is_signed && v >= 8 ? v - 16 : v;
}

int64_t tu_group(const ug_weight_format *format, int64_t k)
{
    if (format->method == UG_METHOD_NONE)
        return 0;
    return format->group_size == UG_GROUP_PER_CHANNEL ? k : format->group_size;
}

void tu_dequant(const ug_weight_source *src, double *out)
{
    const ug_weight_format *f = &src->format;
    int64_t n = src->n, k = src->k;
    if (f->method == UG_METHOD_NONE) {
        for (int64_t i = 0; i < n * k; i++)
            out[i] = tu_load(src->codes, f->storage, (size_t)i);
        return;
    }
    int bits = f->storage == UG_U4 || f->storage == UG_I4 ? 4 : 8;
    bool is_signed = f->storage == UG_I4 || f->storage == UG_I8;
    int64_t group = tu_group(f, k), groups = k / group;
    size_t row_bytes = (size_t)k * (size_t)bits / 8;
    for (int64_t r = 0; r < n; r++) {
        const uint8_t *row = (const uint8_t *)src->codes + (size_t)r * row_bytes;
        for (int64_t j = 0; j < k; j++) {
            size_t gi = (size_t)(r * groups + j / group);
            double s = tu_load(src->scales, f->scale_type, gi);
            int32_t q = tu_code(row, bits, is_signed, j);
            double w;
            if (f->method == UG_METHOD_SCALE_BIAS) {
                w = s * q + tu_load(src->biases, f->scale_type, gi);
            } else if (f->method == UG_METHOD_SCALE_ZERO) {
                int32_t z = ((const uint8_t *)src->zeros)[gi];
                z = is_signed && z >= 128 ? z - 256 : z;
                w = s * (q - z);
            } else {
                w = s * (q - (is_signed ? 0 : 1 << (bits - 1)));
            }
            out[r * k + j] = w;
        }
    }
}

void tu_require_cuda(void)
{
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = UG_BACKEND_CUDA;
    ug_context *ctx = NULL;
    char why[512];
    if (ug_context_create(&opt, &ctx, why, sizeof why) == UG_OK) {
        ug_context_destroy(ctx);
        return;
    }
    print_message("skipped: %s\n", why);
    skip();
}

bool tu_quick(void)
{
    const char *env = getenv("UG_TEST_QUICK");
    return env != NULL && *env != '\0' && strcmp(env, "0") != 0;
}

void tu_case_str(const hx_case *c, ug_backend backend, char *buf, size_t size)
{
    char fmt[96];
    hx_format_str(&c->format, fmt, sizeof fmt);
    snprintf(buf, size,
             "%s on %s: M=%lld N=%lld K=%lld a=%s c=%s lda=%lld ldc=%lld bias=%d (%s) "
             "alpha=%g beta=%g",
             fmt, ug_backend_name(backend), (long long)c->m, (long long)c->n, (long long)c->k,
             ug_dtype_name(c->a_type), ug_dtype_name(c->c_type), (long long)c->lda,
             (long long)c->ldc, c->has_bias, ug_dtype_name(c->bias_type), (double)c->alpha,
             (double)c->beta);
}

bool tu_absent_from_build(ug_backend backend, const char *schedule, ug_dtype a_type,
                          const ug_weight_format *format)
{
    char why[512];
    return ug_build_spec_restriction()[0] != '\0' &&
           ug_kernel_supported(backend, schedule, a_type, format, why, sizeof why) ==
               UG_ERR_UNSUPPORTED &&
           strstr(why, "UG_SPEC_RESTRICT") != NULL;
}

void tu_check_cases(ug_context *ctx, ug_context *oracle, const hx_case *cases, size_t count,
                    hx_rng *r, const char *what)
{
    enum { max_printed = 20 };
    ug_backend backend = ug_context_backend(ctx);
    size_t failed = 0, absent = 0;
    char first[1024] = "";
    for (size_t i = 0; i < count; i++) {
        if (tu_absent_from_build(backend, cases[i].schedule, cases[i].a_type, &cases[i].format)) {
            absent++;
            continue;
        }
        hx_result res = hx_check_case(ctx, oracle, &cases[i], r);
        if (res.pass)
            continue;
        char name[256], line[1024];
        tu_case_str(&cases[i], backend, name, sizeof name);
        snprintf(line, sizeof line, "case %zu%s%s%s: %s: %s", i, cases[i].schedule ? " (" : "",
                 cases[i].schedule ? cases[i].schedule : "", cases[i].schedule ? ")" : "", name,
                 res.message);
        if (failed == 0)
            snprintf(first, sizeof first, "%s", line);
        if (failed < max_printed)
            print_message("%s\n", line);
        failed++;
    }
    if (absent > 0)
        print_message("%s: %zu of %zu cases skipped, absent from this restricted build (%s)\n", what,
                      absent, count, ug_build_spec_restriction());
    TU_CHECK(failed == 0, "%s: %zu of %zu cases failed; first: %s", what, failed, count, first);
}
