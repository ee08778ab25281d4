/*
 * ckpt_writer.c - test support: canonical weights (codes [N][K], scales,
 * biases and zeros [N][K/G]) written out as MLX, AutoAWQ (GEMM and GEMV),
 * AutoGPTQ/GPTQModel and llama.cpp (Q4_0, Q4_1, Q8_0, Q4_K) tensors, and
 * tensors written out as safetensors and GGUF v3 file images. The layouts
 * come from each project's own code (see ckpt_writer.h and
 * ../../shared/FORMATS.md); nothing here is shared with the importers.
 * Every multi-byte value that lands in a file is written byte by byte,
 * little-endian.
 */
#include "ckpt_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* A growing byte buffer; after a failed allocation every put is ignored and */
/* `bad` stays set.                                                           */
/* ------------------------------------------------------------------------ */

typedef struct tw_buf {
    uint8_t *p;
    size_t len, cap;
    int bad;
} tw_buf;

static int buf_reserve(tw_buf *b, size_t extra)
{
    if (b->bad)
        return 1;
    if (extra > SIZE_MAX - b->len) {
        b->bad = 1;
        return 1;
    }
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) {
        b->bad = 1;
        return 1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void put_bytes(tw_buf *b, const void *src, size_t n)
{
    if (n == 0 || buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_zeros(tw_buf *b, size_t n)
{
    if (n == 0 || buf_reserve(b, n))
        return;
    memset(b->p + b->len, 0, n);
    b->len += n;
}

static void put_le(tw_buf *b, uint64_t v, int nbytes)
{
    uint8_t tmp[8];
    for (int i = 0; i < nbytes; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    put_bytes(b, tmp, (size_t)nbytes);
}

static void put_text(tw_buf *b, const char *s)
{
    put_bytes(b, s, strlen(s));
}

static void put_i64_text(tw_buf *b, int64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    put_text(b, tmp);
}

/* s as a JSON string literal: quotes, backslashes and control characters escaped. */
static void put_json_string(tw_buf *b, const char *s)
{
    put_text(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char esc[2] = {'\\', (char)*c};
            put_bytes(b, esc, 2);
        } else if (*c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", *c);
            put_text(b, esc);
        } else {
            put_bytes(b, c, 1);
        }
    }
    put_text(b, "\"");
}

static int host_is_big_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 0;
}

/* bytes of host-order elements of `elem` bytes each, stored little-endian. */
static void put_elements(tw_buf *b, const void *data, size_t bytes, size_t elem)
{
    if (elem <= 1 || !host_is_big_endian()) {
        put_bytes(b, data, bytes);
        return;
    }
    if (buf_reserve(b, bytes))
        return;
    const uint8_t *s = data;
    for (size_t i = 0; i + elem <= bytes; i += elem)
        for (size_t j = 0; j < elem; j++)
            b->p[b->len + i + j] = s[i + elem - 1 - j];
    b->len += bytes;
}

/* a * b into *out, 1 on overflow. */
static int mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 1;
    *out = a * b;
    return 0;
}

static int tensor_names_distinct(const tw_tensor *t, int count)
{
    for (int i = 0; i < count; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(t[i].name, t[j].name) == 0)
                return 0;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* safetensors                                                                */
/* ------------------------------------------------------------------------ */

static size_t safetensors_dtype_size(const char *dtype)
{
    static const struct {
        const char *name;
        size_t size;
    } table[] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1},
                 {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
                 {"U32", 4},  {"F32", 4}, {"I64", 8}, {"U64", 8},     {"F64", 8}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(dtype, table[i].name) == 0)
            return table[i].size;
    return 0;
}

/* The members of a JSON object text, without its braces and surrounding
 * blanks: [*begin, *end). 1 when the text is not braced. */
static int json_object_members(const char *text, const char **begin, const char **end)
{
    const char *s = text, *e = text + strlen(text);
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        e--;
    if (e - s < 2 || *s != '{' || e[-1] != '}')
        return 1;
    s++;
    e--;
    while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        e--;
    *begin = s;
    *end = e;
    return 0;
}

uint8_t *tw_safetensors_image(const tw_tensor *t, int count, const char *metadata_json,
                              size_t *size)
{
    if (size == NULL)
        return NULL;
    *size = 0;
    if (count < 0 || (count > 0 && t == NULL))
        return NULL;
    const char *meta_begin = NULL, *meta_end = NULL;
    if (metadata_json != NULL && json_object_members(metadata_json, &meta_begin, &meta_end))
        return NULL;

    /* check every tensor: known dtype, shape x dtype size == bytes */
    size_t data_bytes = 0;
    for (int i = 0; i < count; i++) {
        size_t esize = t[i].dtype ? safetensors_dtype_size(t[i].dtype) : 0;
        if (t[i].name == NULL || esize == 0 || t[i].ndim < 0 || t[i].ndim > 4 ||
            (t[i].bytes > 0 && t[i].data == NULL))
            return NULL;
        size_t bytes = esize;
        for (int d = 0; d < t[i].ndim; d++)
            if (t[i].shape[d] < 0 || mul_size(bytes, (size_t)t[i].shape[d], &bytes))
                return NULL;
        if (bytes != t[i].bytes || t[i].bytes > SIZE_MAX - data_bytes)
            return NULL;
        data_bytes += t[i].bytes;
    }
    if (!tensor_names_distinct(t, count))
        return NULL;

    /* header: {"__metadata__":{...},"name":{"dtype":..,"shape":[..],"data_offsets":[b,e]},..} */
    tw_buf h = {0};
    put_text(&h, "{\"__metadata__\":{\"format\":\"pt\"");
    if (meta_begin != NULL && meta_begin < meta_end) {
        put_text(&h, ",");
        put_bytes(&h, meta_begin, (size_t)(meta_end - meta_begin));
    }
    put_text(&h, "}");
    size_t offset = 0;
    for (int i = 0; i < count; i++) {
        put_text(&h, ",");
        put_json_string(&h, t[i].name);
        put_text(&h, ":{\"dtype\":");
        put_json_string(&h, t[i].dtype);
        put_text(&h, ",\"shape\":[");
        for (int d = 0; d < t[i].ndim; d++) {
            if (d > 0)
                put_text(&h, ",");
            put_i64_text(&h, t[i].shape[d]);
        }
        put_text(&h, "],\"data_offsets\":[");
        put_i64_text(&h, (int64_t)offset);
        put_text(&h, ",");
        put_i64_text(&h, (int64_t)(offset + t[i].bytes));
        put_text(&h, "]}");
        offset += t[i].bytes;
    }
    put_text(&h, "}");
    while (!h.bad && h.len % 8 != 0)
        put_text(&h, " ");

    tw_buf f = {0};
    put_le(&f, (uint64_t)h.len, 8);
    put_bytes(&f, h.p, h.len);
    for (int i = 0; i < count; i++)
        put_elements(&f, t[i].data, t[i].bytes, safetensors_dtype_size(t[i].dtype));
    int bad = h.bad || f.bad;
    free(h.p);
    if (bad) {
        free(f.p);
        return NULL;
    }
    *size = f.len;
    return f.p;
}

/* ------------------------------------------------------------------------ */
/* GGUF v3                                                                    */
/* ------------------------------------------------------------------------ */

enum { GGUF_UINT32 = 4, GGUF_STRING = 8, GGUF_ARRAY = 9 };
#define GGUF_MAX_NAME 64 /* GGML_MAX_NAME, NUL included */

/* Values per block and bytes per block of a ggml type (ggml.c type traits);
 * 0 when the type is not one a file may hold here. */
static int ggml_type_layout(uint32_t type, int64_t *block, size_t *block_bytes)
{
    static const struct {
        uint32_t type;
        int64_t block;
        size_t bytes;
    } table[] = {
        {0, 1, 4},      /* F32 */
        {1, 1, 2},      /* F16 */
        {2, 32, 18},    /* Q4_0 */
        {3, 32, 20},    /* Q4_1 */
        {6, 32, 22},    /* Q5_0 */
        {7, 32, 24},    /* Q5_1 */
        {8, 32, 34},    /* Q8_0 */
        {10, 256, 84},  /* Q2_K */
        {11, 256, 110}, /* Q3_K */
        {12, 256, 144}, /* Q4_K */
        {13, 256, 176}, /* Q5_K */
        {14, 256, 210}, /* Q6_K */
        {24, 1, 1},     /* I8 */
        {25, 1, 2},     /* I16 */
        {26, 1, 4},     /* I32 */
        {27, 1, 8},     /* I64 */
        {28, 1, 8},     /* F64 */
        {30, 1, 2},     /* BF16 */
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].type == type) {
            *block = table[i].block;
            *block_bytes = table[i].bytes;
            return 1;
        }
    return 0;
}

