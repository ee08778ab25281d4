/*
 * test_checkpoint_malformed.c - a table of broken checkpoint files, each
 * refused with its own status and a message naming the problem: truncated
 * headers, lengths and offsets past the end, tensors that overlap, shapes
 * that overflow or disagree with their bytes, unknown or wrong types, bad
 * GGUF fields, and layers missing a companion tensor or with companions of
 * the wrong type or shape (refused at import). Safetensors images are built
 * here from JSON text, GGUF images with a small byte writer, so that each
 * field can be set wrong on purpose.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- image builders ---------------------------------------------------------- */

typedef struct bytes {
    uint8_t *p;
    size_t size, cap;
} bytes;

static void put(bytes *b, const void *data, size_t n)
{
    if (b->size + n > b->cap) {
        b->cap = (b->size + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    if (n)
        memcpy(b->p + b->size, data, n);
    b->size += n;
}

static void put_u32(bytes *b, uint32_t v)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, le, 4);
}

static void put_u64(bytes *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(bytes *b, const char *s)
{
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

/* Random bytes: data content does not matter to these checks, but is never
 * left zero. */
static void put_random(bytes *b, size_t n, hx_rng *r)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t v = (uint8_t)hx_rng_next(r);
        put(b, &v, 1);
    }
}

/* safetensors: u64 header length (as given, or the JSON's own when
 * header_len is 0), the JSON, `data` random bytes. */
static bytes safetensors(const char *json, uint64_t header_len, size_t data, hx_rng *r)
{
    bytes b = {0};
    put_u64(&b, header_len ? header_len : strlen(json));
    put(&b, json, strlen(json));
    put_random(&b, data, r);
    return b;
}

typedef struct gguf_tensor {
    const char *name;
    uint32_t ndim;
    uint64_t ne[5];
    uint32_t type;
    uint64_t offset;
} gguf_tensor;

/* GGUF v3: header with the given counts, general.alignment (when non-zero),
 * one string kv, the tensor infos, padding to `alignment` (32 when 0) and
 * `data` random bytes. */
static bytes gguf(uint32_t version, uint64_t tensor_count, const gguf_tensor *t, size_t nt,
                  uint32_t alignment, size_t data, hx_rng *r)
{
    bytes b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, version);
    put_u64(&b, tensor_count);
    put_u64(&b, alignment ? 2 : 1);
    put_str(&b, "general.architecture");
    put_u32(&b, 8);
    put_str(&b, "llama");
    if (alignment) {
        put_str(&b, "general.alignment");
        put_u32(&b, 4);
        put_u32(&b, alignment);
    }
    for (size_t i = 0; i < nt; i++) {
        put_str(&b, t[i].name);
        put_u32(&b, t[i].ndim);
        for (uint32_t d = 0; d < t[i].ndim; d++)
            put_u64(&b, t[i].ne[d]);
        put_u32(&b, t[i].type);
        put_u64(&b, t[i].offset);
    }
    uint32_t a = alignment ? alignment : 32;
    while (b.size % a)
        put(&b, "", 1);
    put_random(&b, data, r);
    return b;
}

/* ---- the table ------------------------------------------------------------------ */

typedef struct bad_file {
    const char *what;
    ug_status status;
    const char *needle;  /* the message must contain it */
    const char *import;  /* NULL: open must fail; else open succeeds, importing this fails */
} bad_file;

static void expect_refused(ug_context *ctx, bytes img, const bad_file *c)
{
    ug_checkpoint *ck = TU_NOT_NULL;
    ug_status st = ug_checkpoint_open_memory(ctx, img.p, img.size, &ck);
    if (c->import == NULL) {
        print_message("  %-44s -> %s: %s\n", c->what, ug_status_str(st),
                      ug_context_last_error(ctx));
        TU_EXPECT_ERROR(ctx, st, c->status, c->needle);
        assert_null(ck);
    } else {
        TU_CHECK(st == UG_OK, "%s: open failed: %s", c->what, ug_context_last_error(ctx));
        ug_imported_layer *l = TU_NOT_NULL;
        st = ug_checkpoint_import(ck, c->import, NULL, &l);
        print_message("  %-44s -> %s: %s\n", c->what, ug_status_str(st),
                      ug_context_last_error(ctx));
        TU_EXPECT_ERROR(ctx, st, c->status, c->needle);
        assert_null(l);
        ug_checkpoint_close(ck);
    }
    free(img.p);
}

