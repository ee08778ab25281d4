/*
 * harness.c - random inputs, random weights of every format, the format
 * list and SPEC syntax, and one GEMM case checked against the oracle.
 * Shapes: A [M][lda], weights [N][K], C [M][ldc]; host memory, staged
 * through device buffers of exactly their spans for a cuda context (the
 * CUDA runtime is used only where UG_HAVE_CUDA is defined).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef UG_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#include "harness.h"

hx_rng hx_rng_seed(uint64_t seed)
{
    return (hx_rng){seed ^ 0x9e3779b97f4a7c15ull};
}

uint64_t hx_rng_next(hx_rng *r) /* splitmix64 */
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double hx_rng_uniform(hx_rng *r)
{
    return (double)(hx_rng_next(r) >> 11) * 0x1p-53;
}

double hx_rng_normal(hx_rng *r)
{
    /* Irwin-Hall: the sum of four 16-bit uniforms, centred and scaled to unit
     * variance. Bell-shaped with tails cut at +-3.46: cheap, and plenty for
     * test data (outliers are added separately where they matter). */
    uint64_t x = hx_rng_next(r);
    double sum = (double)(x & 0xffff) + (double)((x >> 16) & 0xffff) +
                 (double)((x >> 32) & 0xffff) + (double)(x >> 48);
    return (sum / 65536.0 - 2.0) * 1.7320508075688772;
}

void hx_store(void *buf, ug_dtype t, size_t i, double v)
{
    if (t == UG_F32)
        ((float *)buf)[i] = (float)v;
    else if (t == UG_F16)
        ((uint16_t *)buf)[i] = ug_f32_to_f16((float)v);
    else
        ((uint16_t *)buf)[i] = ug_f32_to_bf16((float)v);
}

double hx_load(const void *buf, ug_dtype t, size_t i)
{
    if (t == UG_F32)
        return ((const float *)buf)[i];
    if (t == UG_F16)
        return ug_f16_to_f32(((const uint16_t *)buf)[i]);
    return ug_bf16_to_f32(((const uint16_t *)buf)[i]);
}

static size_t fbytes(ug_dtype t)
{
    return t == UG_F32 ? 4 : 2;
}

void hx_fill(void *buf, ug_dtype dtype, size_t count, double scale, hx_rng *r)
{
    for (size_t i = 0; i < count; i++)
        hx_store(buf, dtype, i, scale * hx_rng_normal(r));
}

ug_status hx_weights_make(ug_context *ctx, const ug_weight_format *format, int64_t n, int64_t k,
                          hx_rng *r, hx_weights *out)
{
    memset(out, 0, sizeof *out);
    size_t cb, sb, bb, zb;
    ug_status st = ug_weight_source_sizes(ctx, format, n, k, &cb, &sb, &bb, &zb);
    if (st != UG_OK)
        return st;
    out->w = malloc((size_t)n * (size_t)k * sizeof(float));
    out->codes = malloc(cb);
    out->scales = sb ? malloc(sb) : NULL;
    out->biases = bb ? malloc(bb) : NULL;
    out->zeros = zb ? malloc(zb) : NULL;
    if (!out->w || !out->codes || (sb && !out->scales) || (bb && !out->biases) ||
        (zb && !out->zeros)) {
        hx_weights_free(out);
        return UG_ERR_OUT_OF_MEMORY;
    }
    for (int64_t i = 0; i < n; i++) {
        /* each row its own magnitude and offset, so scales and biases vary */
        double mag = 0.02 * exp(2.0 * hx_rng_uniform(r) - 1.0);
        double shift = 0.5 * mag * hx_rng_normal(r);
        for (int64_t j = 0; j < k; j++) {
            double v = shift + mag * hx_rng_normal(r);
            if (hx_rng_uniform(r) < 0.002)
                v *= 8.0; /* an outlier now and then */
            out->w[i * k + j] = (float)v;
        }
    }
    st = ug_quantize(ctx, format, n, k, out->w, out->codes, out->scales, out->biases, out->zeros);
    if (st != UG_OK) {
        hx_weights_free(out);
        return st;
    }
    out->src = (ug_weight_source)UG_WEIGHT_SOURCE_INIT;
    out->src.format = *format;
    out->src.n = n;
    out->src.k = k;
    out->src.codes = out->codes;
    out->src.scales = out->scales;
    out->src.biases = out->biases;
    out->src.zeros = out->zeros;
    return UG_OK;
}