static void put_gguf_string(tw_buf *b, const char *s)
{
    size_t n = strlen(s);
    put_le(b, (uint64_t)n, 8);
    put_bytes(b, s, n);
}

static size_t pad_to(size_t x, size_t alignment)
{
    return (alignment - x % alignment) % alignment;
}

uint8_t *tw_gguf_image(const tw_tensor *t, int count, uint32_t alignment, size_t *size)
{
    if (size == NULL)
        return NULL;
    *size = 0;
    if (count < 0 || (count > 0 && t == NULL) || alignment == 0 ||
        (alignment & (alignment - 1)) != 0)
        return NULL;
    for (int i = 0; i < count; i++) {
        int64_t block;
        size_t block_bytes;
        if (t[i].name == NULL || strlen(t[i].name) >= GGUF_MAX_NAME || t[i].ndim < 1 ||
            t[i].ndim > 4 || !ggml_type_layout(t[i].ggml_type, &block, &block_bytes) ||
            (t[i].bytes > 0 && t[i].data == NULL))
            return NULL;
        /* rows run along the innermost dimension, in whole blocks */
        size_t blocks = 1;
        for (int d = 0; d < t[i].ndim; d++)
            if (t[i].shape[d] < 0)
                return NULL;
        if (t[i].shape[t[i].ndim - 1] % block != 0)
            return NULL;
        for (int d = 0; d < t[i].ndim; d++) {
            int64_t e = d == t[i].ndim - 1 ? t[i].shape[d] / block : t[i].shape[d];
            if (mul_size(blocks, (size_t)e, &blocks))
                return NULL;
        }
        size_t bytes;
        if (mul_size(blocks, block_bytes, &bytes) || bytes != t[i].bytes)
            return NULL;
    }
    if (!tensor_names_distinct(t, count))
        return NULL;

    tw_buf f = {0};
    put_bytes(&f, "GGUF", 4);
    put_le(&f, 3, 4);
    put_le(&f, (uint64_t)count, 8);
    put_le(&f, 3, 8); /* KV pairs */

    put_gguf_string(&f, "general.architecture");
    put_le(&f, GGUF_STRING, 4);
    put_gguf_string(&f, "llama");

    put_gguf_string(&f, "general.alignment");
    put_le(&f, GGUF_UINT32, 4);
    put_le(&f, alignment, 4);

    put_gguf_string(&f, "tw.test.sequence");
    put_le(&f, GGUF_ARRAY, 4);
    put_le(&f, GGUF_UINT32, 4);
    put_le(&f, 3, 8);
    for (uint32_t v = 1; v <= 3; v++)
        put_le(&f, v, 4);

    /* tensor infos; offsets relative to the data section, each padded */
    size_t offset = 0;
    for (int i = 0; i < count; i++) {
        put_gguf_string(&f, t[i].name);
        put_le(&f, (uint64_t)t[i].ndim, 4);
        for (int d = t[i].ndim - 1; d >= 0; d--)
            put_le(&f, (uint64_t)t[i].shape[d], 8);
        put_le(&f, t[i].ggml_type, 4);
        put_le(&f, (uint64_t)offset, 8);
        size_t padded = t[i].bytes + pad_to(t[i].bytes, alignment);
        if (padded < t[i].bytes || padded > SIZE_MAX - offset) {
            free(f.p);
            return NULL;
        }
        offset += padded;
    }
    put_zeros(&f, pad_to(f.len, alignment));
    for (int i = 0; i < count; i++) {
        int64_t block;
        size_t block_bytes;
        ggml_type_layout(t[i].ggml_type, &block, &block_bytes);
        put_elements(&f, t[i].data, t[i].bytes, block == 1 ? block_bytes : 1);
        put_zeros(&f, pad_to(t[i].bytes, alignment));
    }
    if (f.bad) {
        free(f.p);
        return NULL;
    }
    *size = f.len;
    return f.p;
}

