/*
 * test_npy.c - the .npy reader and writer of `unigemm run` (cli/npy.c):
 *   - write -> read round trips of random float32 bit patterns (NaNs with
 *     payloads, infinities, -0, subnormals included) at odd shapes, 0 x N and
 *     N x 0 among them, bit-exact, through the file and the bytes; the
 *     written header ends in '\n' with the data at a multiple of 64;
 *   - the writer's bytes equal np.save's for the same matrix;
 *   - the numpy-made files of fuzz/corpus/npy (UG_NPY_CORPUS, set by CMake)
 *     read to known values: versions 1.0, 2.0, 3.0, 1-D, fortran order,
 *     big-endian, empty; and its near-valid files refused by name;
 *   - headers numpy could write or read, built by hand: keys in any order,
 *     double quotes, no spaces, tabs and newlines, trailing commas, L
 *     suffixes, fortran order transposed, big-endian swapped;
 *   - a table of malformed images, each refused with a message holding the
 *     expected words (magic, version, header length, dict syntax, keys,
 *     descr, shape, data size), with the outputs reset;
 *   - the path functions: messages start with the path; a pipe reads to its
 *     end; a file that is missing, a directory, or unwritable.
 * Inputs of the round trips are random per run (UG_TEST_SEED replays one).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"
#include "testutil.h"

#ifndef UG_NPY_CORPUS
#error                                                                                             \
    "UG_NPY_CORPUS must name fuzz/corpus/npy (target_compile_definitions in tests/CMakeLists.txt)"
#endif

#define MAX_IMAGE 4096

static char tmp_dir[64];

static int make_tmp_dir(void **state)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/test_npy.XXXXXX");
    return mkdtemp(tmp_dir) == NULL ? -1 : 0;
}

static int remove_tmp_dir(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmp_dir, name);
}

/* The whole of a file, malloc'ed, its size in *size. */
static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    TU_CHECK(f != NULL, "cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    TU_CHECK(b != NULL && fread(b, 1, (size_t)n, f) == (size_t)n, "cannot read %s", path);
    fclose(f);
    *size = (size_t)n;
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t size)
{
    FILE *f = fopen(path, "wb");
    TU_CHECK(f != NULL && fwrite(b, 1, size, f) == size && fclose(f) == 0, "cannot write %s", path);
}

/* Fail unless rc != 0, the outputs are reset, and msg holds every needle
 * (NULL-terminated). */
static void expect_refused(const char *file, int line, const char *what, int rc, int64_t rows,
                           int64_t cols, const float *data, const char *msg, ...)
{
    if (rc == 0 || rows != 0 || cols != 0 || data != NULL) {
        tu_report_failure(file, line, "refused with outputs reset");
        fail_msg("%s: rc %d, rows %lld, cols %lld, data %p; message '%s'", what, rc,
                 (long long)rows, (long long)cols, (const void *)data, msg);
    }
    va_list ap;
    va_start(ap, msg);
    for (const char *needle = va_arg(ap, const char *); needle != NULL;
         needle = va_arg(ap, const char *)) {
        if (strstr(msg, needle) == NULL) {
            va_end(ap);
            tu_report_failure(file, line, "strstr(message, needle) != NULL");
            fail_msg("%s: message '%s' does not mention '%s'", what, msg, needle);
        }
    }
    va_end(ap);
}
#define EXPECT_REFUSED(what, rc, rows, cols, data, msg, ...)                                       \
    expect_refused(__FILE__, __LINE__, what, rc, rows, cols, data, msg, __VA_ARGS__,               \
                   (const char *)NULL)

static float f32_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- round trips ---------------------------------------------------------- */

static void check_written_layout(const char *path, int64_t rows, int64_t cols)
{
    size_t size;
    uint8_t *b = slurp(path, &size);
    TU_CHECK(size >= 10 && memcmp(b, "\x93NUMPY\x01\x00", 8) == 0, "%s: not a version 1.0 file",
             path);
    size_t offset = 10 + (size_t)(b[8] | b[9] << 8);
    TU_CHECK(offset % 64 == 0, "%s: data at %zu, not a multiple of 64", path, offset);
    TU_CHECK(b[offset - 1] == '\n', "%s: header does not end in a newline", path);
    TU_CHECK(size == offset + (size_t)(rows * cols) * 4, "%s: %zu bytes for (%lld, %lld)", path,
             size, (long long)rows, (long long)cols);
    free(b);
}