static void test_malformed_safetensors(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    const char *t16 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";

    bytes tiny = {0};
    put(&tiny, "\x10\x00\x00", 3);
    expect_refused(ctx, tiny, &(bad_file){"file shorter than the length", UG_ERR_FILE_TRUNCATED,
                                          "fewer than the 8", NULL});
    expect_refused(ctx, (bytes){0}, &(bad_file){"empty file", UG_ERR_FILE_TRUNCATED, "0 bytes", NULL});
    expect_refused(ctx, safetensors(t16, 4000, 16, &r),
                   &(bad_file){"header length past the end", UG_ERR_FILE_TRUNCATED,
                               "header length 4000", NULL});
    expect_refused(ctx, safetensors("{\"a\":{\"dtype\":\"F32\",", 0, 16, &r),
                   &(bad_file){"JSON cut short", UG_ERR_FILE_FORMAT, "safetensors header",
                               NULL});
    expect_refused(ctx, safetensors("[1, 2]", 0, 0, &r),
                   &(bad_file){"header not an object", UG_ERR_FILE_FORMAT, "not a JSON object",
                               NULL});
    expect_refused(ctx,
                   safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                               0, 8, &r),
                   &(bad_file){"duplicate tensor name", UG_ERR_FILE_FORMAT, "duplicate", NULL});
    expect_refused(ctx,
                   safetensors("{\"a\":{\"dtype\":\"F17\",\"shape\":[4],\"data_offsets\":[0,16]}}",
                               0, 16, &r),
                   &(bad_file){"unknown dtype", UG_ERR_FILE_DTYPE, "F17", NULL});
    expect_refused(ctx,
                   safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[1000],"
                               "\"data_offsets\":[0,4000]}}",
                               0, 16, &r),
                   &(bad_file){"offsets past the end", UG_ERR_FILE_RANGE, "past the data", NULL});
    expect_refused(ctx,
                   safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}",
                               0, 16, &r),
                   &(bad_file){"offsets backwards", UG_ERR_FILE_RANGE, "backwards", NULL});
    expect_refused(ctx,
                   safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                               "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                               0, 24, &r),
                   &(bad_file){"overlapping tensors", UG_ERR_FILE_OVERLAP, "overlap", NULL});
    expect_refused(ctx,
                   safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
                               "\"data_offsets\":[0,16]}}",
                               0, 16, &r),
                   &(bad_file){"shape that overflows", UG_ERR_SIZE_OVERFLOW, "overflows", NULL});
    expect_refused(ctx,
                   safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}",
                               0, 16, &r),
                   &(bad_file){"shape disagreeing with its bytes", UG_ERR_FILE_SHAPE,
                               "make 12 bytes", NULL});
    expect_refused(ctx,
                   safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}",
                               0, 16, &r),
                   &(bad_file){"negative dimension", UG_ERR_FILE_SHAPE, "shape[0]", NULL});
    expect_refused(ctx,
                   safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,1.6e1]}}",
                               0, 16, &r),
                   &(bad_file){"offset not an integer", UG_ERR_FILE_FORMAT, "data_offsets[1]",
                               NULL});
    expect_refused(ctx,
                   safetensors("{\"__metadata__\":{\"format\":5},\"a\":{\"dtype\":\"F32\",\"shape\""
                               ":[4],\"data_offsets\":[0,16]}}",
                               0, 16, &r),
                   &(bad_file){"metadata value not a string", UG_ERR_FILE_FORMAT, "__metadata__",
                               NULL});

    /* A null __metadata__ (what MLX writes without metadata) is no metadata. */
    bytes null_meta = safetensors("{\"__metadata__\":null,\"a\":{\"dtype\":\"F32\",\"shape\":"
                                  "[4],\"data_offsets\":[0,16]}}",
                                  0, 16, &r);
    ug_checkpoint *ck = NULL;
    TU_CHECK(ug_checkpoint_open_memory(ctx, null_meta.p, null_meta.size, &ck) == UG_OK,
             "null __metadata__ refused: %s", ug_context_last_error(ctx));
    ug_checkpoint_close(ck);
    free(null_meta.p);

    /* Layers: open succeeds, import names the missing or wrong companion. */
    expect_refused(ctx,
                   safetensors("{\"l.weight\":{\"dtype\":\"U32\",\"shape\":[2,8],\"data_offsets\":"
                               "[0,64]},\"l.biases\":{\"dtype\":\"F16\",\"shape\":[2,4],"
                               "\"data_offsets\":[64,80]}}",
                               0, 80, &r),
                   &(bad_file){"MLX codes without scales", UG_ERR_MISSING_TENSOR, "l.scales",
                               "l"});
    expect_refused(ctx,
                   safetensors("{\"l.qweight\":{\"dtype\":\"I32\",\"shape\":[64,1],"
                               "\"data_offsets\":[0,256]},\"l.scales\":{\"dtype\":\"F16\","
                               "\"shape\":[2,8],\"data_offsets\":[256,288]}}",
                               0, 288, &r),
                   &(bad_file){"qweight without qzeros", UG_ERR_MISSING_TENSOR, "l.qzeros", "l"});
    expect_refused(ctx,
                   safetensors("{\"l.qweight\":{\"dtype\":\"F32\",\"shape\":[64,1],"
                               "\"data_offsets\":[0,256]},\"l.qzeros\":{\"dtype\":\"I32\","
                               "\"shape\":[2,1],\"data_offsets\":[256,264]},\"l.scales\":{\"dtype\":"
                               "\"F16\",\"shape\":[2,8],\"data_offsets\":[264,296]}}",
                               0, 296, &r),
                   &(bad_file){"qweight of the wrong type", UG_ERR_FILE_DTYPE, "qweight is F32",
                               "l.qweight"});
    expect_refused(ctx,
                   safetensors("{\"l.qweight\":{\"dtype\":\"I32\",\"shape\":[64,1],"
                               "\"data_offsets\":[0,256]},\"l.qzeros\":{\"dtype\":\"I32\","
                               "\"shape\":[3,1],\"data_offsets\":[256,268]},\"l.scales\":{\"dtype\":"
                               "\"F16\",\"shape\":[2,8],\"data_offsets\":[268,300]}}",
                               0, 300, &r),
                   &(bad_file){"companions of disagreeing shapes", UG_ERR_FILE_SHAPE,
                               "fit no known layout", "l"});
    expect_refused(ctx,
                   safetensors("{\"l.weight\":{\"dtype\":\"U32\",\"shape\":[2,8],\"data_offsets\":"
                               "[0,64]},\"l.scales\":{\"dtype\":\"I8\",\"shape\":[2,1],"
                               "\"data_offsets\":[64,66]},\"l.biases\":{\"dtype\":\"I8\",\"shape\":"
                               "[2,1],\"data_offsets\":[66,68]}}",
                               0, 68, &r),
                   &(bad_file){"scales of an integer type", UG_ERR_FILE_DTYPE, "l.scales", "l"});
    ug_context_destroy(ctx);
}