int tw_write_file(const char *path, const uint8_t *bytes, size_t size)
{
    if (path == NULL || (size > 0 && bytes == NULL))
        return 1;
    FILE *fp = fopen(path, "wb");
    if (fp == NULL)
        return 1;
    int bad = size > 0 && fwrite(bytes, 1, size, fp) != size;
    if (fclose(fp) != 0)
        bad = 1;
    return bad;
}

/* ------------------------------------------------------------------------ */
/* Reading the canonical source                                               */
/* ------------------------------------------------------------------------ */

/* Dimensions these test writers take: positive, and small enough that no
 * index or size below overflows. */
static int dims_ok(int64_t n, int64_t k)
{
    const int64_t limit = (int64_t)1 << 31;
    return n > 0 && k > 0 && n <= limit && k <= limit && n * k <= ((int64_t)1 << 40);
}

/* The group size G of a source (K for per-channel), or 0 when it does not
 * divide K. */
static int64_t group_of(const ug_weight_source *s)
{
    int64_t g = s->format.group_size == UG_GROUP_PER_CHANNEL ? s->k : s->format.group_size;
    if (g <= 0 || s->k % g != 0)
        return 0;
    return g;
}

/* Code [n][k] of 4- or 8-bit canonical codes, as the stored bits (0..15 or 0..255). */
static unsigned code_at(const ug_weight_source *s, int64_t n, int64_t k)
{
    const uint8_t *c = s->codes;
    if (s->format.storage == UG_U4 || s->format.storage == UG_I4) {
        uint8_t byte = c[(n * s->k + k) / 2];
        return (k & 1) ? (unsigned)(byte >> 4) : (unsigned)(byte & 0xF);
    }
    return c[n * s->k + k];
}