static void test_round_trip_random(void **state)
{
    hx_rng r = tu_rng(__func__);
    static const int64_t shapes[][2] = {{1, 1},    {1, 7},    {7, 1},      {3, 5}, {17, 33},
                                        {64, 3},   {0, 5},    {5, 0},      {0, 0}, {130, 257},
                                        {1, 4099}, {4099, 1}, {1000, 1000}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t rows = shapes[s][0], cols = shapes[s][1];
        size_t n = (size_t)(rows * cols);
        float *x = malloc(n > 0 ? n * sizeof *x : 1);
        for (size_t i = 0; i < n; i++) {
            uint64_t v = hx_rng_next(&r);
            /* half normal values, half arbitrary bit patterns */
            x[i] = v & 1 ? (float)hx_rng_normal(&r) : f32_bits((uint32_t)(v >> 32));
        }
        if (n >= 6) {
            x[0] = f32_bits(0x7fc01234u); /* NaN with a payload */
            x[1] = INFINITY;
            x[2] = -INFINITY;
            x[3] = -0.0f;
            x[4] = f32_bits(0x00000001u); /* smallest subnormal */
            x[5] = f32_bits(0xff800001u); /* signalling NaN, negative */
        }
        char path[128], err[512] = "";
        tmp_path(path, sizeof path, "round_trip.npy");
        int rc = npy_write_f32(path, x, rows, cols, err, sizeof err);
        TU_CHECK(rc == 0, "write (%lld, %lld): %s", (long long)rows, (long long)cols, err);
        check_written_layout(path, rows, cols);

        int64_t rr = -1, rcols = -1;
        float *y = NULL;
        rc = npy_read_f32(path, &rr, &rcols, &y, err, sizeof err);
        TU_CHECK(rc == 0, "read (%lld, %lld): %s", (long long)rows, (long long)cols, err);
        TU_CHECK(rr == rows && rcols == cols && y != NULL, "read (%lld, %lld) as (%lld, %lld)",
                 (long long)rows, (long long)cols, (long long)rr, (long long)rcols);
        TU_CHECK(n == 0 || memcmp(x, y, n * sizeof *x) == 0,
                 "(%lld, %lld): values differ after the round trip", (long long)rows,
                 (long long)cols);
        free(y);

        size_t size;
        uint8_t *b = slurp(path, &size);
        y = NULL;
        rc = npy_parse_f32(b, size, &rr, &rcols, &y, err, sizeof err);
        TU_CHECK(rc == 0 && rr == rows && rcols == cols, "parse (%lld, %lld): %s", (long long)rows,
                 (long long)cols, err);
        TU_CHECK(n == 0 || memcmp(x, y, n * sizeof *x) == 0, "(%lld, %lld): parsed values differ",
                 (long long)rows, (long long)cols);
        free(y);
        free(b);
        free(x);
    }
}

/* np.save of the same matrices wrote the corpus files; ours must match. */
static void test_writer_matches_numpy(void **state)
{
    static const float a23[6] = {1.5f, -2.25f, 3.0f, 0.0f, 0.125f, -7.0f};
    static const struct {
        const char *name;
        const float *data;
        int64_t rows, cols;
    } cases[] = {
        {"f32_2x3.npy", a23, 2, 3},
        {"f32_empty_0x4.npy", NULL, 0, 4},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[128], want_path[512], err[512] = "";
        tmp_path(path, sizeof path, "like_numpy.npy");
        snprintf(want_path, sizeof want_path, "%s/%s", UG_NPY_CORPUS, cases[c].name);
        TU_CHECK(
            npy_write_f32(path, cases[c].data, cases[c].rows, cases[c].cols, err, sizeof err) == 0,
            "write: %s", err);
        size_t got_size, want_size;
        uint8_t *got = slurp(path, &got_size), *want = slurp(want_path, &want_size);
        TU_CHECK(got_size == want_size && memcmp(got, want, got_size) == 0,
                 "%s: our %zu bytes differ from numpy's %zu", cases[c].name, got_size, want_size);
        free(got);
        free(want);
    }
}

