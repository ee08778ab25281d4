/*
 * plan.c - GEMM plans: the descriptor is checked against the weights once at
 * plan time (types, shape, strides, sizes); the schedule is the one the
 * options force, else the context's tuning table's for this shape, else the
 * backend's heuristic; execute checks the buffers (NULLs, workspace,
 * overlap) and launches.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../dispatch/tuning.h"
#include "internal.h"

static ug_status check_float_type(ug_context *ctx, const char *field, ug_dtype t)
{
    if ((int)t < 0 || t >= UG_DTYPE_COUNT_)
        return ug_fail(ctx, UG_ERR_INVALID_ENUM, "gemm desc: %s = %d is not a ug_dtype", field,
                       (int)t);
    if (!ug_is_float(t))
        return ug_fail(ctx, UG_ERR_UNSUPPORTED,
                       "gemm desc: %s = %s is unsupported (float32, float16 or bfloat16)", field,
                       ug_dtype_name(t));
    return UG_OK;
}

/* Bytes spanned by `rows` rows of `cols` elements `ld` apart; false on overflow. */
static bool span_bytes(int64_t rows, int64_t cols, int64_t ld, size_t esz, size_t *out)
{
    if (rows == 0) {
        *out = 0;
        return true;
    }
    int64_t elems;
    if (!ug_mul_i64(rows - 1, ld, &elems) || __builtin_add_overflow(elems, cols, &elems))
        return false;
    return ug_mul_size((size_t)elems, esz, out);
}

static ug_status check_desc(ug_context *ctx, const ug_gemm_desc *d, const ug_layout *L,
                            ug_gemm_desc *resolved)
{
    if (!ug_version_ok(d->struct_version))
        return ug_fail(ctx, UG_ERR_STRUCT_VERSION,
                       "gemm desc: struct_version = %u, this library reads 1..%u (use "
                       "UG_GEMM_DESC_INIT)",
                       (unsigned)d->struct_version, (unsigned)UG_STRUCT_VERSION);
    if (d->has_bias != 0 && d->has_bias != 1)
        return ug_fail(ctx, UG_ERR_INVALID_VALUE, "gemm desc: has_bias = %d (must be 0 or 1)",
                       (int)d->has_bias);
    ug_status st = check_float_type(ctx, "a_type", d->a_type);
    if (st == UG_OK)
        st = check_float_type(ctx, "c_type", d->c_type);
    if (st == UG_OK && d->has_bias)
        st = check_float_type(ctx, "bias_type", d->bias_type);
    if (st != UG_OK)
        return st;
    if (d->m < 0 || d->n <= 0 || d->k <= 0)
        return ug_fail(ctx, UG_ERR_INVALID_SHAPE,
                       "gemm desc: m = %lld, n = %lld, k = %lld (m >= 0, n and k > 0)",
                       (long long)d->m, (long long)d->n, (long long)d->k);
    if (d->n != L->n || d->k != L->k)
        return ug_fail(ctx, UG_ERR_MISMATCH,
                       "gemm desc: n = %lld, k = %lld but the weights are n = %lld, k = %lld",
                       (long long)d->n, (long long)d->k, (long long)L->n, (long long)L->k);
    if (d->lda < 0 || d->ldc < 0)
        return ug_fail(ctx, UG_ERR_INVALID_STRIDE, "gemm desc: %s = %lld is negative",
                       d->lda < 0 ? "lda" : "ldc", (long long)(d->lda < 0 ? d->lda : d->ldc));
    *resolved = *d;
    resolved->lda = d->lda == 0 ? d->k : d->lda;
    resolved->ldc = d->ldc == 0 ? d->n : d->ldc;
    if (resolved->lda < d->k)
        return ug_fail(ctx, UG_ERR_INVALID_STRIDE,
                       "gemm desc: lda = %lld is shorter than a row of A (k = %lld)",
                       (long long)d->lda, (long long)d->k);
    if (resolved->ldc < d->n)
        return ug_fail(ctx, UG_ERR_INVALID_STRIDE,
                       "gemm desc: ldc = %lld is shorter than a row of C (n = %lld)",
                       (long long)d->ldc, (long long)d->n);
    size_t bytes;
    if (!span_bytes(d->m, d->k, resolved->lda, ug_float_bytes(d->a_type), &bytes) ||
        !span_bytes(d->m, d->n, resolved->ldc, ug_float_bytes(d->c_type), &bytes))
        return ug_fail(ctx, UG_ERR_SIZE_OVERFLOW,
                       "gemm desc: m = %lld rows with lda = %lld / ldc = %lld overflow the "
                       "address space",
                       (long long)d->m, (long long)resolved->lda, (long long)resolved->ldc);
    return UG_OK;
}

