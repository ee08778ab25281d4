/*
 * tensor_table.c - the element types of safetensors and GGUF files with
 * their block sizes, the checked byte size of a tensor, and the checks both
 * readers end with: names unique, no two tensors sharing a byte.
 */
#include <stdlib.h>

#include "io.h"

/* Block sizes of the GGUF types are ggml's (ggml-common.h); safetensors
 * types are plain. */
static const io_type_info type_table[IO_TYPE_COUNT_] = {
    [IO_BOOL] = {"BOOL", -1, true, 1, 1},
    [IO_U8] = {"U8", -1, true, 1, 1},
    [IO_I8] = {"I8", 24, true, 1, 1},
    [IO_U16] = {"U16", -1, true, 1, 2},
    [IO_I16] = {"I16", 25, true, 1, 2},
    [IO_U32] = {"U32", -1, true, 1, 4},
    [IO_I32] = {"I32", 26, true, 1, 4},
    [IO_U64] = {"U64", -1, true, 1, 8},
    [IO_I64] = {"I64", 27, true, 1, 8},
    [IO_F16] = {"F16", 1, true, 1, 2},
    [IO_BF16] = {"BF16", 30, true, 1, 2},
    [IO_F32] = {"F32", 0, true, 1, 4},
    [IO_F64] = {"F64", 28, true, 1, 8},
    [IO_F8_E4M3] = {"F8_E4M3", -1, true, 1, 1},
    [IO_F8_E5M2] = {"F8_E5M2", -1, true, 1, 1},
    [IO_Q4_0] = {"Q4_0", 2, false, 32, 18},
    [IO_Q4_1] = {"Q4_1", 3, false, 32, 20},
    [IO_Q5_0] = {"Q5_0", 6, false, 32, 22},
    [IO_Q5_1] = {"Q5_1", 7, false, 32, 24},
    [IO_Q8_0] = {"Q8_0", 8, false, 32, 34},
    [IO_Q8_1] = {"Q8_1", 9, false, 32, 36},
    [IO_Q2_K] = {"Q2_K", 10, false, 256, 84},
    [IO_Q3_K] = {"Q3_K", 11, false, 256, 110},
    [IO_Q4_K] = {"Q4_K", 12, false, 256, 144},
    [IO_Q5_K] = {"Q5_K", 13, false, 256, 176},
    [IO_Q6_K] = {"Q6_K", 14, false, 256, 210},
    [IO_Q8_K] = {"Q8_K", 15, false, 256, 292},
    [IO_IQ2_XXS] = {"IQ2_XXS", 16, false, 256, 66},
    [IO_IQ2_XS] = {"IQ2_XS", 17, false, 256, 74},
    [IO_IQ3_XXS] = {"IQ3_XXS", 18, false, 256, 98},
    [IO_IQ1_S] = {"IQ1_S", 19, false, 256, 50},
    [IO_IQ4_NL] = {"IQ4_NL", 20, false, 32, 18},
    [IO_IQ3_S] = {"IQ3_S", 21, false, 256, 110},
    [IO_IQ2_S] = {"IQ2_S", 22, false, 256, 82},
    [IO_IQ4_XS] = {"IQ4_XS", 23, false, 256, 136},
    [IO_IQ1_M] = {"IQ1_M", 29, false, 256, 56},
    [IO_TQ1_0] = {"TQ1_0", 34, false, 256, 54},
    [IO_TQ2_0] = {"TQ2_0", 35, false, 256, 66},
    [IO_MXFP4] = {"MXFP4", 39, false, 32, 17},
};

const io_type_info *io_type_info_of(io_type type)
{
    if ((int)type < 0 || type >= IO_TYPE_COUNT_)
        return NULL;
    return &type_table[type];
}

bool io_type_from_safetensors(const char *name, io_type *out)
{
    for (int t = 0; t < IO_TYPE_COUNT_; t++)
        if (type_table[t].in_safetensors && strcmp(type_table[t].name, name) == 0) {
            *out = (io_type)t;
            return true;
        }
    return false;
}