/* ---- numpy's files -------------------------------------------------------- */

static void test_corpus_reads_known_values(void **state)
{
    static const float v23[] = {1.5f, -2.25f, 3.0f, 0.0f, 0.125f, -7.0f};
    static const float v1d[] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f};
    static const float vf32[] = {0, 1, 2, 3, 4, 5}; /* r * 2 + c, stored column-major */
    static const float v2[] = {1, 2, 3, 4};
    static const float v3[] = {10, 20, 30};
    static const float vbe[] = {1, -1, 0.5f, -0.5f};
    static const struct {
        const char *name;
        int64_t rows, cols;
        const float *values;
    } files[] = {
        {"f32_2x3.npy", 2, 3, v23},          {"f32_1d_5.npy", 1, 5, v1d},
        {"f32_fortran_3x2.npy", 3, 2, vf32}, {"f32_v2_2x2.npy", 2, 2, v2},
        {"f32_v3_1x3.npy", 1, 3, v3},        {"f32_bigendian_2x2.npy", 2, 2, vbe},
        {"f32_empty_0x4.npy", 0, 4, NULL},
    };
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[512], err[512] = "";
        snprintf(path, sizeof path, "%s/%s", UG_NPY_CORPUS, files[f].name);
        int64_t rows = -1, cols = -1;
        float *x = NULL;
        int rc = npy_read_f32(path, &rows, &cols, &x, err, sizeof err);
        TU_CHECK(rc == 0, "%s", err);
        TU_CHECK(rows == files[f].rows && cols == files[f].cols && x != NULL,
                 "%s read as (%lld, %lld)", files[f].name, (long long)rows, (long long)cols);
        for (int64_t i = 0; i < rows * cols; i++)
            TU_CHECK(x[i] == files[f].values[i], "%s: element %lld is %g, expected %g",
                     files[f].name, (long long)i, (double)x[i], (double)files[f].values[i]);
        free(x);
    }
}

static void test_corpus_refuses_near_valid(void **state)
{
    static const struct {
        const char *name, *needle1, *needle2;
    } files[] = {
        {"f64_2x2.npy", "descr '<f8' (float64) is not float32", "astype(np.float32)"},
        {"f32_3d_2x2x2.npy", "shape (2, 2, 2) has 3 dimensions; run takes a 2-D matrix", ""},
        {"f32_2x3_truncated.npy", "data is truncated",
         "takes 24 bytes after the header, the "
         "file has 20"},
    };
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[512], err[512] = "";
        snprintf(path, sizeof path, "%s/%s", UG_NPY_CORPUS, files[f].name);
        int64_t rows = -1, cols = -1;
        float *x = TU_NOT_NULL;
        int rc = npy_read_f32(path, &rows, &cols, &x, err, sizeof err);
        char prefix[520];
        snprintf(prefix, sizeof prefix, "%s: ", path);
        EXPECT_REFUSED(files[f].name, rc, rows, cols, x, err, prefix, files[f].needle1,
                       files[f].needle2);
        TU_CHECK(strncmp(err, prefix, strlen(prefix)) == 0, "'%s' does not start with the path",
                 err);
    }
}

/* ---- hand-made images ----------------------------------------------------- */

/* A .npy image: magic, version major.0, header length, header text, then
 * data_len bytes of data (copied from data, or a pattern when NULL).
 * Returns its size. */