ug_status ug_plan_create(ug_context *ctx, const ug_gemm_desc *desc, const ug_packed_weights *w,
                         const ug_plan_options *options, ug_plan **out)
{
    if (out != NULL)
        *out = NULL;
    if (ctx == NULL)
        return UG_ERR_NULL_ARGUMENT;
    if (desc == NULL || w == NULL || out == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "ug_plan_create: %s is NULL",
                       desc == NULL ? "desc"
                       : w == NULL  ? "weights"
                                    : "out");
    if (options != NULL && !ug_version_ok(options->struct_version))
        return ug_fail(ctx, UG_ERR_STRUCT_VERSION,
                       "plan options: struct_version = %u, this library reads 1..%u (use "
                       "UG_PLAN_OPTIONS_INIT)",
                       (unsigned)options->struct_version, (unsigned)UG_STRUCT_VERSION);
    if (w->backend != ctx->backend || w->device != ctx->device)
        return ug_fail(ctx, UG_ERR_MISMATCH,
                       "ug_plan_create: weights were packed for backend %s device %d, context is "
                       "%s device %d",
                       ug_backend_name(w->backend), (int)w->device, ug_backend_name(ctx->backend),
                       (int)ctx->device);
    ug_plan *plan = calloc(1, sizeof *plan);
    if (plan == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "ug_plan_create: out of host memory");
    ug_status st = check_desc(ctx, desc, &w->layout, &plan->desc);
    if (st == UG_OK) {
        plan->ctx = ctx;
        plan->ops = ctx->ops;
        plan->layout = w->layout;
        const char *forced = options ? options->schedule : NULL;
        const char *tuned = NULL;
        if (forced == NULL) {
            pthread_mutex_lock(&ctx->tuning_lock);
            tuned = ug_tuning_lookup(ctx->tuning, &plan->desc, &plan->layout);
            pthread_mutex_unlock(&ctx->tuning_lock);
        }
        /* a tuned schedule was checked against the registry when the table
         * was loaded; should the backend still refuse it (say, for lack of
         * shared memory), the heuristic decides */
        st = ctx->ops->plan_init(ctx, plan, forced ? forced : tuned);
        if (st != UG_OK && tuned != NULL)
            st = ctx->ops->plan_init(ctx, plan, NULL);
    }
    if (st != UG_OK) {
        free(plan);
        return st;
    }
    *out = plan;
    return UG_OK;
}

void ug_plan_destroy(ug_plan *plan)
{
    if (plan == NULL)
        return;
    if (plan->ops->plan_free)
        plan->ops->plan_free(plan);
    free(plan);
}

const char *ug_plan_schedule(const ug_plan *plan)
{
    return plan == NULL ? "" : plan->schedule;
}

ug_status ug_plan_workspace_size(const ug_plan *plan, size_t *bytes)
{
    if (plan == NULL || bytes == NULL)
        return plan == NULL ? UG_ERR_NULL_ARGUMENT
                            : ug_fail(plan->ctx, UG_ERR_NULL_ARGUMENT,
                                      "ug_plan_workspace_size: bytes is NULL");
    *bytes = plan->workspace_bytes;
    return UG_OK;
}

static bool same_layout(const ug_layout *a, const ug_layout *b)
{
    return a->n == b->n && a->k == b->k && a->format.storage == b->format.storage &&
           a->format.method == b->format.method && a->format.group_size == b->format.group_size &&
           a->format.scale_type == b->format.scale_type;
}

