/*
 * ref_backend.c - the scalar oracle. Weights stay in the canonical layout
 * (codes [N][K], scales/biases/zeros [N][K/G]); each weight is dequantized
 * exactly by the formulas of DESIGN.md in f64, and every output element is
 * an f64 dot product summed in k order, then
 *     c = alpha * acc + bias[n] + beta * c_old      (c_old unread if beta == 0)
 * rounded once to the output type (round to nearest even).
 * Rows of W are split over OpenMP threads; each output is computed the same
 * way whatever the thread count, so results never depend on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "ref.h"

/* Rows of W dequantized together; rows of A converted together. */
#define REF_ROWS_W 16
#define REF_ROWS_A 4
/* Below this many multiply-adds one thread does the work: waking a team
 * costs more than it saves (and idle OpenMP threads spin). */
#define REF_PARALLEL_MIN_MACS 4e6

typedef struct ref_weights {
    void *codes, *scales, *biases, *zeros;
} ref_weights;

static void *dup(const void *src, size_t bytes, bool *ok)
{
    if (bytes == 0)
        return NULL;
    void *p = malloc(bytes);
    if (p == NULL) {
        *ok = false;
        return NULL;
    }
    memcpy(p, src, bytes);
    return p;
}

static void free_ref(ref_weights *r)
{
    free(r->codes);
    free(r->scales);
    free(r->biases);
    free(r->zeros);
    free(r);
}

ug_status ug_ref_weights_pack(ug_context *ctx, const ug_weight_source *src, ug_packed_weights *w)
{
    const ug_layout *L = &w->layout;
    ref_weights *r = calloc(1, sizeof *r);
    bool ok = r != NULL;
    if (ok) {
        r->codes = dup(src->codes, L->codes_bytes, &ok);
        r->scales = dup(src->scales, L->scales_bytes, &ok);
        r->biases = dup(src->biases, L->biases_bytes, &ok);
        r->zeros = dup(src->zeros, L->zeros_bytes, &ok);
    }
    if (!ok) {
        if (r)
            free_ref(r);
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY,
                       "ug_weights_pack: out of host memory for %zu bytes of weights",
                       L->codes_bytes + L->scales_bytes + L->biases_bytes + L->zeros_bytes);
    }
    w->data = r;
    return UG_OK;
}

void ug_ref_weights_free(ug_packed_weights *w)
{
    free_ref(w->data);
}

ug_status ug_ref_weights_unpack(ug_context *ctx, const ug_packed_weights *w, void *codes,
                                void *scales, void *biases, void *zeros)
{
    (void)ctx;
    const ug_layout *L = &w->layout;
    const ref_weights *r = w->data;
    memcpy(codes, r->codes, L->codes_bytes);
    if (L->scales_bytes)
        memcpy(scales, r->scales, L->scales_bytes);
    if (L->biases_bytes)
        memcpy(biases, r->biases, L->biases_bytes);
    if (L->zeros_bytes)
        memcpy(zeros, r->zeros, L->zeros_bytes);
    return UG_OK;
}

void ug_ref_dequant_row(const ug_packed_weights *w, int64_t n, double *out)
{
    const ug_layout *L = &w->layout;
    const ref_weights *r = w->data;
    const ug_weight_format *f = &L->format;
    if (!L->quantized) {
        size_t esz = ug_float_bytes(f->storage);
        const uint8_t *row = (const uint8_t *)r->codes + (size_t)n * (size_t)L->k * esz;
        for (int64_t k = 0; k < L->k; k++)
            out[k] = ug_load_float(row, f->storage, k);
        return;
    }
    const uint8_t *row = (const uint8_t *)r->codes + (size_t)n * (size_t)L->k * L->bits / 8;
    for (int64_t g = 0; g < L->groups_per_row; g++) {
        int64_t gi = n * L->groups_per_row + g;
        double s = ug_load_float(r->scales, f->scale_type, gi);
        double b = 0.0;
        int32_t z = 0;
        if (f->method == UG_METHOD_SCALE_BIAS)
            b = ug_load_float(r->biases, f->scale_type, gi);
        else if (f->method == UG_METHOD_SCALE_ZERO)
            z = L->is_signed ? ((const int8_t *)r->zeros)[gi] : ((const uint8_t *)r->zeros)[gi];
        else
            z = L->mid; /* symmetric */
        for (int64_t k = g * L->group; k < (g + 1) * L->group; k++) {
            int32_t q = ug_code_at(row, L->bits, L->is_signed, k);
            out[k] = f->method == UG_METHOD_SCALE_BIAS ? s * q + b : s * (double)(q - z);
        }
    }
}