static size_t build(uint8_t *out, int major, const char *header, const void *data, size_t data_len)
{
    size_t hlen = strlen(header), start = major == 1 ? 10 : 12;
    TU_CHECK(start + hlen + data_len <= MAX_IMAGE, "image too large for the test's buffer");
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major;
    out[7] = 0;
    out[8] = (uint8_t)hlen;
    out[9] = (uint8_t)(hlen >> 8);
    if (major > 1) {
        out[10] = (uint8_t)(hlen >> 16);
        out[11] = (uint8_t)(hlen >> 24);
    }
    memcpy(out + start, header, hlen);
    for (size_t i = 0; i < data_len; i++)
        out[start + hlen + i] = data != NULL ? ((const uint8_t *)data)[i] : (uint8_t)(i * 7 + 1);
    return start + hlen + data_len;
}

static void test_header_variants_accepted(void **state)
{
    /* little-endian bytes of 1..6 (rows of [1 2 3] [4 5 6] in C order) */
    float le[6] = {1, 2, 3, 4, 5, 6};
    uint8_t be[24];
    for (int i = 0; i < 6; i++) {
        uint32_t u;
        memcpy(&u, &le[i], 4);
        be[4 * i] = (uint8_t)(u >> 24);
        be[4 * i + 1] = (uint8_t)(u >> 16);
        be[4 * i + 2] = (uint8_t)(u >> 8);
        be[4 * i + 3] = (uint8_t)u;
    }
    float col_major[6] = {1, 4, 2, 5, 3, 6}; /* the same 2 x 3 stored by columns */
    static const float one_to_six[6] = {1, 2, 3, 4, 5, 6};
    static const struct {
        int major;
        const char *header;
        int data; /* 0 le, 1 be, 2 col_major */
        int64_t rows, cols;
    } cases[] = {
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0, 2, 3},
        {1, "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}", 0, 2, 3},
        {1, "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,3)}", 0, 2, 3},
        {1,
         " \t{ 'descr' :\n'<f4' ,\r\n'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }"
         "      \n",
         0, 2, 3},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }\n", 0, 2, 3},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }\n", 0, 1, 6},
        {1, "{'descr': '<f4', 'fortran_order': True, 'shape': (6,), }\n", 0, 1, 6},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 6), }\n", 0, 1, 6},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 1), }\n", 0, 6, 1},
        {1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }\n", 1, 2, 3},
        {1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", 2, 2, 3},
        {2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 0, 2, 3},
        {3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 0, 2, 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const void *data = cases[c].data == 0   ? (const void *)le
                           : cases[c].data == 1 ? (const void *)be
                                                : (const void *)col_major;
        uint8_t img[MAX_IMAGE];
        size_t size = build(img, cases[c].major, cases[c].header, data, 24);
        int64_t rows = -1, cols = -1;
        float *x = NULL;
        char err[512] = "";
        int rc = npy_parse_f32(img, size, &rows, &cols, &x, err, sizeof err);
        TU_CHECK(rc == 0, "header %s: %s", cases[c].header, err);
        TU_CHECK(rows == cases[c].rows && cols == cases[c].cols, "header %s read as (%lld, %lld)",
                 cases[c].header, (long long)rows, (long long)cols);
        TU_CHECK(memcmp(x, one_to_six, sizeof one_to_six) == 0, "header %s: wrong values",
                 cases[c].header);
        free(x);
    }
}

/* One malformed image: built from a header (raw == NULL), or raw bytes. */
typedef struct bad_case {
    const char *what;
    int major;
    const char *header;
    long data_len; /* bytes of data after the header */
    const char *raw;
    size_t raw_len;
    const char *needles[3];
} bad_case;

#define HDR(shape) "{'descr': '<f4', 'fortran_order': False, 'shape': " shape ", }\n"

