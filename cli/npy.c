/*
 * npy.c - read and write NumPy .npy files of one float32 matrix [rows][cols]
 * (policies in npy.h). A file is: the 6-byte magic "\x93NUMPY", major and
 * minor version bytes, the header length (u16 little-endian in version 1.0,
 * u32 in 2.0 and 3.0), the header (a Python dict literal, latin-1 text in
 * 1.0/2.0, utf-8 in 3.0: only ASCII is accepted outside strings here), then
 * the data. Every count and length read from the file is checked against
 * the bytes that are there before it is used; nothing is allocated from a
 * size the file states until the file is known to hold that many bytes
 * (a pipe's data excepted: it is read into a buffer of the stated size).
 */
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_DIMS 64           /* numpy 2's NPY_MAXDIMS */
#define NPY_MAX_HEADER (1u << 20) /* numpy writes ~120 bytes; np.load stops at 10000 */
#define NPY_ALIGN 64              /* np.save's data alignment */
#define NPY_GROWTH_DIGITS 21      /* np.save leaves room for shape[0] to grow to this */
#define NPY_SHOWN_DIMS 8          /* shape entries shown in a message */
#define NPY_SHOWN_CHARS 40        /* string characters shown in a message */

/* What the preamble and header say. */
typedef struct npy_header {
    size_t data_offset; /* preamble + header bytes */
    int64_t rows, cols; /* the matrix the shape reads as */
    char shape[96];     /* the shape as the header gives it, for messages */
    bool fortran;       /* data stored column-major */
    bool big_endian;    /* descr '>f4' */
} npy_header;

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t err_size, const char *fmt,
                                                      ...)
{
    if (err != NULL && err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* s[0 .. len) for a message: printable ASCII as is, quotes and backslashes
 * escaped, other bytes as \xNN, cut at NPY_SHOWN_CHARS with "...". */
static void show_bytes(char *dst, size_t size, const uint8_t *s, size_t len)
{
    size_t o = 0;
    dst[0] = '\0';
    for (size_t i = 0; i < len; i++) {
        char piece[8];
        if (i == NPY_SHOWN_CHARS) {
            snprintf(piece, sizeof piece, "...");
            i = len;
        } else if (s[i] == '\'' || s[i] == '\\') {
            snprintf(piece, sizeof piece, "\\%c", s[i]);
        } else if (s[i] >= 0x20 && s[i] < 0x7f) {
            snprintf(piece, sizeof piece, "%c", s[i]);
        } else {
            snprintf(piece, sizeof piece, "\\x%02x", s[i]);
        }
        size_t n = strlen(piece);
        if (o + n + 1 > size)
            break;
        memcpy(dst + o, piece, n + 1);
        o += n;
    }
}

/* A shape as Python writes it: "()", "(5,)", "(3, 4, 5)"; entries past
 * NPY_SHOWN_DIMS become ", ...". */
static void show_shape(char *dst, size_t size, const int64_t *dims, int ndim)
{
    size_t o = 0;
    int n = snprintf(dst, size, "(");
    o = n > 0 ? (size_t)n : 0;
    for (int d = 0; d < ndim && o < size; d++) {
        if (d == NPY_SHOWN_DIMS) {
            n = snprintf(dst + o, size - o, ", ...");
            o += n > 0 ? (size_t)n : 0;
            break;
        }
        n = snprintf(dst + o, size - o, "%s%lld", d ? ", " : "", (long long)dims[d]);
        o += n > 0 ? (size_t)n : 0;
    }
    if (o < size)
        snprintf(dst + o, size - o, ndim == 1 ? ",)" : ")");
}

/* ---- preamble ---------------------------------------------------------- */

/* Magic, version and header length from the first bytes of a file of
 * `size` bytes (SIZE_MAX: unknown, a pipe), of which `have` are in b. Sets
 * *header_start (10 or 12) and *header_len. */
static int parse_preamble(const uint8_t *b, size_t have, size_t size, size_t *header_start,
                          size_t *header_len, char *err, size_t err_size)
{
    size_t n = have < NPY_MAGIC_LEN ? have : NPY_MAGIC_LEN;
    if (memcmp(b, NPY_MAGIC, n) != 0) {
        char seen[64];
        show_bytes(seen, sizeof seen, b, have < 8 ? have : 8);
        const char *hint = have >= 4 && memcmp(b, "PK\x03\x04", 4) == 0
                               ? " (a zip archive: an .npz file holds several arrays; save "
                                 "one with np.save)"
                               : "";
        return fail(err, err_size,
                    "not a .npy file: bad magic: it starts '%s', a .npy file starts "
                    "'\\x93NUMPY'%s",
                    seen, hint);
    }
    if (have == 0)
        return fail(err, err_size, "not a .npy file: the file is empty");
    if (have < 8)
        return fail(err, err_size,
                    "truncated: the file ends after %zu bytes, inside the .npy preamble "
                    "(magic, version, header length)",
                    have);
    int major = b[6], minor = b[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        return fail(err, err_size,
                    "format version %d.%d is not one this reader takes (1.0, 2.0, 3.0)", major,
                    minor);
    size_t start = major == 1 ? 10 : 12;
    if (have < start)
        return fail(err, err_size,
                    "truncated: the file ends after %zu bytes, inside the %zu-byte preamble "
                    "of a version %d.0 .npy file (magic, version, header length)",
                    have, start, major);
    size_t len = (size_t)b[8] | (size_t)b[9] << 8;
    if (major > 1)
        len |= (size_t)b[10] << 16 | (size_t)b[11] << 24;
    if (len > NPY_MAX_HEADER)
        return fail(err, err_size,
                    "header length %zu is over the %u bytes this reader takes (numpy writes a "
                    "few hundred)",
                    len, NPY_MAX_HEADER);
    if (size != SIZE_MAX && len > size - start)
        return fail(err, err_size,
                    "header length %zu runs past the end of the file: %zu bytes follow the "
                    "%zu-byte preamble",
                    len, size - start, start);
    *header_start = start;
    *header_len = len;
    return 0;
}

/* ---- header: a Python dict literal -------------------------------------- */

typedef struct cursor {
    const uint8_t *s; /* header text */
    size_t n, i;      /* length, position */
    char *err;
    size_t err_size;
} cursor;

static bool at(const cursor *c, char ch)
{
    return c->i < c->n && c->s[c->i] == (uint8_t)ch;
}

/* Python's whitespace between tokens: space, \t \n \v \f \r. */
static void skip_space(cursor *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || (c->s[c->i] >= '\t' && c->s[c->i] <= '\r')))
        c->i++;
}

static bool is_name_char(uint8_t ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

/* "header is not a Python dict literal: <what> at header byte I (found X)". */
static int syntax(const cursor *c, const char *what)
{
    char found[32];
    if (c->i >= c->n)
        snprintf(found, sizeof found, "the end of the header");
    else if (c->s[c->i] == '\'')
        snprintf(found, sizeof found, "\"'\"");
    else if (c->s[c->i] >= 0x20 && c->s[c->i] < 0x7f)
        snprintf(found, sizeof found, "'%c'", c->s[c->i]);
    else
        snprintf(found, sizeof found, "byte 0x%02x", c->s[c->i]);
    return fail(c->err, c->err_size,
                "header is not a Python dict literal: %s at header byte %zu, found %s", what, c->i,
                found);
}

/* A quoted string ('...' or "..."; a backslash escapes the next byte):
 * its contents s[*off .. *off + *len). */
static int parse_string(cursor *c, const char *what, size_t *off, size_t *len)
{
    if (!at(c, '\'') && !at(c, '"'))
        return syntax(c, what);
    uint8_t q = c->s[c->i];
    size_t start = c->i;
    size_t j = c->i + 1;
    while (j < c->n && c->s[j] != q && c->s[j] != '\n')
        j += c->s[j] == '\\' ? 2 : 1;
    if (j >= c->n || c->s[j] != q) {
        c->i = start;
        return syntax(c, "unterminated string");
    }
    *off = start + 1;
    *len = j - start - 1;
    c->i = j + 1;
    return 0;
}

/* descr's value: a string (a list is a structured dtype). */
static int parse_descr(cursor *c, size_t *off, size_t *len)
{
    if (at(c, '['))
        return fail(c->err, c->err_size,
                    "descr is a list: the array has a structured dtype (named fields); save "
                    "a plain float32 array (x.astype(np.float32))");
    return parse_string(c, "expected a string as the value of 'descr'", off, len);
}

/* fortran_order's value: True or False. */
static int parse_bool(cursor *c, bool *value)
{
    size_t j = c->i;
    while (j < c->n && is_name_char(c->s[j]))
        j++;
    size_t len = j - c->i;
    if (len == 4 && memcmp(c->s + c->i, "True", 4) == 0) {
        *value = true;
    } else if (len == 5 && memcmp(c->s + c->i, "False", 5) == 0) {
        *value = false;
    } else if (len > 0) {
        char seen[64];
        show_bytes(seen, sizeof seen, c->s + c->i, len);
        return fail(c->err, c->err_size, "fortran_order is %s, not True or False", seen);
    } else {
        return syntax(c, "expected True or False as the value of 'fortran_order'");
    }
    c->i = j;
    return 0;
}

/* One shape entry: an optional '-', decimal digits, an optional L (Python
 * 2). Values past int64 are refused here; negative ones by the caller. */
static int parse_dim(cursor *c, int64_t *value)
{
    size_t start = c->i;
    bool negative = at(c, '-');
    if (negative)
        c->i++;
    if (c->i >= c->n || c->s[c->i] < '0' || c->s[c->i] > '9')
        return syntax(c, "expected an integer in 'shape'");
    uint64_t v = 0;
    bool overflow = false;
    while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        unsigned digit = c->s[c->i] - '0';
        if (v > (UINT64_MAX - digit) / 10)
            overflow = true;
        else
            v = v * 10 + digit;
        c->i++;
    }
    if (overflow || v > (uint64_t)INT64_MAX) {
        char seen[64];
        show_bytes(seen, sizeof seen, c->s + start, c->i - start);
        return fail(c->err, c->err_size,
                    "shape entry %s overflows a 64-bit integer (no array is that large)", seen);
    }
    if (at(c, 'L') || at(c, 'l'))
        c->i++;
    if (c->i < c->n && is_name_char(c->s[c->i]))
        return syntax(c, "expected a decimal integer in 'shape'");
    *value = negative ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* shape's value: a tuple of integers, "()" "(5,)" "(3, 4)" "(3, 4,)". */
static int parse_shape(cursor *c, int64_t *dims, int *ndim)
{
    if (at(c, '['))
        return fail(c->err, c->err_size,
                    "shape is a list, not a tuple; a .npy header writes (rows, cols)");
    if (!at(c, '('))
        return syntax(c, "expected a tuple as the value of 'shape'");
    c->i++;
    int n = 0;
    bool comma_after_last = false;
    for (;;) {
        skip_space(c);
        if (at(c, ')'))
            break;
        if (n == NPY_MAX_DIMS)
            return fail(c->err, c->err_size, "shape has more than %d dimensions", NPY_MAX_DIMS);
        if (parse_dim(c, &dims[n]) != 0)
            return -1;
        n++;
        skip_space(c);
        comma_after_last = at(c, ',');
        if (comma_after_last)
            c->i++;
        else if (!at(c, ')'))
            return syntax(c, "expected ',' or ')' in 'shape'");
    }
    c->i++;
    if (n == 1 && !comma_after_last)
        return fail(c->err, c->err_size,
                    "shape (%lld) is an integer in parentheses, not a tuple; a 1-D shape is "
                    "written (%lld,)",
                    (long long)dims[0], (long long)dims[0]);
    for (int d = 0; d < n; d++)
        if (dims[d] < 0) {
            char shape[256];
            show_shape(shape, sizeof shape, dims, n);
            return fail(c->err, c->err_size, "shape %s has a negative entry %lld", shape,
                        (long long)dims[d]);
        }
    *ndim = n;
    return 0;
}

/* What numpy calls a descr like '<f8', for messages: " (float64)", or ""
 * when unknown. */
static void dtype_name(char *dst, size_t size, const uint8_t *d, size_t len)
{
    static const struct {
        char kind;
        const char *name;
        bool sized; /* the name takes the size in bits */
    } kinds[] = {
        {'f', "float", true},           {'i', "int", true},    {'u', "uint", true},
        {'c', "complex", true},         {'b', "bool", false},  {'U', "strings", false},
        {'O', "Python objects", false}, {'S', "bytes", false},
    };
    dst[0] = '\0';
    if (len >= 1 && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) {
        d++;
        len--;
    }
    unsigned bytes = 0;
    for (size_t i = 1; i < len; i++) {
        if (d[i] < '0' || d[i] > '9' || i > 2)
            return;
        bytes = bytes * 10 + (unsigned)(d[i] - '0');
    }
    for (size_t k = 0; len > 0 && k < sizeof kinds / sizeof kinds[0]; k++)
        if (kinds[k].kind == (char)d[0]) {
            if (!kinds[k].sized)
                snprintf(dst, size, " (%s)", kinds[k].name);
            else if (bytes > 0)
                snprintf(dst, size, " (%s%u)", kinds[k].name, bytes * 8);
        }
}

/* The header text s[0 .. n) into h's shape, order and byte order. */
static int parse_dict(const uint8_t *s, size_t n, npy_header *h, char *err, size_t err_size)
{
    cursor cur = {s, n, 0, err, err_size};
    cursor *c = &cur;
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    bool seen[3] = {false, false, false};
    size_t descr_off = 0, descr_len = 0;
    bool fortran = false;
    int64_t dims[NPY_MAX_DIMS];
    int ndim = 0;

    skip_space(c);
    if (!at(c, '{'))
        return syntax(c, "expected '{'");
    c->i++;
    for (;;) {
        skip_space(c);
        if (at(c, '}'))
            break;
        size_t koff, klen;
        if (parse_string(c, "expected a quoted key or '}'", &koff, &klen) != 0)
            return -1;
        int k = 0;
        while (k < 3 && !(strlen(keys[k]) == klen && memcmp(keys[k], s + koff, klen) == 0))
            k++;
        if (k == 3) {
            char key[64];
            show_bytes(key, sizeof key, s + koff, klen);
            return fail(err, err_size,
                        "header has an unknown key '%s'; a .npy header has exactly 'descr', "
                        "'fortran_order' and 'shape'",
                        key);
        }
        if (seen[k])
            return fail(err, err_size, "header has the key '%s' twice", keys[k]);
        seen[k] = true;
        skip_space(c);
        if (!at(c, ':'))
            return syntax(c, "expected ':' after a key");
        c->i++;
        skip_space(c);
        int rc = k == 0   ? parse_descr(c, &descr_off, &descr_len)
                 : k == 1 ? parse_bool(c, &fortran)
                          : parse_shape(c, dims, &ndim);
        if (rc != 0)
            return -1;
        skip_space(c);
        if (at(c, ','))
            c->i++;
        else if (!at(c, '}'))
            return syntax(c, "expected ',' or '}' after a value");
    }
    c->i++;
    skip_space(c);
    if (c->i < c->n)
        return syntax(c, "expected only spaces and a newline after the closing '}'");
    for (int k = 0; k < 3; k++)
        if (!seen[k])
            return fail(err, err_size,
                        "header is missing the key '%s' (a .npy header has 'descr', "
                        "'fortran_order' and 'shape')",
                        keys[k]);

    const uint8_t *d = s + descr_off;
    bool little = descr_len == 3 && memcmp(d, "<f4", 3) == 0;
    bool big = descr_len == 3 && memcmp(d, ">f4", 3) == 0;
    if (!little && !big) {
        char shown[64], name[32];
        show_bytes(shown, sizeof shown, d, descr_len);
        dtype_name(name, sizeof name, d, descr_len);
        bool no_order =
            (descr_len == 3 && (d[0] == '|' || d[0] == '=') && memcmp(d + 1, "f4", 2) == 0) ||
            (descr_len == 2 && memcmp(d, "f4", 2) == 0);
        if (no_order)
            return fail(err, err_size,
                        "descr '%s' does not state the byte order; save the array as float32 "
                        "with np.save, which writes '<f4'",
                        shown);
        return fail(err, err_size,
                    "descr '%s'%s is not float32; save the array as float32: "
                    "np.save(path, x.astype(np.float32))",
                    shown, name);
    }
    char shape[256];
    show_shape(shape, sizeof shape, dims, ndim);
    if (ndim == 0)
        return fail(err, err_size,
                    "shape () has 0 dimensions (a scalar); run takes a 2-D matrix (or a 1-D "
                    "vector, read as one row)");
    if (ndim > 2)
        return fail(err, err_size, "shape %s has %d dimensions; run takes a 2-D matrix", shape,
                    ndim);
    int64_t rows = ndim == 1 ? 1 : dims[0], cols = ndim == 1 ? dims[0] : dims[1], count;
    if (__builtin_mul_overflow(rows, cols, &count) || count > INT64_MAX / 4 ||
        (uint64_t)count > SIZE_MAX / 4)
        return fail(err, err_size,
                    "shape %s is too large: its float32 byte count overflows a 64-bit size", shape);
    h->rows = rows;
    h->cols = cols;
    show_shape(h->shape, sizeof h->shape, dims, ndim);
    h->fortran = fortran;
    h->big_endian = big;
    return 0;
}

/* ---- data -------------------------------------------------------------- */

static size_t data_bytes(const npy_header *h)
{
    return (size_t)h->rows * (size_t)h->cols * 4;
}

/* The message for data of `have` bytes (at least `have` when !exact)
 * where the shape takes data_bytes(h). */
static int data_size_error(const npy_header *h, size_t have, bool exact, char *err, size_t err_size)
{
    const char *shape = h->shape;
    size_t need = data_bytes(h);
    if (have < need)
        return fail(err, err_size,
                    "data is truncated: a float32 matrix %s takes %zu bytes after the header, "
                    "the file has %zu",
                    shape, need, have);
    if (exact)
        return fail(err, err_size,
                    "%zu bytes follow the data: a float32 matrix %s takes %zu bytes after the "
                    "header, the file has %zu (several arrays in one file, or a wrong shape)",
                    have - need, shape, need, have);
    return fail(err, err_size,
                "bytes follow the data: a float32 matrix %s takes %zu bytes after the header, "
                "the stream has more (several arrays in one file, or a wrong shape)",
                shape, need);
}

static float load_f32(const uint8_t *p, bool big_endian)
{
    uint32_t u = big_endian
                     ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
                     : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The file's data (data_bytes(h) bytes) as row-major floats into out. For C
 * order out may be src itself (element i is read before it is written). */
static void decode(const uint8_t *src, float *out, const npy_header *h)
{
    size_t rows = (size_t)h->rows, cols = (size_t)h->cols;
    if (!h->fortran) {
        for (size_t i = 0; i < rows * cols; i++)
            out[i] = load_f32(src + 4 * i, h->big_endian);
        return;
    }
    for (size_t j = 0; j < cols; j++) /* column j is contiguous in the file */
        for (size_t i = 0; i < rows; i++)
            out[i * cols + j] = load_f32(src + 4 * (j * rows + i), h->big_endian);
}

/* Everything up to the data, from the first `have` bytes of a file of
 * `size` (SIZE_MAX: unknown) bytes. */
static int parse_header(const uint8_t *b, size_t have, size_t size, npy_header *h, char *err,
                        size_t err_size)
{
    size_t start, len;
    if (parse_preamble(b, have, size, &start, &len, err, err_size) != 0)
        return -1;
    if (len > have - start)
        return fail(err, err_size,
                    "truncated: the file ends inside the header (header length %zu, %zu bytes "
                    "follow the preamble)",
                    len, have - start);
    h->data_offset = start + len;
    return parse_dict(b + start, len, h, err, err_size);
}

int npy_parse_f32(const uint8_t *bytes, size_t size, int64_t *rows, int64_t *cols, float **data,
                  char *err, size_t err_size)
{
    *rows = 0;
    *cols = 0;
    *data = NULL;
    if (bytes == NULL && size > 0)
        return fail(err, err_size, "bytes is NULL with size %zu", size);
    npy_header h;
    if (parse_header(bytes != NULL ? bytes : (const uint8_t *)"", size, size, &h, err, err_size) !=
        0)
        return -1;
    size_t have = size - h.data_offset;
    if (have != data_bytes(&h))
        return data_size_error(&h, have, true, err, err_size);
    float *out = malloc(data_bytes(&h) > 0 ? data_bytes(&h) : 1);
    if (out == NULL)
        return fail(err, err_size, "out of memory for %zu bytes of data", data_bytes(&h));
    decode(bytes + h.data_offset, out, &h);
    *rows = h.rows;
    *cols = h.cols;
    *data = out;
    return 0;
}

/* ---- files ------------------------------------------------------------- */

/* Up to n bytes from f; fewer only at the end of the file or on an error
 * (ferror tells). */
static size_t read_up_to(FILE *f, void *dst, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t r = fread((uint8_t *)dst + got, 1, n - got, f);
        if (r == 0)
            break;
        got += r;
    }
    return got;
}

/* npy_read_f32 without the path in its messages. Reads the preamble, then
 * the header, then exactly the data into the returned buffer (decoded in
 * place for C order), so that a file is never held twice. */
static int read_file(FILE *f, size_t size, int64_t *rows, int64_t *cols, float **data, char *err,
                     size_t err_size)
{
    /* magic and version, then the header length: 2 bytes (1.0) or 4, and
     * not one byte more (a short header is followed by data) */
    uint8_t pre[12];
    size_t got = read_up_to(f, pre, 8);
    if (got == 8)
        got += read_up_to(f, pre + 8, pre[6] >= 2 ? 4 : 2);
    if (ferror(f))
        return fail(err, err_size, "cannot read: %s", strerror(errno));
    size_t start, len;
    if (parse_preamble(pre, got, size, &start, &len, err, err_size) != 0)
        return -1;
    uint8_t *head = malloc(start + len);
    if (head == NULL)
        return fail(err, err_size, "out of memory for a header of %zu bytes", len);
    memcpy(head, pre, got);
    got += read_up_to(f, head + got, start + len - got);
    if (ferror(f)) {
        free(head);
        return fail(err, err_size, "cannot read: %s", strerror(errno));
    }
    npy_header h;
    int rc = parse_header(head, got, size, &h, err, err_size);
    free(head);
    if (rc != 0)
        return -1;
    size_t need = data_bytes(&h);
    if (size != SIZE_MAX && size - h.data_offset != need)
        return data_size_error(&h, size - h.data_offset, true, err, err_size);

    void *raw = malloc(need > 0 ? need : 1);
    if (raw == NULL)
        return fail(err, err_size, "out of memory for %zu bytes of data", need);
    got = read_up_to(f, raw, need);
    uint8_t extra;
    bool more = got == need && read_up_to(f, &extra, 1) == 1;
    if (ferror(f)) {
        free(raw);
        return fail(err, err_size, "cannot read: %s", strerror(errno));
    }
    if (got < need || more) {
        free(raw);
        return data_size_error(&h, more ? need + 1 : got, false, err, err_size);
    }
    float *out = raw;
    if (h.fortran) {
        out = malloc(need > 0 ? need : 1);
        if (out == NULL) {
            free(raw);
            return fail(err, err_size, "out of memory for %zu bytes of data", need);
        }
    }
    decode(raw, out, &h);
    if (out != raw)
        free(raw);
    *rows = h.rows;
    *cols = h.cols;
    *data = out;
    return 0;
}

int npy_read_f32(const char *path, int64_t *rows, int64_t *cols, float **data, char *err,
                 size_t err_size)
{
    *rows = 0;
    *cols = 0;
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return fail(err, err_size, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int e = errno;
        fclose(f);
        return fail(err, err_size, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        fclose(f);
        return fail(err, err_size, "%s: is a directory, not a .npy file", path);
    }
    /* A regular file's size bounds what it states; 0 may be a /proc file. */
    size_t size = S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size < SIZE_MAX
                      ? (size_t)st.st_size
                      : SIZE_MAX;
    char msg[512];
    int rc = read_file(f, size, rows, cols, data, msg, sizeof msg);
    fclose(f);
    if (rc != 0)
        return fail(err, err_size, "%s: %s", path, msg);
    return 0;
}

int npy_write_f32(const char *path, const float *data, int64_t rows, int64_t cols, char *err,
                  size_t err_size)
{
    int64_t count;
    if (rows < 0 || cols < 0)
        return fail(err, err_size, "%s: shape (%lld, %lld) has a negative entry", path,
                    (long long)rows, (long long)cols);
    if (__builtin_mul_overflow(rows, cols, &count) || count > INT64_MAX / 4 ||
        (uint64_t)count > SIZE_MAX / 4)
        return fail(err, err_size, "%s: shape (%lld, %lld) is too large to write", path,
                    (long long)rows, (long long)cols);
    if (data == NULL && count > 0)
        return fail(err, err_size, "%s: data is NULL for a (%lld, %lld) matrix", path,
                    (long long)rows, (long long)cols);

    /* np.save's header, byte for byte: the dict, spaces for the row count
     * to grow to 21 digits in place, more spaces and '\n' ending the header
     * at a multiple of 64 (64 more when it already is one). */
    char head[256];
    int n = snprintf(head + 10, sizeof head - 10,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, %lld), }",
                     (long long)rows, (long long)cols);
    char digits[24];
    int growth = NPY_GROWTH_DIGITS - snprintf(digits, sizeof digits, "%lld", (long long)rows);
    size_t total = 10 + (size_t)n + (size_t)growth + 1;
    total += NPY_ALIGN - total % NPY_ALIGN;
    memset(head + 10 + n, ' ', total - 10 - (size_t)n - 1);
    head[total - 1] = '\n';
    memcpy(head, NPY_MAGIC "\x01\x00", 8);
    head[8] = (char)((total - 10) & 0xff);
    head[9] = (char)((total - 10) >> 8);

    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return fail(err, err_size, "%s: cannot open for writing: %s", path, strerror(errno));
    struct stat st;
    bool regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    bool ok = fwrite(head, 1, total, f) == total;
    uint8_t chunk[1 << 16];
    for (size_t i = 0; ok && i < (size_t)count;) {
        size_t m = 0;
        for (; m < sizeof chunk / 4 && i < (size_t)count; m++, i++) {
            uint32_t u;
            memcpy(&u, &data[i], 4);
            chunk[4 * m] = (uint8_t)u;
            chunk[4 * m + 1] = (uint8_t)(u >> 8);
            chunk[4 * m + 2] = (uint8_t)(u >> 16);
            chunk[4 * m + 3] = (uint8_t)(u >> 24);
        }
        ok = fwrite(chunk, 1, 4 * m, f) == 4 * m;
    }
    int e = ok ? 0 : errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        if (regular) /* never a device or a pipe named as the output */
            remove(path);
        return fail(err, err_size, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}
