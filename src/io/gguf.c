/*
 * gguf.c - reads a GGUF image (versions 2 and 3, little-endian): the magic
 * "GGUF", u32 version, u64 tensor count, u64 key/value count; the key/value
 * pairs (u64-length strings, u32 value type, value; arrays as u32 element
 * type, u64 count, elements); the tensor infos (name, u32 n_dims, u64 ne[]
 * innermost first, u32 ggml type, u64 offset); then padding up to
 * general.alignment (32 unless given) and the data section. Every count and
 * length is checked against the bytes left before it is used.
 */
#include <stdio.h>
#include <stdlib.h>

#include "io.h"

#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_DIMS 4

enum gguf_value_type {
    GGUF_U8 = 0,
    GGUF_I8,
    GGUF_U16,
    GGUF_I16,
    GGUF_U32,
    GGUF_I32,
    GGUF_F32,
    GGUF_BOOL,
    GGUF_STRING,
    GGUF_ARRAY,
    GGUF_U64,
    GGUF_I64,
    GGUF_F64,
    GGUF_VALUE_TYPE_COUNT_
};

/* Bytes of a fixed-size value; 0 for strings and arrays. */
static size_t value_size(uint32_t type)
{
    static const size_t sizes[GGUF_VALUE_TYPE_COUNT_] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return type < GGUF_VALUE_TYPE_COUNT_ ? sizes[type] : 0;
}

/* A cursor over the image; every read is checked against the end. */
typedef struct cursor {
    ug_checkpoint *ckpt;
    size_t pos;
} cursor;

static ug_status need(cursor *c, uint64_t bytes, const char *what)
{
    if (bytes > c->ckpt->size - c->pos)
        return ug_fail(c->ckpt->ctx, UG_ERR_FILE_TRUNCATED,
                       "gguf: %s at byte %zu needs %llu bytes but the file has %zu left", what,
                       c->pos, (unsigned long long)bytes, c->ckpt->size - c->pos);
    return UG_OK;
}

static ug_status read_u32(cursor *c, const char *what, uint32_t *out)
{
    ug_status st = need(c, 4, what);
    if (st == UG_OK) {
        *out = io_le32(c->ckpt->image + c->pos);
        c->pos += 4;
    }
    return st;
}

static ug_status read_u64(cursor *c, const char *what, uint64_t *out)
{
    ug_status st = need(c, 8, what);
    if (st == UG_OK) {
        *out = io_le64(c->ckpt->image + c->pos);
        c->pos += 8;
    }
    return st;
}

/* A string: u64 length and that many bytes (no NUL). Sets *s and *len to
 * the bytes in the image. */
static ug_status read_string(cursor *c, const char *what, const char **s, uint64_t *len)
{
    ug_status st = read_u64(c, what, len);
    if (st == UG_OK)
        st = need(c, *len, what);
    if (st == UG_OK) {
        *s = (const char *)c->ckpt->image + c->pos;
        c->pos += (size_t)*len;
    }
    return st;
}

/* Skip one value of `type` (arrays of fixed-size values or of strings; an
 * array of arrays is refused). */