static const bad_case bad_cases[] = {
    {"empty file", 0, NULL, 0, "", 0, {"not a .npy file", "empty"}},
    {"bad magic", 0, NULL, 0, "\x93NUMPX\x01\x00\x10\x00{}", 12, {"bad magic", "\\x93NUMPX"}},
    {"text file", 0, NULL, 0, "1.0 2.0 3.0\n", 12, {"not a .npy file", "'1.0 2.0"}},
    {"npz archive", 0, NULL, 0, "PK\x03\x04\x14\x00\x00\x00", 8, {"bad magic", ".npz"}},
    {"cut in the magic", 0, NULL, 0, "\x93NUM", 4, {"truncated", "after 4 bytes"}},
    {"cut before the header length",
     0,
     NULL,
     0,
     "\x93NUMPY\x01\x00\x76",
     9,
     {"truncated", "after 9 bytes", "10-byte preamble"}},
    {"cut in a v2 header length",
     0,
     NULL,
     0,
     "\x93NUMPY\x02\x00\x76\x00\x00",
     11,
     {"truncated", "12-byte preamble", "version 2.0"}},
    {"version 4.0", 0, NULL, 0, "\x93NUMPY\x04\x00\x02\x00{}", 12, {"version 4.0"}},
    {"version 1.1", 0, NULL, 0, "\x93NUMPY\x01\x01\x02\x00{}", 12, {"version 1.1"}},
    {"header length past the end",
     0,
     NULL,
     0,
     "\x93NUMPY\x01\x00\xff\x00{'descr': '<f4'",
     25,
     {"header length 255 runs past the end", "15 bytes follow the 10-byte preamble"}},
    {"header length 0, data after",
     0,
     NULL,
     0,
     "\x93NUMPY\x01\x00\x00\x00"
     "abcd",
     14,
     {"expected '{' at header byte 0, found the end of the header"}},
    {"huge v2 header length",
     0,
     NULL,
     0,
     "\x93NUMPY\x02\x00\xff\xff\xff\x7f{}",
     14,
     {"header length 2147483647", "over"}},
    {"truncated header", 1, HDR("(2, 3)"), -1, NULL, 0, {"header length", "past the end"}},
    {"garbage dict",
     1,
     "hello world\n",
     0,
     NULL,
     0,
     {"not a Python dict literal", "expected '{'", "found 'h'"}},
    {"dict not closed",
     1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)",
     24,
     NULL,
     0,
     {"not a Python dict literal", "the end of the header"}},
    {"unterminated string", 1, "{'descr': '<f4}\n", 0, NULL, 0, {"unterminated string"}},
    {"no colon", 1, "{'descr' '<f4'}\n", 0, NULL, 0, {"expected ':'"}},
    {"no comma",
     1,
     "{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}",
     24,
     NULL,
     0,
     {"expected ',' or '}'"}},
    {"bytes after the dict", 1, HDR("(2, 3)") "x", 24, NULL, 0, {"after the closing '}'"}},
    {"control byte in the header", 1, "{'descr': '<f4',\x01}", 0, NULL, 0, {"byte 0x01"}},
    {"NUL in the header",
     0,
     NULL,
     0,
     "\x93NUMPY\x01\x00\x03\x00{\x00}",
     13,
     {"expected a quoted key or '}' at header byte 1, found byte 0x00"}},
    {"key not a string", 1, "{descr: '<f4'}", 0, NULL, 0, {"expected a quoted key"}},
    {"missing shape",
     1,
     "{'descr': '<f4', 'fortran_order': False, }\n",
     24,
     NULL,
     0,
     {"missing the key 'shape'"}},
    {"missing descr",
     1,
     "{'fortran_order': False, 'shape': (2, 3), }\n",
     24,
     NULL,
     0,
     {"missing the key 'descr'"}},
    {"missing fortran_order",
     1,
     "{'descr': '<f4', 'shape': (2, 3), }\n",
     24,
     NULL,
     0,
     {"missing the key 'fortran_order'"}},
    {"unknown key", 1, "{'descr': '<f4', 'extra': 1}\n", 24, NULL, 0, {"unknown key 'extra'"}},
    {"key twice", 1, "{'descr': '<f4', 'descr': '<f4'}\n", 24, NULL, 0, {"key 'descr' twice"}},
    {"descr <f8",
     1,
     "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }\n",
     48,
     NULL,
     0,
     {"descr '<f8' (float64) is not float32", "save the array as float32"}},
    {"descr <f2",
     1,
     "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }\n",
     12,
     NULL,
     0,
     {"'<f2' (float16)", "float32"}},
    {"descr <i4",
     1,
     "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }\n",
     24,
     NULL,
     0,
     {"'<i4' (int32)", "float32"}},
    {"descr |O",
     1,
     "{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }\n",
     48,
     NULL,
     0,
     {"'|O' (Python objects)"}},
    {"descr |f4",
     1,
     "{'descr': '|f4', 'fortran_order': False, 'shape': (2, 3), }\n",
     24,
     NULL,
     0,
     {"'|f4'", "byte order", "float32"}},
    {"structured descr",
     1,
     "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}",
     8,
     NULL,
     0,
     {"descr is a list", "structured"}},
    {"fortran_order 1",
     1,
     "{'descr': '<f4', 'fortran_order': 1, 'shape': (2, 3), }\n",
     24,
     NULL,
     0,
     {"fortran_order is 1, not True or False"}},
    {"shape overflow",
     1,
     HDR("(4611686018427387904, 4)"),
     0,
     NULL,
     0,
     {"shape (4611686018427387904, 4) is too large", "overflows"}},
    {"shape product overflow",
     1,
     HDR("(3037000500, 3037000500)"),
     0,
     NULL,
     0,
     {"too large", "overflows"}},
    {"shape entry past int64",
     1,
     HDR("(99999999999999999999, 1)"),
     0,
     NULL,
     0,
     {"shape entry 99999999999999999999 overflows a 64-bit integer"}},
    {"negative shape", 1, HDR("(-3, 4)"), 0, NULL, 0, {"shape (-3, 4) has a negative entry -3"}},
    {"shape not a tuple", 1, HDR("(3)"), 12, NULL, 0, {"not a tuple", "(3,)"}},
    {"shape a list", 1, HDR("[2, 3]"), 24, NULL, 0, {"shape is a list"}},
    {"shape entry a float", 1, HDR("(2.0, 3)"), 24, NULL, 0, {"expected ',' or ')' in 'shape'"}},
    {"shape entry in hex",
     1,
     HDR("(0x2, 3)"),
     24,
     NULL,
     0,
     {"expected a decimal integer in 'shape'"}},
    {"shape of 65 dimensions",
     1,
     HDR("(1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
         "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1)"),
     4,
     NULL,
     0,
     {"more than 64 dimensions"}},
    {"3-D shape",
     1,
     HDR("(3, 4, 5)"),
     240,
     NULL,
     0,
     {"shape (3, 4, 5) has 3 dimensions; run takes a 2-D matrix"}},
    {"10-D shape",
     1,
     HDR("(1, 1, 1, 1, 1, 1, 1, 1, 2, 3)"),
     24,
     NULL,
     0,
     {"shape (1, 1, 1, 1, 1, 1, 1, 1, ...) has 10 dimensions"}},
    {"0-D shape", 1, HDR("()"), 4, NULL, 0, {"shape () has 0 dimensions"}},
    {"data too short",
     1,
     HDR("(2, 3)"),
     20,
     NULL,
     0,
     {"data is truncated", "(2, 3) takes 24 bytes", "the file has 20"}},
    {"no data", 1, HDR("(2, 3)"), 0, NULL, 0, {"data is truncated", "the file has 0"}},
    {"trailing bytes",
     1,
     HDR("(2, 3)"),
     28,
     NULL,
     0,
     {"4 bytes follow the data", "takes 24 bytes"}},
    {"huge shape, little data",
     1,
     HDR("(100000000, 100000000)"),
     24,
     NULL,
     0,
     {"data is truncated", "takes 40000000000000000 bytes"}},
};

