/*
 * npy.h - NumPy .npy files holding one float32 matrix [rows][cols], row-major
 * in memory, for `unigemm run --input X.npy --output Y.npy`.
 *
 * Reading takes format versions 1.0, 2.0 and 3.0 and treats the file as
 * hostile: every field is checked and a failure returns non-zero with a
 * message naming the file (the path functions), the field and the value.
 *   - descr '<f4' (little-endian float32) or '>f4' (big-endian, swapped on
 *     read); '|f4', '=f4' (no byte order stated) and every other dtype are
 *     refused, naming the descr and asking for float32.
 *   - shape (R, C) reads as R x C, (K,) as 1 x K; () and 3 or more
 *     dimensions are refused. Entries must be non-negative; R * C * 4 must
 *     fit in int64 and size_t. Zero-sized matrices are read (data is then a
 *     non-NULL allocation of no elements).
 *   - fortran_order True is read by transposing into row-major.
 *   - the header is a Python dict literal with exactly the keys 'descr',
 *     'fortran_order' and 'shape' in any order (each once), whitespace
 *     anywhere between tokens, an optional trailing comma, and only
 *     whitespace after the closing brace. Shape entries may carry Python 2's
 *     L suffix. Headers over 1 MiB are refused (numpy writes ~120 bytes).
 *   - the data after the header must be exactly R * C * 4 bytes: fewer is a
 *     truncated file, more (another array appended, a wrong shape) is
 *     refused as well.
 * Writing produces version 1.0, '<f4', C order, the header padded with
 * spaces and ended by '\n' so that the data starts at a multiple of 64
 * bytes, as numpy's np.save does.
 */
#ifndef UG_NPY_H
#define UG_NPY_H

#include <stddef.h>
#include <stdint.h>

/* The matrix stored in the .npy image bytes[0 .. size). Returns 0 and sets
 * *rows, *cols and *data (malloc'ed, row-major, the caller frees it), or
 * non-zero with *data = NULL, *rows = *cols = 0 and a message in err (when
 * err_size > 0). */
int npy_parse_f32(const uint8_t *bytes, size_t size, int64_t *rows, int64_t *cols, float **data,
                  char *err, size_t err_size);

/* The same for the file at path (or any readable stream: a pipe reads to
 * its end); messages start with "path: ". */
int npy_read_f32(const char *path, int64_t *rows, int64_t *cols, float **data, char *err,
                 size_t err_size);

/* Write data [rows][cols] (row-major) to path as a version 1.0 .npy file,
 * replacing it. Returns 0, or non-zero with a message starting "path: "; a
 * regular file left half-written by a failed write is removed. */
int npy_write_f32(const char *path, const float *data, int64_t rows, int64_t cols, char *err,
                  size_t err_size);

#endif /* UG_NPY_H */
