/*
 * embedding.c - quantized embedding lookup: checks ids [count] against the
 * table's [vocab][dim] shape and the output [count][ldo], then gathers
 * through the backend.
 */
#include "internal.h"

ug_status ug_embedding_lookup(ug_context *ctx, const ug_packed_weights *table, const int32_t *ids,
                              int64_t count, ug_dtype out_type, void *out, int64_t ldo)
{
    if (ctx == NULL)
        return UG_ERR_NULL_ARGUMENT;
    if (table == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "ug_embedding_lookup: table is NULL");
    if (table->backend != ctx->backend || table->device != ctx->device)
        return ug_fail(ctx, UG_ERR_MISMATCH,
                       "ug_embedding_lookup: table was packed for backend %s, context is %s",
                       ug_backend_name(table->backend), ug_backend_name(ctx->backend));
    if (count < 0)
        return ug_fail(ctx, UG_ERR_INVALID_SHAPE, "ug_embedding_lookup: count = %lld is negative",
                       (long long)count);
    if ((int)out_type < 0 || out_type >= UG_DTYPE_COUNT_)
        return ug_fail(ctx, UG_ERR_INVALID_ENUM,
                       "ug_embedding_lookup: out_type = %d is not a ug_dtype", (int)out_type);
    if (!ug_is_float(out_type))
        return ug_fail(ctx, UG_ERR_UNSUPPORTED,
                       "ug_embedding_lookup: out_type %s is unsupported (float32, float16 or "
                       "bfloat16)",
                       ug_dtype_name(out_type));
    int64_t dim = table->layout.k, vocab = table->layout.n;
    if (ldo < 0 || (ldo != 0 && ldo < dim))
        return ug_fail(ctx, UG_ERR_INVALID_STRIDE,
                       "ug_embedding_lookup: ldo = %lld is shorter than a row (dim = %lld)",
                       (long long)ldo, (long long)dim);
    if (ldo == 0)
        ldo = dim;
    int64_t elems;
    size_t bytes;
    if (!ug_mul_i64(count, ldo, &elems) ||
        !ug_mul_size((size_t)elems, ug_float_bytes(out_type), &bytes))
        return ug_fail(ctx, UG_ERR_SIZE_OVERFLOW,
                       "ug_embedding_lookup: count = %lld rows of ldo = %lld overflow",
                       (long long)count, (long long)ldo);
    if (count == 0)
        return UG_OK;
    if (ids == NULL || out == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "ug_embedding_lookup: %s is NULL",
                       ids == NULL ? "ids" : "out");
    ug_status st = ug_check_aligned(ctx, ids, sizeof *ids, "ug_embedding_lookup: ids");
    if (st == UG_OK)
        st = ug_check_aligned(ctx, out, ug_float_bytes(out_type), "ug_embedding_lookup: out");
    if (st != UG_OK)
        return st;
    size_t out_span = ((size_t)(count - 1) * (size_t)ldo + (size_t)dim) * ug_float_bytes(out_type);
    if (ug_ranges_overlap(out, out_span, ids, (size_t)count * sizeof *ids))
        return ug_fail(ctx, UG_ERR_ALIASING, "ug_embedding_lookup: out overlaps ids");
    for (int64_t i = 0; i < count; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return ug_fail(ctx, UG_ERR_INVALID_VALUE,
                           "ug_embedding_lookup: ids[%lld] = %d is outside the vocabulary "
                           "[0, %lld)",
                           (long long)i, (int)ids[i], (long long)vocab);
    return ctx->ops->embedding(ctx, table, ids, count, out_type, out, ldo);
}