/* Rows [m0, m0 + rows) of A converted to f64 into abuf [rows][K]. */
static void load_a_rows(const ug_gemm_desc *d, const void *a, int64_t m0, int64_t rows,
                        double *abuf)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t k = 0; k < d->k; k++)
            abuf[i * d->k + k] = ug_load_float(a, d->a_type, (m0 + i) * d->lda + k);
}

static void finish(const ug_gemm_desc *d, void *c, const void *bias, int64_t m, int64_t n,
                   double acc)
{
    double v = (double)d->alpha * acc;
    if (d->has_bias)
        v += ug_load_float(bias, d->bias_type, n);
    int64_t at = m * d->ldc + n;
    if (d->beta != 0.0f)
        v += (double)d->beta * ug_load_float(c, d->c_type, at);
    ug_store_float(c, d->c_type, at, v);
}

ug_status ug_ref_execute(const ug_plan *plan, const ug_packed_weights *w, const void *a, void *c,
                         const void *bias, void *workspace)
{
    (void)workspace;
    const ug_gemm_desc *d = &plan->desc;
    int64_t K = d->k;
    int64_t blocks = (d->n + REF_ROWS_W - 1) / REF_ROWS_W;
    int threads = plan->ctx->num_threads < blocks ? plan->ctx->num_threads : (int)blocks;
    size_t per_thread = (size_t)(REF_ROWS_W + REF_ROWS_A) * (size_t)K;
    double *buf = malloc(per_thread * sizeof(double) * (size_t)threads);
    if (buf == NULL)
        return ug_fail(plan->ctx, UG_ERR_OUT_OF_MEMORY,
                       "ref backend: out of host memory for %d thread buffers of k = %lld", threads,
                       (long long)K);
    bool parallel = (double)d->m * (double)d->n * (double)K >= REF_PARALLEL_MIN_MACS;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (parallel)
    for (int64_t blk = 0; blk < blocks; blk++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        double *wbuf = buf + (size_t)tid * per_thread;
        double *abuf = wbuf + (size_t)REF_ROWS_W * (size_t)K;
        int64_t n0 = blk * REF_ROWS_W;
        int64_t nrows = d->n - n0 < REF_ROWS_W ? d->n - n0 : REF_ROWS_W;
        for (int64_t j = 0; j < nrows; j++)
            ug_ref_dequant_row(w, n0 + j, wbuf + j * K);
        for (int64_t m0 = 0; m0 < d->m; m0 += REF_ROWS_A) {
            int64_t mrows = d->m - m0 < REF_ROWS_A ? d->m - m0 : REF_ROWS_A;
            load_a_rows(d, a, m0, mrows, abuf);
            for (int64_t j = 0; j < nrows; j++) {
                const double *wr = wbuf + j * K;
                /* REF_ROWS_A independent sums, each strictly in k order */
                double acc[REF_ROWS_A] = {0};
                for (int64_t k = 0; k < K; k++)
                    for (int64_t i = 0; i < mrows; i++)
                        acc[i] += abuf[i * K + k] * wr[k];
                for (int64_t i = 0; i < mrows; i++)
                    finish(d, c, bias, m0 + i, n0 + j, acc[i]);
            }
        }
    }
    free(buf);
    return UG_OK;
}

ug_status ug_ref_embedding(ug_context *ctx, const ug_packed_weights *table, const int32_t *ids,
                           int64_t count, ug_dtype out_type, void *out, int64_t ldo)
{
    int64_t dim = table->layout.k;
    double *row = malloc((size_t)dim * sizeof(double));
    if (row == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY,
                       "ug_embedding_lookup: out of host memory for a row of %lld", (long long)dim);
    for (int64_t i = 0; i < count; i++) {
        ug_ref_dequant_row(table, ids[i], row);
        for (int64_t k = 0; k < dim; k++)
            ug_store_float(out, out_type, i * ldo + k, row[k]);
    }
    free(row);
    return UG_OK;
}

static ug_status ref_plan_init(ug_context *ctx, ug_plan *plan, const char *forced)
{
    if (forced != NULL && strcmp(forced, "reference") != 0)
        return ug_fail(ctx, UG_ERR_UNSUPPORTED,
                       "schedule '%.64s' is unknown to backend ref (it offers: reference)", forced);
    plan->schedule = "reference";
    plan->workspace_bytes = 0;
    return UG_OK;
}

static void ref_device_id(const ug_context *ctx, char *buf, size_t size)
{
    (void)ctx;
    snprintf(buf, size, "ref (host, scalar)");
}

const ug_backend_ops ug_ref_ops = {
    .name = "ref",
    .weights_pack = ug_ref_weights_pack,
    .weights_free = ug_ref_weights_free,
    .weights_unpack = ug_ref_weights_unpack,
    .plan_init = ref_plan_init,
    .plan_free = NULL,
    .execute = ug_ref_execute,
    .embedding = ug_ref_embedding,
    .device_id = ref_device_id,
};