/* The image of a bad case; "truncated header" cuts a valid image inside
 * its header. */
static size_t bad_image(const bad_case *c, uint8_t *img)
{
    if (c->raw != NULL) {
        memcpy(img, c->raw, c->raw_len);
        return c->raw_len;
    }
    size_t size = build(img, c->major, c->header, NULL, c->data_len < 0 ? 0 : (size_t)c->data_len);
    return c->data_len < 0 ? size - 20 : size;
}

static void test_malformed_images_refused(void **state)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        uint8_t img[MAX_IMAGE];
        size_t size = bad_image(c, img);
        int64_t rows = -1, cols = -1;
        float *x = TU_NOT_NULL;
        char err[512] = "";
        /* a copy of exactly `size` bytes, so that reads past it are caught by ASan */
        uint8_t *exact = malloc(size > 0 ? size : 1);
        memcpy(exact, img, size);
        int rc = npy_parse_f32(exact, size, &rows, &cols, &x, err, sizeof err);
        free(exact);
        EXPECT_REFUSED(c->what, rc, rows, cols, x, err, c->needles[0],
                       c->needles[1] ? c->needles[1] : "", c->needles[2] ? c->needles[2] : "");
    }
}

static void test_null_bytes(void **state)
{
    int64_t rows = -1, cols = -1;
    float *x = TU_NOT_NULL;
    char err[256] = "";
    int rc = npy_parse_f32(NULL, 0, &rows, &cols, &x, err, sizeof err);
    EXPECT_REFUSED("NULL, 0", rc, rows, cols, x, err, "empty");
    rc = npy_parse_f32(NULL, 10, &rows, &cols, &x, err, sizeof err);
    EXPECT_REFUSED("NULL, 10", rc, rows, cols, x, err, "bytes is NULL");
    /* no message buffer: still refused, nothing written */
    rc = npy_parse_f32((const uint8_t *)"junk", 4, &rows, &cols, &x, NULL, 0);
    TU_CHECK(rc != 0 && x == NULL, "junk without an error buffer");
}