void hx_weights_free(hx_weights *hw)
{
    free(hw->w);
    free(hw->codes);
    free(hw->scales);
    free(hw->biases);
    free(hw->zeros);
    memset(hw, 0, sizeof *hw);
}

size_t hx_all_formats(ug_weight_format *out, size_t cap)
{
    static const ug_dtype fp[] = {UG_F32, UG_F16, UG_BF16};
    static const ug_dtype codes[] = {UG_U4, UG_I4, UG_U8, UG_I8};
    static const ug_method methods[] = {UG_METHOD_SCALE_BIAS, UG_METHOD_SCALE_ZERO,
                                        UG_METHOD_SYMMETRIC};
    static const int32_t groups[] = {32, 64, 128, UG_GROUP_PER_CHANNEL};
    static const ug_dtype scales[] = {UG_F16, UG_BF16, UG_F32};
    size_t count = 0;
    for (size_t i = 0; i < 3; i++, count++)
        if (count < cap)
            out[count] = (ug_weight_format){fp[i], UG_METHOD_NONE, 0, UG_DTYPE_NONE};
    for (size_t c = 0; c < 4; c++)
        for (size_t m = 0; m < 3; m++)
            for (size_t g = 0; g < 4; g++)
                for (size_t s = 0; s < 3; s++, count++)
                    if (count < cap)
                        out[count] = (ug_weight_format){codes[c], methods[m], groups[g], scales[s]};
    return count;
}

void hx_format_str(const ug_weight_format *f, char *buf, size_t size)
{
    if (f->method == UG_METHOD_NONE)
        snprintf(buf, size, "%s", ug_dtype_name(f->storage));
    else
        snprintf(buf, size, "%s,group=%d,method=%s,scale=%s", ug_dtype_name(f->storage),
                 (int)f->group_size, ug_method_name(f->method), ug_dtype_name(f->scale_type));
}

bool hx_format_parse(const char *spec, ug_weight_format *out, char *err, size_t err_size)
{
    char copy[256];
    if (spec == NULL || strlen(spec) >= sizeof copy) {
        snprintf(err, err_size, "weights spec missing or too long");
        return false;
    }
    strcpy(copy, spec);
    char *save = NULL;
    char *tok = strtok_r(copy, ",", &save);
    ug_weight_format f = {UG_DTYPE_NONE, UG_METHOD_NONE, 0, UG_DTYPE_NONE};
    if (tok == NULL || ug_dtype_parse(NULL, tok, &f.storage) != UG_OK ||
        f.storage == UG_DTYPE_NONE) {
        snprintf(err, err_size,
                 "weights spec '%s': '%s' is not a storage type (float32, float16, bfloat16, "
                 "int4, uint4, int8, uint8)",
                 spec, tok ? tok : "");
        return false;
    }
    bool quantized = !(f.storage == UG_F32 || f.storage == UG_F16 || f.storage == UG_BF16);
    if (quantized) {
        f.scale_type = UG_F16;
        f.method = UG_METHOD_SCALE_ZERO;
        f.group_size = 128;
    }
    bool have_group = false, have_method = false;
    while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
        char *eq = strchr(tok, '=');
        if (eq == NULL || !quantized) {
            snprintf(err, err_size, "weights spec '%s': unexpected '%s'%s", spec, tok,
                     quantized ? " (expected key=value)"
                               : " (full-precision weights take no options)");
            return false;
        }
        *eq = '\0';
        const char *val = eq + 1;
        if (strcmp(tok, "group") == 0) {
            char *end;
            long g = strtol(val, &end, 10);
            if (*val == '\0' || *end != '\0' || (g != 32 && g != 64 && g != 128 && g != -1)) {
                snprintf(err, err_size, "weights spec '%s': group=%s (expected 32, 64, 128 or -1)",
                         spec, val);
                return false;
            }
            f.group_size = (int32_t)g;
            have_group = true;
        } else if (strcmp(tok, "method") == 0) {
            if (ug_method_parse(NULL, val, &f.method) != UG_OK || f.method == UG_METHOD_NONE) {
                snprintf(err, err_size,
                         "weights spec '%s': method=%s (expected scale_bias|mlx, scale_zero|awq, "
                         "symmetric)",
                         spec, val);
                return false;
            }
            have_method = true;
        } else if (strcmp(tok, "scale") == 0) {
            if (ug_dtype_parse(NULL, val, &f.scale_type) != UG_OK ||
                !(f.scale_type == UG_F32 || f.scale_type == UG_F16 || f.scale_type == UG_BF16)) {
                snprintf(err, err_size,
                         "weights spec '%s': scale=%s (expected float16, bfloat16, float32)", spec,
                         val);
                return false;
            }
        } else {
            snprintf(err, err_size, "weights spec '%s': unknown key '%s' (group, method, scale)",
                     spec, tok);
            return false;
        }
    }
    if (quantized && (!have_group || !have_method)) {
        snprintf(err, err_size,
                 "weights spec '%s': quantized weights need group= and method=", spec);
        return false;
    }
    *out = f;
    return true;
}

