/*
 * safetensors.c - reads a safetensors image: an 8-byte little-endian header
 * length H, H bytes of JSON, then the data section. The JSON (parsed by
 * jansson, duplicate keys refused) maps each tensor name to {"dtype",
 * "shape", "data_offsets": [begin, end]} with offsets relative to the data
 * section; "__metadata__" is an object of strings (or null, as MLX writes). Every field is checked
 * against the image before a tensor is recorded.
 */
#include <stdlib.h>

#include <jansson.h>

#include "io.h"

/* The reference implementation refuses headers above 100 MB; so do we. */
#define SAFETENSORS_MAX_HEADER (100u * 1000 * 1000)

static ug_status check_metadata(ug_checkpoint *ckpt, json_t *meta)
{
    if (json_is_null(meta))
        return UG_OK; /* MLX writes null when it has no metadata */
    if (!json_is_object(meta))
        return ug_fail(ckpt->ctx, UG_ERR_FILE_FORMAT,
                       "safetensors header: __metadata__ is not an object");
    const char *key;
    json_t *value;
    json_object_foreach(meta, key, value)
    {
        if (!json_is_string(value))
            return ug_fail(ckpt->ctx, UG_ERR_FILE_FORMAT,
                           "safetensors header: __metadata__ value '%s' is not a string", key);
    }
    return UG_OK;
}

/* A JSON integer in [0, max], else UG_ERR_FILE_FORMAT naming the field. */
static ug_status json_u64(ug_checkpoint *ckpt, json_t *v, const char *tensor, const char *field,
                          uint64_t *out)
{
    if (!json_is_integer(v))
        return ug_fail(ckpt->ctx, UG_ERR_FILE_FORMAT,
                       "safetensors header: tensor '%s': %s is not an integer", tensor, field);
    json_int_t x = json_integer_value(v);
    if (x < 0)
        return ug_fail(ckpt->ctx, UG_ERR_FILE_FORMAT,
                       "safetensors header: tensor '%s': %s is negative (%lld)", tensor, field,
                       (long long)x);
    *out = (uint64_t)x;
    return UG_OK;
}

static ug_status read_entry(ug_checkpoint *ckpt, const char *name, json_t *entry,
                            uint64_t data_start, uint64_t data_size, io_tensor *t)
{
    ug_context *ctx = ckpt->ctx;
    if (!json_is_object(entry))
        return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                       "safetensors header: tensor '%s' is not an object", name);
    if (name[0] == '\0')
        return ug_fail(ctx, UG_ERR_FILE_FORMAT, "safetensors header: a tensor has an empty name");
    json_t *dtype = json_object_get(entry, "dtype");
    json_t *shape = json_object_get(entry, "shape");
    json_t *offsets = json_object_get(entry, "data_offsets");
    if (!json_is_string(dtype))
        return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                       "safetensors header: tensor '%s': dtype is missing or not a string", name);
    if (!json_is_array(shape))
        return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                       "safetensors header: tensor '%s': shape is missing or not an array", name);
    if (!json_is_array(offsets) || json_array_size(offsets) != 2)
        return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                       "safetensors header: tensor '%s': data_offsets is not [begin, end]", name);
    if (!io_type_from_safetensors(json_string_value(dtype), &t->type))
        return ug_fail(ctx, UG_ERR_FILE_DTYPE, "tensor '%s': unknown dtype '%s'", name,
                       json_string_value(dtype));
    size_t ndim = json_array_size(shape);
    if (ndim > UG_TENSOR_MAX_DIMS)
        return ug_fail(ctx, UG_ERR_FILE_SHAPE, "tensor '%s': %zu dimensions (at most %d read)",
                       name, ndim, UG_TENSOR_MAX_DIMS);
    t->ndim = (int32_t)ndim;
    for (size_t d = 0; d < ndim; d++) {
        json_t *dim = json_array_get(shape, d);
        if (!json_is_integer(dim) || json_integer_value(dim) < 0)
            return ug_fail(ctx, UG_ERR_FILE_SHAPE,
                           "tensor '%s': shape[%zu] is not a non-negative integer", name, d);
        t->shape[d] = (int64_t)json_integer_value(dim);
    }
    uint64_t begin = 0, end = 0, bytes;
    ug_status st;
    if ((st = json_u64(ckpt, json_array_get(offsets, 0), name, "data_offsets[0]", &begin)) ||
        (st = json_u64(ckpt, json_array_get(offsets, 1), name, "data_offsets[1]", &end)))
        return st;
    if (begin > end)
        return ug_fail(ctx, UG_ERR_FILE_RANGE,
                       "tensor '%s': data_offsets [%llu, %llu] run backwards", name,
                       (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return ug_fail(ctx, UG_ERR_FILE_RANGE,
                       "tensor '%s': data_offsets end %llu is past the data section's %llu bytes",
                       name, (unsigned long long)end, (unsigned long long)data_size);
    if ((st = io_tensor_bytes(ckpt, name, t->type, t->ndim, t->shape, &bytes)) != UG_OK)
        return st;
    if (bytes != end - begin)
        return ug_fail(ctx, UG_ERR_FILE_SHAPE,
                       "tensor '%s': shape and dtype %s make %llu bytes but data_offsets span "
                       "%llu",
                       name, json_string_value(dtype), (unsigned long long)bytes,
                       (unsigned long long)(end - begin));
    t->name = strdup(name);
    if (t->name == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "checkpoint: no memory for a tensor name");
    t->offset = data_start + begin;
    t->bytes = bytes;
    t->data = ckpt->image + t->offset;
    return UG_OK;
}

ug_status io_read_safetensors(ug_checkpoint *ckpt)
{
    ug_context *ctx = ckpt->ctx;
    if (ckpt->size < 8)
        return ug_fail(ctx, UG_ERR_FILE_TRUNCATED,
                       "safetensors: %zu bytes, fewer than the 8 of the header length",
                       ckpt->size);
    uint64_t header = io_le64(ckpt->image);
    if (header > ckpt->size - 8)
        return ug_fail(ctx, UG_ERR_FILE_TRUNCATED,
                       "safetensors: the header length %llu runs past the end of the %zu-byte "
                       "file",
                       (unsigned long long)header, ckpt->size);
    if (header > SAFETENSORS_MAX_HEADER)
        return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                       "safetensors: header length %llu is above the 100 MB limit",
                       (unsigned long long)header);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)ckpt->image + 8, (size_t)header,
                              JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return ug_fail(ctx, UG_ERR_FILE_FORMAT, "safetensors header: %s (byte %d of the JSON)",
                       jerr.text, jerr.position);
    ug_status st = UG_OK;
    if (!json_is_object(root)) {
        st = ug_fail(ctx, UG_ERR_FILE_FORMAT, "safetensors header: not a JSON object");
        goto done;
    }
    size_t count = json_object_size(root);
    ckpt->tensors = calloc(count ? count : 1, sizeof *ckpt->tensors);
    if (ckpt->tensors == NULL) {
        st = ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "checkpoint: no memory for %zu tensors", count);
        goto done;
    }
    uint64_t data_start = 8 + header, data_size = ckpt->size - data_start;
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        if (strcmp(key, "__metadata__") == 0) {
            if ((st = check_metadata(ckpt, value)) != UG_OK)
                goto done;
            continue;
        }
        io_tensor *t = &ckpt->tensors[ckpt->tensor_count];
        if ((st = read_entry(ckpt, key, value, data_start, data_size, t)) != UG_OK)
            goto done;
        ckpt->tensor_count++;
    }
    st = io_check_tensor_table(ckpt);
done:
    json_decref(root);
    return st;
}