/* ---- the path functions ----------------------------------------------------- */

/* Each bad case again through a file: the same words after "path: ". */
static void test_files_name_the_path(void **state)
{
    char path[128], prefix[160];
    tmp_path(path, sizeof path, "bad.npy");
    snprintf(prefix, sizeof prefix, "%s: ", path);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        uint8_t img[MAX_IMAGE];
        spit(path, img, bad_image(c, img));
        int64_t rows = -1, cols = -1;
        float *x = TU_NOT_NULL;
        char err[640] = "";
        int rc = npy_read_f32(path, &rows, &cols, &x, err, sizeof err);
        EXPECT_REFUSED(c->what, rc, rows, cols, x, err, c->needles[0],
                       c->needles[1] ? c->needles[1] : "", c->needles[2] ? c->needles[2] : "");
        TU_CHECK(strncmp(err, prefix, strlen(prefix)) == 0, "%s: '%s' does not start with '%s'",
                 c->what, err, prefix);
    }
}

/* Read image through a pipe (/dev/fd/N: no size known in advance). */
static int read_pipe(const uint8_t *img, size_t size, int64_t *rows, int64_t *cols, float **x,
                     char *err, size_t err_size)
{
    int fds[2];
    TU_CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno));
    TU_CHECK(write(fds[1], img, size) == (ssize_t)size, "write to the pipe");
    close(fds[1]);
    char path[32];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    int rc = npy_read_f32(path, rows, cols, x, err, err_size);
    close(fds[0]);
    return rc;
}

static void test_pipe_reads_to_its_end(void **state)
{
    float v[6] = {1, 2, 3, 4, 5, 6};
    uint8_t img[MAX_IMAGE];
    int64_t rows = -1, cols = -1;
    float *x = NULL;
    char err[512] = "";
    size_t size = build(img, 1, HDR("(3, 2)"), v, 24);
    TU_CHECK(read_pipe(img, size, &rows, &cols, &x, err, sizeof err) == 0, "pipe: %s", err);
    TU_CHECK(rows == 3 && cols == 2 && memcmp(x, v, 24) == 0, "pipe read (%lld, %lld)",
             (long long)rows, (long long)cols);
    free(x);

    size = build(img, 1, HDR("(3, 2)"), NULL, 20);
    x = TU_NOT_NULL;
    int rc = read_pipe(img, size, &rows, &cols, &x, err, sizeof err);
    EXPECT_REFUSED("short pipe", rc, rows, cols, x, err, "/dev/fd/", "data is truncated",
                   "the file has 20");

    size = build(img, 1, HDR("(3, 2)"), NULL, 25);
    x = TU_NOT_NULL;
    rc = read_pipe(img, size, &rows, &cols, &x, err, sizeof err);
    EXPECT_REFUSED("long pipe", rc, rows, cols, x, err, "bytes follow the data");

    size = build(img, 1, HDR("(3, 2)"), NULL, 24);
    x = TU_NOT_NULL;
    rc = read_pipe(img, 30, &rows, &cols, &x, err, sizeof err);
    EXPECT_REFUSED("pipe cut in the header", rc, rows, cols, x, err, "truncated",
                   "inside the header");
}