void hx_tolerance(ug_backend backend, const hx_case *c, double *rel_l2, double *max_rel)
{
    if (backend == UG_BACKEND_REF) {
        *rel_l2 = 0.0;
        *max_rel = 0.0;
        return;
    }
    /* f32 accumulation against f64, then the output's rounding (1 ulp). */
    switch (c->c_type) {
    case UG_F32:
        *rel_l2 = 1e-5;
        *max_rel = 1e-4;
        break;
    case UG_F16:
        *rel_l2 = 1e-3;
        *max_rel = 2e-3;
        break;
    default: /* bf16 */
        *rel_l2 = 6e-3;
        *max_rel = 1.6e-2;
        break;
    }
    /* cuda feeds the tensor cores in the activation type: scales and biases
     * are rounded to it and each dequantized weight is rounded to it once,
     * where the oracle keeps them exact. Every product then carries a
     * relative error of up to 2^-8 (bf16) or 2^-11 (f16) in its weight
     * factor, which is more than an f32 or f16 output's rounding: take the
     * coarser of the output's bound and the bound of the activation type as
     * an output. Such errors scale with the size of the products, not of
     * their sum, and a group's rounded bias (scale_bias) adds to every
     * weight of the group, so hx_check_case judges cuda by the scaled rule
     * (hx_compare_scaled with hx_product_scale); test_gemm checks on the CPU
     * that the rule passes an emulation of these numerics on random cases. */
    if (backend == UG_BACKEND_CUDA) {
        double a_l2 = c->a_type == UG_BF16 ? 6e-3 : 2e-3;
        double a_max = c->a_type == UG_BF16 ? 1.6e-2 : 4e-3;
        *rel_l2 = fmax(*rel_l2, a_l2);
        *max_rel = fmax(*max_rel, a_max);
    }
}

double hx_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

ug_gemm_desc hx_case_desc(const hx_case *c)
{
    ug_gemm_desc d = UG_GEMM_DESC_INIT;
    d.m = c->m;
    d.n = c->n;
    d.k = c->k;
    d.a_type = c->a_type;
    d.c_type = c->c_type;
    d.lda = c->lda;
    d.ldc = c->ldc;
    d.has_bias = c->has_bias;
    d.bias_type = c->bias_type;
    d.alpha = c->alpha;
    d.beta = c->beta;
    return d;
}

bool hx_case_supported(ug_backend backend, const hx_case *c)
{
    return !(backend == UG_BACKEND_CUDA && c->a_type == UG_F32);
}

/* ------------------------------------------------------------------------ */
/* Device buffers                                                             */
/* ------------------------------------------------------------------------ */

#ifdef UG_HAVE_CUDA
/* False with "<call>: <CUDA's text>" in msg unless err is cudaSuccess; the
 * runtime's last-error slot is cleared so a later check starts afresh. */
static bool cuda_ok(cudaError_t err, const char *call, char *msg, size_t msg_size)
{
    if (err == cudaSuccess)
        return true;
    if (msg && msg_size)
        snprintf(msg, msg_size, "%s: %s (%s)", call, cudaGetErrorString(err),
                 cudaGetErrorName(err));
    cudaGetLastError();
    return false;
}