static void test_malformed_gguf(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    gguf_tensor ok = {"w", 2, {32, 2}, 0, 0}; /* F32 [2][32]: 256 bytes */

    expect_refused(ctx, gguf(1, 1, &ok, 1, 0, 256, &r),
                   &(bad_file){"version 1", UG_ERR_FILE_FORMAT, "version 1", NULL});
    expect_refused(ctx, gguf(0x03000000, 1, &ok, 1, 0, 256, &r),
                   &(bad_file){"byte-swapped version", UG_ERR_FILE_FORMAT, "big-endian", NULL});
    expect_refused(ctx, gguf(3, (uint64_t)1 << 40, &ok, 1, 0, 256, &r),
                   &(bad_file){"tensor count beyond the file", UG_ERR_FILE_TRUNCATED,
                               "tensor infos cannot fit", NULL});
    bytes cut = gguf(3, 0, NULL, 0, 0, 0, &r);
    cut.size = 40; /* inside the first key's bytes */
    expect_refused(ctx, cut,
                   &(bad_file){"file cut inside a key", UG_ERR_FILE_TRUNCATED, "a key", NULL});
    bytes badkv = {0};
    put(&badkv, "GGUF", 4);
    put_u32(&badkv, 3);
    put_u64(&badkv, 0);
    put_u64(&badkv, 1);
    put_str(&badkv, "x");
    put_u32(&badkv, 99);
    put_u64(&badkv, 0);
    expect_refused(ctx, badkv,
                   &(bad_file){"unknown value type", UG_ERR_FILE_FORMAT, "value type 99", NULL});
    bytes nested = {0};
    put(&nested, "GGUF", 4);
    put_u32(&nested, 3);
    put_u64(&nested, 0);
    put_u64(&nested, 1);
    put_str(&nested, "x");
    put_u32(&nested, 9);
    put_u32(&nested, 9);
    put_u64(&nested, 1);
    put_u64(&nested, 0);
    expect_refused(ctx, nested,
                   &(bad_file){"array of arrays", UG_ERR_FILE_FORMAT, "array of arrays", NULL});
    bytes longstr = {0};
    put(&longstr, "GGUF", 4);
    put_u32(&longstr, 3);
    put_u64(&longstr, 0);
    put_u64(&longstr, 1);
    put_u64(&longstr, (uint64_t)1 << 62);
    put(&longstr, "abcdefgh", 8);
    expect_refused(ctx, longstr,
                   &(bad_file){"string length past the end", UG_ERR_FILE_TRUNCATED, "a key",
                               NULL});
    expect_refused(ctx, gguf(3, 1, &ok, 1, 48, 256, &r),
                   &(bad_file){"alignment not a power of two", UG_ERR_FILE_FORMAT, "alignment 48",
                               NULL});
    expect_refused(ctx, gguf(3, 1, &(gguf_tensor){"w", 2, {32, 2}, 77, 0}, 1, 0, 256, &r),
                   &(bad_file){"unknown ggml type", UG_ERR_FILE_DTYPE, "ggml type 77", NULL});
    expect_refused(ctx, gguf(3, 1, &(gguf_tensor){"w", 2, {32, 2}, 0, 4096}, 1, 0, 256, &r),
                   &(bad_file){"offset past the end", UG_ERR_FILE_RANGE, "'w'", NULL});
    expect_refused(ctx, gguf(3, 1, &(gguf_tensor){"w", 2, {32, 2}, 0, 8}, 1, 0, 512, &r),
                   &(bad_file){"offset not aligned", UG_ERR_FILE_FORMAT, "alignment 32", NULL});
    gguf_tensor two[2] = {{"a", 2, {32, 2}, 0, 0}, {"b", 2, {32, 2}, 0, 128}};
    expect_refused(ctx, gguf(3, 2, two, 2, 0, 512, &r),
                   &(bad_file){"overlapping tensors", UG_ERR_FILE_OVERLAP, "overlap", NULL});
    gguf_tensor same[2] = {{"a", 1, {32}, 0, 0}, {"a", 1, {32}, 0, 128}};
    expect_refused(ctx, gguf(3, 2, same, 2, 0, 512, &r),
                   &(bad_file){"duplicate tensor name", UG_ERR_FILE_FORMAT, "twice", NULL});
    expect_refused(ctx,
                   gguf(3, 1, &(gguf_tensor){"w", 2, {(uint64_t)1 << 40, (uint64_t)1 << 40}, 0, 0},
                        1, 0, 256, &r),
                   &(bad_file){"shape that overflows", UG_ERR_SIZE_OVERFLOW, "overflows", NULL});
    expect_refused(ctx,
                   gguf(3, 1, &(gguf_tensor){"w", 5, {1, 1, 1, 1, 1}, 0, 0}, 1, 0, 256, &r),
                   &(bad_file){"five dimensions", UG_ERR_FILE_SHAPE, "n_dims 5", NULL});
    expect_refused(ctx, gguf(3, 1, &(gguf_tensor){"w", 2, {33, 2}, 2, 0}, 1, 0, 256, &r),
                   &(bad_file){"row not a whole number of blocks", UG_ERR_FILE_SHAPE,
                               "blocks of 32", NULL});
    /* A quantized type that is read but not imported. */
    expect_refused(ctx, gguf(3, 1, &(gguf_tensor){"w", 2, {256, 2}, 14, 0}, 1, 0, 420, &r),
                   &(bad_file){"GGUF Q6_K layer", UG_ERR_UNSUPPORTED, "Q6_K", "w"});
    ug_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_safetensors),
        cmocka_unit_test(test_malformed_gguf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