/* A quantized source of the given storage, method(s) and scale type, with
 * the arrays the method needs, valid dimensions and a dividing group. */
static int source_ok(const ug_weight_source *s, ug_dtype storage, ug_method m1, ug_method m2,
                     ug_dtype scale_type)
{
    if (s == NULL || s->codes == NULL || s->format.storage != storage ||
        (s->format.method != m1 && s->format.method != m2) || s->format.scale_type != scale_type ||
        s->scales == NULL || !dims_ok(s->n, s->k) || group_of(s) == 0)
        return 0;
    if (s->format.method == UG_METHOD_SCALE_ZERO && s->zeros == NULL)
        return 0;
    if (s->format.method == UG_METHOD_SCALE_BIAS && s->biases == NULL)
        return 0;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* MLX affine                                                                 */
/* ------------------------------------------------------------------------ */

int tw_mlx_pack(const ug_weight_source *src, int bits, uint32_t **weight, int64_t *cols)
{
    if (weight == NULL || cols == NULL)
        return 1;
    *weight = NULL;
    *cols = 0;
    if (src == NULL || src->codes == NULL || !dims_ok(src->n, src->k))
        return 1;
    if (bits != 2 && bits != 3 && bits != 4 && bits != 5 && bits != 6 && bits != 8)
        return 1;
    if (!(src->format.storage == UG_U8 || (src->format.storage == UG_U4 && bits <= 4)))
        return 1;
    if (src->k % 2 != 0 || (src->k * bits) % 32 != 0)
        return 1;
    int64_t n = src->n, k = src->k, wc = k * bits / 32;
    uint32_t *w = calloc((size_t)(n * wc), sizeof *w);
    if (w == NULL)
        return 1;
    /* row r is one bit stream: code k at bit k*bits, words low bits first */
    for (int64_t r = 0; r < n; r++) {
        uint32_t *row = w + r * wc;
        for (int64_t j = 0; j < k; j++) {
            uint32_t q = code_at(src, r, j);
            if (q >> bits) {
                free(w);
                return 1;
            }
            int64_t bit = j * bits;
            int64_t word = bit / 32;
            int off = (int)(bit % 32);
            row[word] |= q << off;
            if (off + bits > 32)
                row[word + 1] |= q >> (32 - off);
        }
    }
    *weight = w;
    *cols = wc;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* AutoAWQ                                                                    */
/* ------------------------------------------------------------------------ */

/* WQLinear_GEMM packs column 8c + awq_order[i] into nibble i of word c. */
static const int awq_order[8] = {0, 2, 4, 6, 1, 3, 5, 7};

static int awq_source_ok(const ug_weight_source *s)
{
    if (!source_ok(s, UG_U4, UG_METHOD_SCALE_ZERO, UG_METHOD_SCALE_ZERO, UG_F16) || s->n % 8 != 0)
        return 0;
    const uint8_t *z = s->zeros;
    size_t count = (size_t)(s->n * (s->k / group_of(s)));
    for (size_t i = 0; i < count; i++)
        if (z[i] > 15)
            return 0;
    return 1;
}

int tw_awq_gemm_pack(const ug_weight_source *src, int32_t **qweight, int32_t **qzeros,
                     uint16_t **scales)
{
    if (qweight == NULL || qzeros == NULL || scales == NULL)
        return 1;
    *qweight = *qzeros = NULL;
    *scales = NULL;
    if (!awq_source_ok(src))
        return 1;
    int64_t n = src->n, k = src->k, ng = k / group_of(src), wc = n / 8;
    uint32_t *qw = malloc((size_t)(k * wc) * sizeof *qw);
    uint32_t *qz = malloc((size_t)(ng * wc) * sizeof *qz);
    uint16_t *sc = malloc((size_t)(ng * n) * sizeof *sc);
    if (qw == NULL || qz == NULL || sc == NULL) {
        free(qw);
        free(qz);
        free(sc);
        return 1;
    }
    const uint8_t *zeros = src->zeros;
    const uint16_t *scales_in = src->scales;
    /* qweight [K][N/8] */
    for (int64_t j = 0; j < k; j++)
        for (int64_t c = 0; c < wc; c++) {
            uint32_t word = 0;
            for (int i = 0; i < 8; i++)
                word |= (uint32_t)code_at(src, 8 * c + awq_order[i], j) << (4 * i);
            qw[j * wc + c] = word;
        }
    /* qzeros [K/G][N/8], scales [K/G][N]: the canonical [N][K/G] transposed */
    for (int64_t g = 0; g < ng; g++) {
        for (int64_t c = 0; c < wc; c++) {
            uint32_t word = 0;
            for (int i = 0; i < 8; i++)
                word |= (uint32_t)zeros[(8 * c + awq_order[i]) * ng + g] << (4 * i);
            qz[g * wc + c] = word;
        }
        for (int64_t r = 0; r < n; r++)
            sc[g * n + r] = scales_in[r * ng + g];
    }
    *qweight = (int32_t *)qw;
    *qzeros = (int32_t *)qz;
    *scales = sc;
    return 0;
}

/* WQLinear_GEMV's width of qzeros: the groups packed eight to a word, the
 * word count rounded up to 1, 2 or 4 (G >= 128, 64, 32); 0 for other G. */
static int64_t awq_gemv_zeros_width(int64_t k, int64_t g)
{
    int64_t multiple = g >= 128 ? 1 : g == 64 ? 2 : g == 32 ? 4 : 0;
    if (multiple == 0)
        return 0;
    int64_t words = (k / g + 7) / 8;
    return (words + multiple - 1) / multiple * multiple;
}

int tw_awq_gemv_pack(const ug_weight_source *src, int32_t **qweight, int32_t **qzeros,
                     int64_t *zeros_width, uint16_t **scales, int64_t *scales_width)
{
    if (qweight == NULL || qzeros == NULL || zeros_width == NULL || scales == NULL ||
        scales_width == NULL)
        return 1;
    *qweight = *qzeros = NULL;
    *scales = NULL;
    *zeros_width = *scales_width = 0;
    if (!awq_source_ok(src) || src->k % 8 != 0)
        return 1;
    int64_t n = src->n, k = src->k, g = group_of(src), ng = k / g;
    int64_t zw = awq_gemv_zeros_width(k, g), sw = zw * 8, wc = k / 8;
    if (zw == 0)
        return 1;
    uint32_t *qw = malloc((size_t)(n * wc) * sizeof *qw);
    uint32_t *qz = calloc((size_t)(n * zw), sizeof *qz);
    uint16_t *sc = calloc((size_t)(n * sw), sizeof *sc);
    if (qw == NULL || qz == NULL || sc == NULL) {
        free(qw);
        free(qz);
        free(sc);
        return 1;
    }
    const uint8_t *zeros = src->zeros;
    const uint16_t *scales_in = src->scales;
    for (int64_t r = 0; r < n; r++) {
        /* qweight [N][K/8], along k in plain order */
        for (int64_t c = 0; c < wc; c++) {
            uint32_t word = 0;
            for (int i = 0; i < 8; i++)
                word |= (uint32_t)code_at(src, r, 8 * c + i) << (4 * i);
            qw[r * wc + c] = word;
        }
        /* qzeros [N][zw] and scales [N][zw*8]: groups in order, then zeros */
        for (int64_t j = 0; j < ng; j++) {
            qz[r * zw + j / 8] |= (uint32_t)zeros[r * ng + j] << (4 * (j % 8));
            sc[r * sw + j] = scales_in[r * ng + j];
        }
    }
    *qweight = (int32_t *)qw;
    *qzeros = (int32_t *)qz;
    *zeros_width = zw;
    *scales = sc;
    *scales_width = sw;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* GPTQ (AutoGPTQ v1, GPTQModel v2)                                            */
/* ------------------------------------------------------------------------ */

int tw_gptq_pack(const ug_weight_source *src, int bits, int version, const int32_t *k_perm,
                 int32_t **qweight, int32_t **qzeros, uint16_t **scales, int32_t **g_idx)
{
    if (qweight == NULL || qzeros == NULL || scales == NULL || g_idx == NULL)
        return 1;
    *qweight = *qzeros = *g_idx = NULL;
    *scales = NULL;
    if ((version != 1 && version != 2) || (bits != 2 && bits != 4 && bits != 8))
        return 1;
    ug_dtype storage = bits == 8 ? UG_U8 : UG_U4;
    ug_method other = bits == 2 ? UG_METHOD_SCALE_ZERO : UG_METHOD_SYMMETRIC;
    if (!source_ok(src, storage, UG_METHOD_SCALE_ZERO, other, UG_F16))
        return 1;
    int64_t n = src->n, k = src->k, g = group_of(src), ng = k / g;
    if ((k * bits) % 32 != 0 || (n * bits) % 32 != 0)
        return 1;
    const uint32_t mask = (1u << bits) - 1;
    const int per_word = 32 / bits;
    const int sym = src->format.method == UG_METHOD_SYMMETRIC;
    const uint8_t *zeros = src->zeros;
    const uint16_t *scales_in = src->scales;

    /* codes and zeros must fit the field (only 2 bits can be short of them) */
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < k; j++)
            if (code_at(src, r, j) > mask)
                return 1;
    if (!sym)
        for (int64_t i = 0; i < n * ng; i++)
            if (zeros[i] > mask)
                return 1;

    /* file column of each canonical column: k_perm, checked to be a permutation */
    int32_t *file_col = malloc((size_t)k * sizeof *file_col);
    int32_t *canon_col = malloc((size_t)k * sizeof *canon_col);
    uint32_t *qw = calloc((size_t)(k / per_word * n), sizeof *qw);
    uint32_t *qz = calloc((size_t)(ng * (n / per_word)), sizeof *qz);
    uint16_t *sc = malloc((size_t)(ng * n) * sizeof *sc);
    int32_t *gi = malloc((size_t)k * sizeof *gi);
    int bad = file_col == NULL || canon_col == NULL || qw == NULL || qz == NULL || sc == NULL ||
              gi == NULL;
    if (!bad) {
        for (int64_t j = 0; j < k; j++)
            canon_col[j] = -1;
        for (int64_t j = 0; j < k && !bad; j++) {
            int32_t f = k_perm ? k_perm[j] : (int32_t)j;
            if (f < 0 || f >= k || canon_col[f] != -1)
                bad = 1;
            else {
                file_col[j] = f;
                canon_col[f] = (int32_t)j;
            }
        }
    }
    if (bad) {
        free(file_col);
        free(canon_col);
        free(qw);
        free(qz);
        free(sc);
        free(gi);
        return 1;
    }
    /* g_idx of a file column: the group of the canonical column it holds */
    for (int64_t j = 0; j < k; j++)
        gi[file_col[j]] = (int32_t)(j / g);
    /* qweight [K*bits/32][N]: file column kf sits in row kf/per_word */
    for (int64_t kf = 0; kf < k; kf++) {
        int64_t row = kf / per_word;
        int shift = (int)(kf % per_word) * bits;
        for (int64_t r = 0; r < n; r++)
            qw[row * n + r] |= (uint32_t)code_at(src, r, canon_col[kf]) << shift;
    }
    /* scales [K/G][N], qzeros [K/G][N*bits/32] packed along n */
    int64_t zc = n / per_word;
    for (int64_t j = 0; j < ng; j++)
        for (int64_t r = 0; r < n; r++) {
            sc[j * n + r] = scales_in[r * ng + j];
            uint32_t z = sym ? 1u << (bits - 1) : zeros[r * ng + j];
            uint32_t stored = version == 1 ? (z - 1) & mask : z;
            qz[j * zc + r / per_word] |= stored << ((int)(r % per_word) * bits);
        }
    free(file_col);
    free(canon_col);
    *qweight = (int32_t *)qw;
    *qzeros = (int32_t *)qz;
    *scales = sc;
    *g_idx = gi;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* GGUF blocks                                                                */
/* ------------------------------------------------------------------------ */

/* Shared checks and allocation of rows of 32-value blocks of block_bytes. */
static uint8_t *gguf_blocks_alloc(const ug_weight_source *src, size_t block_bytes, size_t *bytes)
{
    if (group_of(src) != 32)
        return NULL;
    size_t count = (size_t)(src->n * (src->k / 32)) * block_bytes;
    uint8_t *b = malloc(count);
    if (b != NULL)
        *bytes = count;
    return b;
}

static void put_f16_le(uint8_t *p, uint16_t h)
{
    p[0] = (uint8_t)(h & 0xFF);
    p[1] = (uint8_t)(h >> 8);
}

/* 16 bytes of nibbles of one 32-value block: value j low, value j+16 high. */
static void put_q4_nibbles(uint8_t *qs, const ug_weight_source *src, int64_t r, int64_t k0)
{
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)(code_at(src, r, k0 + j) | (code_at(src, r, k0 + j + 16) << 4));
}

int tw_gguf_q4_0(const ug_weight_source *src, uint8_t **blocks, size_t *bytes)
{
    if (blocks == NULL || bytes == NULL)
        return 1;
    *blocks = NULL;
    *bytes = 0;
    if (!source_ok(src, UG_U4, UG_METHOD_SYMMETRIC, UG_METHOD_SYMMETRIC, UG_F16))
        return 1;
    uint8_t *b = gguf_blocks_alloc(src, 18, bytes);
    if (b == NULL)
        return 1;
    const uint16_t *d = src->scales;
    int64_t nb = src->k / 32;
    for (int64_t r = 0; r < src->n; r++)
        for (int64_t i = 0; i < nb; i++) {
            uint8_t *blk = b + (r * nb + i) * 18;
            put_f16_le(blk, d[r * nb + i]);
            put_q4_nibbles(blk + 2, src, r, 32 * i);
        }
    *blocks = b;
    return 0;
}

int tw_gguf_q8_0(const ug_weight_source *src, uint8_t **blocks, size_t *bytes)
{
    if (blocks == NULL || bytes == NULL)
        return 1;
    *blocks = NULL;
    *bytes = 0;
    if (!source_ok(src, UG_I8, UG_METHOD_SYMMETRIC, UG_METHOD_SYMMETRIC, UG_F16))
        return 1;
    uint8_t *b = gguf_blocks_alloc(src, 34, bytes);
    if (b == NULL)
        return 1;
    const uint16_t *d = src->scales;
    const uint8_t *codes = src->codes;
    int64_t nb = src->k / 32;
    for (int64_t r = 0; r < src->n; r++)
        for (int64_t i = 0; i < nb; i++) {
            uint8_t *blk = b + (r * nb + i) * 34;
            put_f16_le(blk, d[r * nb + i]);
            memcpy(blk + 2, codes + r * src->k + 32 * i, 32);
        }
    *blocks = b;
    return 0;
}

int tw_gguf_q4_1(const ug_weight_source *src, uint8_t **blocks, size_t *bytes)
{
    if (blocks == NULL || bytes == NULL)
        return 1;
    *blocks = NULL;
    *bytes = 0;
    if (!source_ok(src, UG_U4, UG_METHOD_SCALE_BIAS, UG_METHOD_SCALE_BIAS, UG_F16))
        return 1;
    uint8_t *b = gguf_blocks_alloc(src, 20, bytes);
    if (b == NULL)
        return 1;
    const uint16_t *d = src->scales, *m = src->biases;
    int64_t nb = src->k / 32;
    for (int64_t r = 0; r < src->n; r++)
        for (int64_t i = 0; i < nb; i++) {
            uint8_t *blk = b + (r * nb + i) * 20;
            put_f16_le(blk, d[r * nb + i]);
            put_f16_le(blk + 2, m[r * nb + i]);
            put_q4_nibbles(blk + 4, src, r, 32 * i);
        }
    *blocks = b;
    return 0;
}

int tw_gguf_q4_k(int64_t n, int64_t k, const uint8_t *codes, const uint16_t *d,
                 const uint16_t *dmin, const uint8_t *sc, const uint8_t *m, uint8_t **blocks,
                 size_t *bytes)
{
    if (blocks == NULL || bytes == NULL)
        return 1;
    *blocks = NULL;
    *bytes = 0;
    if (!dims_ok(n, k) || k % 256 != 0 || codes == NULL || d == NULL || dmin == NULL ||
        sc == NULL || m == NULL)
        return 1;
    int64_t nb = k / 256, nsub = k / 32;
    for (int64_t i = 0; i < n * nsub; i++)
        if (sc[i] > 63 || m[i] > 63)
            return 1;
    size_t count = (size_t)(n * nb) * 144;
    uint8_t *b = malloc(count);
    if (b == NULL)
        return 1;
    for (int64_t r = 0; r < n; r++)
        for (int64_t i = 0; i < nb; i++) {
            uint8_t *blk = b + (r * nb + i) * 144;
            const uint8_t *ls = sc + r * nsub + 8 * i, *lm = m + r * nsub + 8 * i;
            put_f16_le(blk, d[r * nb + i]);
            put_f16_le(blk + 2, dmin[r * nb + i]);
            /* 12 bytes of 6-bit scales and mins */
            uint8_t *s = blk + 4;
            memset(s, 0, 12);
            for (int j = 0; j < 8; j++) {
                if (j < 4) {
                    s[j] = ls[j];
                    s[j + 4] = lm[j];
                } else {
                    s[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
                    s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
                    s[j] |= (uint8_t)((lm[j] >> 4) << 6);
                }
            }
            /* 128 bytes: 64 values per 32 bytes, the first 32 in the low nibbles */
            uint8_t *qs = blk + 16;
            const uint8_t *row = codes + (r * k + 256 * i) / 2;
            for (int c = 0; c < 4; c++)
                for (int l = 0; l < 32; l++) {
                    int lo = 64 * c + l, hi = lo + 32;
                    uint8_t qlo = (uint8_t)((row[lo / 2] >> (4 * (lo & 1))) & 0xF);
                    uint8_t qhi = (uint8_t)((row[hi / 2] >> (4 * (hi & 1))) & 0xF);
                    qs[32 * c + l] = (uint8_t)(qlo | (qhi << 4));
                }
        }
    *blocks = b;
    *bytes = count;
    return 0;
}