bool hx_dev_alloc(void **p, size_t bytes, char *msg, size_t msg_size)
{
    *p = NULL;
    if (bytes == 0)
        return true;
    char call[64];
    snprintf(call, sizeof call, "cudaMalloc(%zu bytes)", bytes);
    return cuda_ok(cudaMalloc(p, bytes), call, msg, msg_size);
}

void hx_dev_free(void *p)
{
    if (p != NULL)
        cudaFree(p);
}

bool hx_dev_upload(void *dev, const void *host, size_t bytes, char *msg, size_t msg_size)
{
    if (bytes == 0)
        return true;
    char call[80];
    snprintf(call, sizeof call, "cudaMemcpy(%zu bytes, host to device)", bytes);
    return cuda_ok(cudaMemcpy(dev, host, bytes, cudaMemcpyHostToDevice), call, msg, msg_size);
}

bool hx_dev_download(void *host, const void *dev, size_t bytes, char *msg, size_t msg_size)
{
    if (bytes == 0)
        return true;
    char call[80];
    snprintf(call, sizeof call, "cudaMemcpy(%zu bytes, device to host)", bytes);
    return cuda_ok(cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost), call, msg, msg_size);
}

bool hx_dev_sync(char *msg, size_t msg_size)
{
    return cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize", msg, msg_size);
}
#else
static bool no_cuda(char *msg, size_t msg_size)
{
    if (msg && msg_size)
        snprintf(msg, msg_size, "this build has no CUDA runtime (configured without nvcc)");
    return false;
}

bool hx_dev_alloc(void **p, size_t bytes, char *msg, size_t msg_size)
{
    *p = NULL;
    return no_cuda(msg, msg_size);
}

void hx_dev_free(void *p)
{
    (void)p;
}

bool hx_dev_upload(void *dev, const void *host, size_t bytes, char *msg, size_t msg_size)
{
    return no_cuda(msg, msg_size);
}

bool hx_dev_download(void *host, const void *dev, size_t bytes, char *msg, size_t msg_size)
{
    return no_cuda(msg, msg_size);
}

bool hx_dev_sync(char *msg, size_t msg_size)
{
    return no_cuda(msg, msg_size);
}
#endif

/* Bytes from the first element of a strided [rows][ld] array to one past
 * the last element of its last row (0 for no rows). */
static size_t span_bytes(int64_t rows, int64_t cols, int64_t ld, size_t esz)
{
    return rows > 0 ? ((size_t)(rows - 1) * (size_t)ld + (size_t)cols) * esz : 0;
}

static bool fail_call(char *msg, size_t msg_size, const char *what, ug_status st, ug_context *ctx)
{
    snprintf(msg, msg_size, "%s: %s (%s)", what, ug_status_str(st), ug_context_last_error(ctx));
    return false;
}