static ug_status skip_value(cursor *c, uint32_t type, const char *key, int depth)
{
    ug_context *ctx = c->ckpt->ctx;
    if (type >= GGUF_VALUE_TYPE_COUNT_)
        return ug_fail(ctx, UG_ERR_FILE_FORMAT, "gguf: key '%s' has unknown value type %u", key,
                       type);
    if (type == GGUF_STRING) {
        const char *s;
        uint64_t len;
        return read_string(c, "a string value", &s, &len);
    }
    ug_status st;
    if (type != GGUF_ARRAY) {
        if ((st = need(c, value_size(type), "a value")) == UG_OK)
            c->pos += value_size(type);
        return st;
    }
    if (depth > 0)
        return ug_fail(ctx, UG_ERR_FILE_FORMAT, "gguf: key '%s' holds an array of arrays", key);
    uint32_t elem;
    uint64_t count;
    if ((st = read_u32(c, "an array's element type", &elem)) ||
        (st = read_u64(c, "an array's length", &count)))
        return st;
    if (elem == GGUF_ARRAY)
        return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                       "gguf: key '%s' is an array of arrays, which this reader does not take",
                       key);
    if (elem >= GGUF_VALUE_TYPE_COUNT_)
        return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                       "gguf: key '%s' is an array of unknown element type %u", key, elem);
    if (elem == GGUF_STRING) {
        /* Every string takes at least its 8-byte length. */
        if (count > (c->ckpt->size - c->pos) / 8)
            return need(c, UINT64_MAX, "an array of strings");
        for (uint64_t i = 0; i < count; i++)
            if ((st = skip_value(c, GGUF_STRING, key, depth + 1)) != UG_OK)
                return st;
        return UG_OK;
    }
    size_t size = value_size(elem);
    if (count > (c->ckpt->size - c->pos) / size)
        return need(c, UINT64_MAX, "an array");
    c->pos += (size_t)(count * size);
    return UG_OK;
}

static ug_status read_kv(cursor *c, uint32_t *alignment)
{
    ug_context *ctx = c->ckpt->ctx;
    const char *key;
    uint64_t len;
    uint32_t type;
    ug_status st;
    if ((st = read_string(c, "a key", &key, &len)) || (st = read_u32(c, "a value type", &type)))
        return st;
    char name[96];
    snprintf(name, sizeof name, "%.*s", (int)(len < 80 ? len : 80), key);
    if (len == strlen("general.alignment") && memcmp(key, "general.alignment", len) == 0) {
        if (type != GGUF_U32)
            return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                           "gguf: general.alignment has value type %u, not uint32", type);
        if ((st = read_u32(c, "general.alignment", alignment)) != UG_OK)
            return st;
        if (*alignment == 0 || (*alignment & (*alignment - 1)) != 0)
            return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                           "gguf: general.alignment %u is not a power of two", *alignment);
        return UG_OK;
    }
    return skip_value(c, type, name, 0);
}

static ug_status read_tensor_info(cursor *c, io_tensor *t)
{
    ug_context *ctx = c->ckpt->ctx;
    const char *name;
    uint64_t len;
    uint32_t ndim, ggml;
    ug_status st;
    if ((st = read_string(c, "a tensor name", &name, &len)) != UG_OK)
        return st;
    if (len == 0 || memchr(name, '\0', (size_t)len) != NULL)
        return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                       "gguf: a tensor name at byte %zu is empty or holds a NUL",
                       c->pos - (size_t)len);
    t->name = malloc((size_t)len + 1);
    if (t->name == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "checkpoint: no memory for a tensor name");
    memcpy(t->name, name, (size_t)len);
    t->name[len] = '\0';
    if ((st = read_u32(c, "n_dims", &ndim)) != UG_OK)
        return st;
    if (ndim == 0 || ndim > GGUF_MAX_DIMS)
        return ug_fail(ctx, UG_ERR_FILE_SHAPE, "tensor '%s': n_dims %u is not in 1..%d",
                       t->name, ndim, GGUF_MAX_DIMS);
    t->ndim = (int32_t)ndim;
    for (uint32_t d = 0; d < ndim; d++) {
        uint64_t ne;
        if ((st = read_u64(c, "ne", &ne)) != UG_OK)
            return st;
        if (ne > (uint64_t)INT64_MAX)
            return ug_fail(ctx, UG_ERR_SIZE_OVERFLOW, "tensor '%s': ne[%u] = %llu overflows",
                           t->name, d, (unsigned long long)ne);
        t->shape[ndim - 1 - d] = (int64_t)ne; /* outermost first */
    }
    if ((st = read_u32(c, "a tensor type", &ggml)) || (st = read_u64(c, "an offset", &t->offset)))
        return st;
    if (!io_type_from_ggml(ggml, &t->type))
        return ug_fail(ctx, UG_ERR_FILE_DTYPE, "tensor '%s': unknown ggml type %u", t->name,
                       ggml);
    return io_tensor_bytes(c->ckpt, t->name, t->type, t->ndim, t->shape, &t->bytes);
}