static void test_path_errors(void **state)
{
    int64_t rows = -1, cols = -1;
    float *x = TU_NOT_NULL;
    char path[128], err[512] = "";
    tmp_path(path, sizeof path, "missing.npy");
    int rc = npy_read_f32(path, &rows, &cols, &x, err, sizeof err);
    EXPECT_REFUSED("missing file", rc, rows, cols, x, err, path, "cannot open", "No such file");

    x = TU_NOT_NULL;
    rc = npy_read_f32(tmp_dir, &rows, &cols, &x, err, sizeof err);
    EXPECT_REFUSED("directory", rc, rows, cols, x, err, tmp_dir, "is a directory");

    float v[2] = {1, 2};
    tmp_path(path, sizeof path, "no/such/dir/out.npy");
    rc = npy_write_f32(path, v, 1, 2, err, sizeof err);
    TU_CHECK(rc != 0 && strstr(err, path) && strstr(err, "cannot open for writing"),
             "write into a missing folder: rc %d, '%s'", rc, err);

    tmp_path(path, sizeof path, "neg.npy");
    rc = npy_write_f32(path, v, -1, 2, err, sizeof err);
    TU_CHECK(rc != 0 && strstr(err, "(-1, 2) has a negative entry"), "rows -1: '%s'", err);
    rc = npy_write_f32(path, NULL, 1, 2, err, sizeof err);
    TU_CHECK(rc != 0 && strstr(err, "data is NULL"), "NULL data: '%s'", err);
    rc = npy_write_f32(path, v, INT64_MAX / 2, 3, err, sizeof err);
    TU_CHECK(rc != 0 && strstr(err, "too large"), "huge shape: '%s'", err);
    TU_CHECK(access(path, F_OK) != 0, "a refused write left %s behind", path);

    /* a write that fails half-way (the file size limit) removes the file */
    struct rlimit old_limit, limit;
    TU_CHECK(getrlimit(RLIMIT_FSIZE, &old_limit) == 0, "getrlimit: %s", strerror(errno));
    limit = old_limit;
    limit.rlim_cur = 1000;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    TU_CHECK(setrlimit(RLIMIT_FSIZE, &limit) == 0, "setrlimit: %s", strerror(errno));
    static float big[1 << 16];
    tmp_path(path, sizeof path, "too_big.npy");
    rc = npy_write_f32(path, big, 1, 1 << 16, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old_limit);
    signal(SIGXFSZ, old_handler);
    TU_CHECK(rc != 0 && strstr(err, path) && strstr(err, "cannot write"),
             "write past the file size limit: rc %d, '%s'", rc, err);
    TU_CHECK(access(path, F_OK) != 0, "a failed write left %s behind", path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_writer_matches_numpy),
        cmocka_unit_test(test_corpus_reads_known_values),
        cmocka_unit_test(test_corpus_refuses_near_valid),
        cmocka_unit_test(test_header_variants_accepted),
        cmocka_unit_test(test_malformed_images_refused),
        cmocka_unit_test(test_null_bytes),
        cmocka_unit_test(test_files_name_the_path),
        cmocka_unit_test(test_pipe_reads_to_its_end),
        cmocka_unit_test(test_path_errors),
    };
    return cmocka_run_group_tests_name("npy", tests, make_tmp_dir, remove_tmp_dir);
}