bool hx_execute(ug_context *ctx, const ug_plan *plan, const ug_packed_weights *w,
                const ug_gemm_desc *d, const void *a, void *c, const void *bias, char *msg,
                size_t msg_size)
{
    size_t ws_bytes = 0;
    ug_status st = ug_plan_workspace_size(plan, &ws_bytes);
    if (st != UG_OK)
        return fail_call(msg, msg_size, "workspace size", st, ctx);
    if (ug_context_backend(ctx) != UG_BACKEND_CUDA) {
        void *ws = NULL;
        if (ws_bytes && (ws = malloc(ws_bytes)) == NULL) {
            snprintf(msg, msg_size, "workspace: out of host memory (%zu bytes)", ws_bytes);
            return false;
        }
        st = ug_plan_execute(plan, w, a, c, bias, ws, ws_bytes);
        free(ws);
        return st == UG_OK || fail_call(msg, msg_size, "execute", st, ctx);
    }
    /* cuda: device copies of exactly the spans, so that a read or write past
     * them is an error under compute-sanitizer; C goes down with its padding
     * between rows and comes back whole, so the caller sees any write there. */
    int64_t lda = d->lda ? d->lda : d->k, ldc = d->ldc ? d->ldc : d->n;
    size_t a_bytes = span_bytes(d->m, d->k, lda, fbytes(d->a_type));
    size_t c_bytes = span_bytes(d->m, d->n, ldc, fbytes(d->c_type));
    size_t bias_bytes = d->has_bias ? (size_t)d->n * fbytes(d->bias_type) : 0;
    void *da = NULL, *dc = NULL, *dbias = NULL, *dws = NULL;
    bool ok = hx_dev_alloc(&da, a_bytes, msg, msg_size) &&
              hx_dev_alloc(&dc, c_bytes, msg, msg_size) &&
              hx_dev_alloc(&dbias, bias_bytes, msg, msg_size) &&
              hx_dev_alloc(&dws, ws_bytes, msg, msg_size) &&
              hx_dev_upload(da, a, a_bytes, msg, msg_size) &&
              hx_dev_upload(dc, c, c_bytes, msg, msg_size) &&
              hx_dev_upload(dbias, bias, bias_bytes, msg, msg_size) &&
              hx_dev_sync(msg, msg_size); /* the copies are done before the stream runs */
    if (ok && (st = ug_plan_execute(plan, w, da, dc, dbias, dws, ws_bytes)) != UG_OK)
        ok = fail_call(msg, msg_size, "execute", st, ctx);
    /* execute is asynchronous: a fault in its kernels shows up here */
    char why[256];
    if (ok && !(hx_dev_sync(why, sizeof why) && hx_dev_download(c, dc, c_bytes, why, sizeof why))) {
        snprintf(msg, msg_size, "after execute: %s", why);
        ok = false;
    }
    hx_dev_free(da);
    hx_dev_free(dc);
    hx_dev_free(dbias);
    hx_dev_free(dws);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* One case against the oracle                                                */
/* ------------------------------------------------------------------------ */

/* Everything one case allocates, freed in one place. */
typedef struct case_buffers {
    hx_weights hw;
    ug_packed_weights *w_test, *w_ref;
    ug_plan *p_test, *p_ref;
    void *a, *bias, *c_test, *c_ref;
} case_buffers;

static void free_buffers(case_buffers *b)
{
    ug_plan_destroy(b->p_test);
    ug_plan_destroy(b->p_ref);
    ug_weights_destroy(b->w_test);
    ug_weights_destroy(b->w_ref);
    hx_weights_free(&b->hw);
    free(b->a);
    free(b->bias);
    free(b->c_test);
    free(b->c_ref);
}

static bool fail_status(hx_result *res, const char *what, ug_status st, ug_context *ctx)
{
    return fail_call(res->message, sizeof res->message, what, st, ctx);
}

/* hx_compare, with D = |ref| when scale is NULL, else max(|ref|, scale). */
static bool compare(const hx_case *c, ug_backend backend, int64_t ldc, const void *out,
                    const void *ref, const double *scale, const void *pad_expect, hx_result *res)
{
    hx_tolerance(backend, c, &res->tol_rel_l2, &res->tol_max_abs);
    res->pass = false;
    double err2 = 0.0, ref2 = 0.0, max_abs = 0.0, ref_max = 0.0;
    int64_t nan_bad = 0, first_bad = -1, finite = 0;
    for (int64_t i = 0; i < c->m; i++)
        for (int64_t j = 0; j < c->n; j++) {
            size_t at = (size_t)(i * ldc + j);
            double o = hx_load(out, c->c_type, at), r = hx_load(ref, c->c_type, at);
            if (isnan(r) || isnan(o) || isinf(r) || isinf(o)) {
                bool same = (isnan(r) && isnan(o)) || (o == r);
                if (!same) {
                    nan_bad++;
                    if (first_bad < 0)
                        first_bad = (int64_t)at;
                }
                continue;
            }
            double d = fabs(o - r), size = fabs(r);
            if (scale != NULL && scale[i * c->n + j] > size)
                size = scale[i * c->n + j];
            err2 += d * d;
            ref2 += size * size;
            max_abs = d > max_abs ? d : max_abs;
            ref_max = size > ref_max ? size : ref_max;
            finite++;
        }
    if (scale != NULL && finite > 0 && finite < 32)
        res->tol_rel_l2 = fmin(res->tol_max_abs, res->tol_rel_l2 * sqrt(32.0 / (double)finite));
    res->rel_l2 = ref2 > 0 ? sqrt(err2 / ref2) : sqrt(err2);
    res->max_abs = max_abs;
    res->ref_max_abs = ref_max;
    if (nan_bad) {
        snprintf(res->message, sizeof res->message,
                 "%lld non-finite mismatch(es), first at row %lld col %lld", (long long)nan_bad,
                 (long long)(first_bad / ldc), (long long)(first_bad % ldc));
        return false;
    }
    size_t esz = fbytes(c->c_type);
    for (int64_t i = 0; pad_expect && i < c->m && ldc > c->n; i++) {
        size_t off = (size_t)(i * ldc + c->n) * esz, len = (size_t)(ldc - c->n) * esz;
        if (memcmp((const char *)out + off, (const char *)pad_expect + off, len) != 0) {
            snprintf(res->message, sizeof res->message,
                     "padding after row %lld of C was written (ldc = %lld, n = %lld)", (long long)i,
                     (long long)ldc, (long long)c->n);
            return false;
        }
    }
    if (res->rel_l2 > res->tol_rel_l2 || max_abs > res->tol_max_abs * (ref_max > 0 ? ref_max : 1)) {
        snprintf(res->message, sizeof res->message,
                 "error too large: rel_l2 %.3g (tol %.3g), max_abs %.3g (tol %.3g x max|%s| "
                 "%.3g)",
                 res->rel_l2, res->tol_rel_l2, max_abs, res->tol_max_abs, scale ? "D" : "ref",
                 ref_max);
        return false;
    }
    res->pass = true;
    return true;
}

bool hx_compare(const hx_case *c, ug_backend backend, int64_t ldc, const void *out, const void *ref,
                const void *pad_expect, hx_result *res)
{
    return compare(c, backend, ldc, out, ref, NULL, pad_expect, res);
}

bool hx_compare_scaled(const hx_case *c, ug_backend backend, int64_t ldc, const void *out,
                       const void *ref, const double *scale, const void *pad_expect, hx_result *res)
{
    return compare(c, backend, ldc, out, ref, scale, pad_expect, res);
}

bool hx_product_scale(ug_context *oracle, const ug_packed_weights *w_ref, const hx_weights *hw,
                      const hx_case *c, const void *a, double *scale, char *msg, size_t msg_size)
{
    int64_t m = c->m, n = c->n, k = c->k, lda = c->lda ? c->lda : c->k;
    float *w = malloc((size_t)(n * k) * sizeof *w);
    double *mag2 = malloc((size_t)(n * k) * sizeof *mag2), *a2 = malloc((size_t)k * sizeof *a2);
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    if (!w || !mag2 || !a2 || !ids) {
        free(w);
        free(mag2);
        free(a2);
        free(ids);
        snprintf(msg, msg_size, "product scale: out of host memory");
        return false;
    }
    for (int64_t j = 0; j < n; j++)
        ids[j] = (int32_t)j;
    ug_status st = ug_embedding_lookup(oracle, w_ref, ids, n, UG_F32, w, 0);
    bool ok = st == UG_OK || fail_call(msg, msg_size, "product scale: lookup (oracle)", st, oracle);
    const ug_weight_format *f = &c->format;
    int64_t group = f->group_size == UG_GROUP_PER_CHANNEL ? k : f->group_size;
    for (int64_t j = 0; ok && j < n; j++)
        for (int64_t kk = 0; kk < k; kk++) {
            double v = w[j * k + kk], mag = fabs(v);
            if (f->method == UG_METHOD_SCALE_BIAS) {
                double b =
                    hx_load(hw->biases, f->scale_type, (size_t)(j * (k / group) + kk / group));
                mag = fabs(v - b) + fabs(b);
            }
            mag2[j * k + kk] = mag * mag;
        }
    for (int64_t i = 0; ok && i < m; i++) {
        for (int64_t kk = 0; kk < k; kk++) {
            double x = hx_load(a, c->a_type, (size_t)(i * lda + kk));
            a2[kk] = x * x;
        }
        for (int64_t j = 0; j < n; j++) {
            double sum = 0.0;
            for (int64_t kk = 0; kk < k; kk++)
                sum += a2[kk] * mag2[j * k + kk];
            scale[i * n + j] = fabs((double)c->alpha) * sqrt(sum);
        }
    }
    free(w);
    free(mag2);
    free(a2);
    free(ids);
    return ok;
}

hx_result hx_check_case(ug_context *ctx, ug_context *oracle, const hx_case *c, hx_rng *r)
{
    hx_result res = {0};
    ug_backend backend = ug_context_backend(ctx);
    if (!hx_case_supported(backend, c)) {
        snprintf(res.message, sizeof res.message,
                 "%s runs float16 and bfloat16 activations only: a case with a_type %s is not "
                 "one to check (skip it; its plan must be refused with UG_ERR_UNSUPPORTED)",
                 ug_backend_name(backend), ug_dtype_name(c->a_type));
        return res;
    }
    case_buffers b = {0};
    ug_status st = hx_weights_make(ctx, &c->format, c->n, c->k, r, &b.hw);
    if (st != UG_OK) {
        res.pass = fail_status(&res, "make weights", st, ctx);
        return res;
    }
    int64_t lda = c->lda ? c->lda : c->k, ldc = c->ldc ? c->ldc : c->n;
    size_t a_elems = (size_t)(c->m * lda), c_elems = (size_t)(c->m * ldc);
    size_t c_bytes = c_elems * fbytes(c->c_type) + 1;
    b.a = malloc(a_elems * fbytes(c->a_type) + 1);
    b.bias = malloc((size_t)c->n * 4);
    b.c_test = malloc(c_bytes);
    b.c_ref = malloc(c_bytes);
    void *c_init = malloc(c_bytes);
    if (!b.a || !b.bias || !b.c_test || !b.c_ref || !c_init) {
        free(c_init);
        free_buffers(&b);
        snprintf(res.message, sizeof res.message, "out of host memory");
        return res;
    }
    hx_fill(b.a, c->a_type, a_elems, 1.0, r);
    if (c->has_bias)
        hx_fill(b.bias, c->bias_type, (size_t)c->n, 0.5, r);
    if (c->beta != 0.0f)
        hx_fill(c_init, c->c_type, c_elems, 1.0, r);
    else /* beta == 0 must not read C: poison it with NaN */
        for (size_t i = 0; i < c_elems; i++)
            hx_store(c_init, c->c_type, i, NAN);
    memcpy(b.c_test, c_init, c_bytes);
    memcpy(b.c_ref, c_init, c_bytes);

    ug_gemm_desc d = hx_case_desc(c);
    ug_plan_options popt = UG_PLAN_OPTIONS_INIT;
    popt.schedule = c->schedule;
    bool ok = true;
    if ((st = ug_weights_pack(ctx, &b.hw.src, &b.w_test)) != UG_OK)
        ok = fail_status(&res, "pack", st, ctx);
    else if ((st = ug_weights_pack(oracle, &b.hw.src, &b.w_ref)) != UG_OK)
        ok = fail_status(&res, "pack (oracle)", st, oracle);
    else if ((st = ug_plan_create(ctx, &d, b.w_test, &popt, &b.p_test)) != UG_OK)
        ok = fail_status(&res, "plan", st, ctx);
    else if ((st = ug_plan_create(oracle, &d, b.w_ref, NULL, &b.p_ref)) != UG_OK)
        ok = fail_status(&res, "plan (oracle)", st, oracle);
    else if (!hx_execute(ctx, b.p_test, b.w_test, &d, b.a, b.c_test, b.bias, res.message,
                         sizeof res.message))
        ok = false;
    else if ((st = ug_plan_execute(b.p_ref, b.w_ref, b.a, b.c_ref, b.bias, NULL, 0)) != UG_OK)
        ok = fail_status(&res, "execute (oracle)", st, oracle);
    /* f32 sums (cpu) and weights rounded to the activation type (cuda):
     * judge their errors against the size of the products, not of a sum
     * that may cancel */
    double *scale = NULL;
    if (ok && (backend == UG_BACKEND_CUDA || backend == UG_BACKEND_CPU)) {
        scale = malloc((size_t)(c->m * c->n) * sizeof *scale + 1);
        if (scale == NULL) {
            snprintf(res.message, sizeof res.message, "out of host memory");
            ok = false;
        } else {
            ok = hx_product_scale(oracle, b.w_ref, &b.hw, c, b.a, scale, res.message,
                                  sizeof res.message);
        }
    }
    if (ok && scale != NULL)
        hx_compare_scaled(c, backend, ldc, b.c_test, b.c_ref, scale, c_init, &res);
    else if (ok)
        hx_compare(c, backend, ldc, b.c_test, b.c_ref, c_init, &res);
    free(scale);
    free(c_init);
    free_buffers(&b);
    return res;
}