ug_status io_read_gguf(ug_checkpoint *ckpt)
{
    ug_context *ctx = ckpt->ctx;
    cursor c = {ckpt, 0};
    uint32_t magic, version;
    uint64_t tensors, kvs;
    ug_status st;
    if ((st = read_u32(&c, "the magic", &magic)) != UG_OK)
        return st;
    if (memcmp(ckpt->image, "GGUF", 4) != 0)
        return ug_fail(ctx, UG_ERR_FILE_FORMAT, "gguf: the file does not start with 'GGUF'");
    if ((st = read_u32(&c, "the version", &version)) != UG_OK)
        return st;
    if (version != 2 && version != 3)
        return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                       "gguf: version %u is not read (2 and 3 are; a byte-swapped number means "
                       "a big-endian file)",
                       version);
    if ((st = read_u64(&c, "the tensor count", &tensors)) ||
        (st = read_u64(&c, "the key/value count", &kvs)))
        return st;
    /* A key/value takes at least 12 bytes and a tensor info at least 32:
     * counts beyond what the file could hold are truncations, refused before
     * anything is allocated for them. */
    if (kvs > (ckpt->size - c.pos) / 12)
        return ug_fail(ctx, UG_ERR_FILE_TRUNCATED,
                       "gguf: %llu key/value pairs cannot fit in the %zu bytes left",
                       (unsigned long long)kvs, ckpt->size - c.pos);
    if (tensors > (ckpt->size - c.pos) / 32)
        return ug_fail(ctx, UG_ERR_FILE_TRUNCATED,
                       "gguf: %llu tensor infos cannot fit in the %zu bytes left",
                       (unsigned long long)tensors, ckpt->size - c.pos);
    uint32_t alignment = GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < kvs; i++)
        if ((st = read_kv(&c, &alignment)) != UG_OK)
            return st;
    ckpt->tensors = calloc(tensors ? (size_t)tensors : 1, sizeof *ckpt->tensors);
    if (ckpt->tensors == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "checkpoint: no memory for %llu tensors",
                       (unsigned long long)tensors);
    for (uint64_t i = 0; i < tensors; i++) {
        st = read_tensor_info(&c, &ckpt->tensors[i]);
        ckpt->tensor_count = (size_t)i + 1; /* freed with the table, even half read */
        if (st != UG_OK)
            return st;
    }
    uint64_t data_start = ((uint64_t)c.pos + alignment - 1) / alignment * alignment;
    if (tensors > 0 && data_start > ckpt->size)
        return ug_fail(ctx, UG_ERR_FILE_TRUNCATED,
                       "gguf: the data section would start at byte %llu, past the end of the "
                       "%zu-byte file",
                       (unsigned long long)data_start, ckpt->size);
    uint64_t data_size = data_start <= ckpt->size ? ckpt->size - data_start : 0;
    for (size_t i = 0; i < ckpt->tensor_count; i++) {
        io_tensor *t = &ckpt->tensors[i];
        if (t->offset % alignment != 0)
            return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                           "tensor '%s': offset %llu is not a multiple of the alignment %u",
                           t->name, (unsigned long long)t->offset, alignment);
        if (t->offset > data_size || t->bytes > data_size - t->offset)
            return ug_fail(ctx, UG_ERR_FILE_RANGE,
                           "tensor '%s': bytes %llu..%llu of the data section, which has %llu",
                           t->name, (unsigned long long)t->offset,
                           (unsigned long long)t->offset + t->bytes,
                           (unsigned long long)data_size);
        t->offset += data_start;
        t->data = ckpt->image + t->offset;
    }
    return io_check_tensor_table(ckpt);
}