/* Whether C's rows touch the rows of a strided input X. Row-exact when both
 * have the same byte stride (column slices of one buffer), by span otherwise. */
static bool rows_overlap(const void *c, size_t c_row_bytes, size_t c_stride, size_t c_bytes,
                         const void *x, size_t x_row_bytes, size_t x_stride, size_t x_bytes)
{
    if (!ug_ranges_overlap(c, c_bytes, x, x_bytes))
        return false;
    if (c_stride != x_stride)
        return true;
    uintptr_t delta = ((uintptr_t)c - (uintptr_t)x) % c_stride; /* C row start within X's period */
    /* X occupies [0, x_row_bytes) of each period, C [delta, delta + c_row_bytes) */
    return delta < x_row_bytes || delta + c_row_bytes > c_stride;
}

ug_status ug_plan_execute(const ug_plan *plan, const ug_packed_weights *w, const void *a, void *c,
                          const void *bias, void *workspace, size_t workspace_size)
{
    if (plan == NULL)
        return UG_ERR_NULL_ARGUMENT;
    ug_context *ctx = plan->ctx;
    const ug_gemm_desc *d = &plan->desc;
    if (w == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "ug_plan_execute: weights is NULL");
    if (w->backend != ctx->backend || w->device != ctx->device ||
        !same_layout(&w->layout, &plan->layout))
        return ug_fail(ctx, UG_ERR_MISMATCH,
                       "ug_plan_execute: weights (%s %s g%d, n = %lld, k = %lld, backend %s) "
                       "differ from those the plan was made for",
                       ug_dtype_name(w->layout.format.storage),
                       ug_method_name(w->layout.format.method), (int)w->layout.format.group_size,
                       (long long)w->layout.n, (long long)w->layout.k, ug_backend_name(w->backend));
    if (d->m == 0)
        return UG_OK;
    if (a == NULL || c == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "ug_plan_execute: %s is NULL",
                       a == NULL ? "a" : "c");
    if (d->has_bias && bias == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT,
                       "ug_plan_execute: bias is NULL but the plan has has_bias = 1");
    if (workspace_size < plan->workspace_bytes || (plan->workspace_bytes && !workspace))
        return ug_fail(ctx, UG_ERR_WORKSPACE_TOO_SMALL,
                       "ug_plan_execute: workspace of %zu bytes at %p, the plan needs %zu",
                       workspace_size, workspace, plan->workspace_bytes);
    size_t a_esz = ug_float_bytes(d->a_type), c_esz = ug_float_bytes(d->c_type);
    ug_status st = ug_check_aligned(ctx, a, a_esz, "ug_plan_execute: a");
    if (st == UG_OK)
        st = ug_check_aligned(ctx, c, c_esz, "ug_plan_execute: c");
    if (st == UG_OK && d->has_bias)
        st = ug_check_aligned(ctx, bias, ug_float_bytes(d->bias_type), "ug_plan_execute: bias");
    if (st != UG_OK)
        return st;
    size_t a_bytes, c_bytes, bias_bytes = 0;
    span_bytes(d->m, d->k, d->lda, a_esz, &a_bytes);
    span_bytes(d->m, d->n, d->ldc, c_esz, &c_bytes);
    if (d->has_bias)
        bias_bytes = (size_t)d->n * ug_float_bytes(d->bias_type);
    const char *clash = NULL;
    if (rows_overlap(c, (size_t)d->n * c_esz, (size_t)d->ldc * c_esz, c_bytes, a,
                     (size_t)d->k * a_esz, (size_t)d->lda * a_esz, a_bytes))
        clash = "a";
    else if (ug_ranges_overlap(c, c_bytes, bias, bias_bytes))
        clash = "bias";
    else if (ug_ranges_overlap(c, c_bytes, workspace, plan->workspace_bytes))
        clash = "workspace";
    if (clash)
        return ug_fail(ctx, UG_ERR_ALIASING, "ug_plan_execute: c (%zu bytes at %p) overlaps %s",
                       c_bytes, c, clash);
    return plan->ops->execute(plan, w, a, c, bias, workspace);
}