bool io_type_from_ggml(uint32_t id, io_type *out)
{
    for (int t = 0; t < IO_TYPE_COUNT_; t++)
        if (type_table[t].ggml_id >= 0 && (uint32_t)type_table[t].ggml_id == id) {
            *out = (io_type)t;
            return true;
        }
    return false;
}

ug_status io_tensor_bytes(ug_checkpoint *ckpt, const char *name, io_type type, int32_t ndim,
                          const int64_t *shape, uint64_t *bytes)
{
    const io_type_info *info = io_type_info_of(type);
    int64_t elements = 1;
    for (int32_t d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return ug_fail(ckpt->ctx, UG_ERR_FILE_SHAPE, "tensor '%s': dimension %d is %lld",
                           name, d, (long long)shape[d]);
        if (!ug_mul_i64(elements, shape[d], &elements))
            return ug_fail(ckpt->ctx, UG_ERR_SIZE_OVERFLOW,
                           "tensor '%s': the element count of its shape overflows 64 bits",
                           name);
    }
    int64_t inner = ndim > 0 ? shape[ndim - 1] : 1;
    if (inner % info->block != 0)
        return ug_fail(ckpt->ctx, UG_ERR_FILE_SHAPE,
                       "tensor '%s': a row of %lld elements is not a whole number of %s blocks "
                       "of %lld",
                       name, (long long)inner, info->name, (long long)info->block);
    int64_t total;
    if (!ug_mul_i64(elements / info->block, info->block_bytes, &total))
        return ug_fail(ckpt->ctx, UG_ERR_SIZE_OVERFLOW,
                       "tensor '%s': the byte size of its shape overflows 64 bits", name);
    *bytes = (uint64_t)total;
    return UG_OK;
}

int32_t io_tensor_find(const ug_checkpoint *ckpt, const char *name)
{
    for (size_t i = 0; i < ckpt->tensor_count; i++)
        if (strcmp(ckpt->tensors[i].name, name) == 0)
            return (int32_t)i;
    return -1;
}

static int compare_names(const void *a, const void *b)
{
    const io_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static int compare_offsets(const void *a, const void *b)
{
    const io_tensor *const *x = a, *const *y = b;
    if ((*x)->offset != (*y)->offset)
        return (*x)->offset < (*y)->offset ? -1 : 1;
    return (*x)->bytes < (*y)->bytes ? -1 : (*x)->bytes > (*y)->bytes;
}

ug_status io_check_tensor_table(ug_checkpoint *ckpt)
{
    size_t n = ckpt->tensor_count;
    if (n < 2)
        return UG_OK;
    const io_tensor **order = malloc(n * sizeof *order);
    if (order == NULL)
        return ug_fail(ckpt->ctx, UG_ERR_OUT_OF_MEMORY, "checkpoint: no memory for %zu tensors",
                       n);
    for (size_t i = 0; i < n; i++)
        order[i] = &ckpt->tensors[i];
    ug_status st = UG_OK;
    qsort(order, n, sizeof *order, compare_names);
    for (size_t i = 1; i < n && st == UG_OK; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0)
            st = ug_fail(ckpt->ctx, UG_ERR_FILE_FORMAT, "tensor name '%s' appears twice",
                         order[i]->name);
    if (st == UG_OK) {
        qsort(order, n, sizeof *order, compare_offsets);
        const io_tensor *last = NULL; /* the nonempty tensor reaching furthest so far */
        for (size_t i = 0; i < n && st == UG_OK; i++) {
            const io_tensor *t = order[i];
            if (t->bytes == 0)
                continue;
            if (last != NULL && t->offset < last->offset + last->bytes)
                st = ug_fail(ckpt->ctx, UG_ERR_FILE_OVERLAP,
                             "tensors '%s' (bytes %llu..%llu) and '%s' (bytes %llu..%llu) "
                             "overlap",
                             last->name, (unsigned long long)last->offset,
                             (unsigned long long)(last->offset + last->bytes), t->name,
                             (unsigned long long)t->offset,
                             (unsigned long long)(t->offset + t->bytes));
            if (last == NULL || t->offset + t->bytes > last->offset + last->bytes)
                last = t;
        }
    }
    free(order);
    return st;
}
