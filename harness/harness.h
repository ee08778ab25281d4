/*
 * harness.h - the checking harness shared by the tests, `unigemm verify`,
 * `unigemm bench` and `unigemm demo` (not part of the library):
 *   - a seeded random generator and random f32/f16/bf16 buffers,
 *   - random weights of any format, made through ug_quantize,
 *   - the list of every weight format the API accepts, and the bench SPEC
 *     syntax ("uint4,group=128,method=scale_zero,scale=float16"),
 *   - one GEMM case run on a backend and on the oracle, compared by
 *     relative L2 error and max abs error against per-backend tolerances,
 *   - device buffers for checking the cuda backend from host arrays (the
 *     CUDA runtime where the build has it; failures everywhere else).
 */
#ifndef UG_HARNESS_H
#define UG_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include "unigemm.h"

typedef struct hx_rng {
    uint64_t state;
} hx_rng;

hx_rng hx_rng_seed(uint64_t seed);
uint64_t hx_rng_next(hx_rng *r);
double hx_rng_uniform(hx_rng *r); /* [0, 1) */
double hx_rng_normal(hx_rng *r);  /* approximately standard normal, |x| < 3.47 */

/* Element i of a f32/f16/bf16 buffer, as double; store rounds to nearest even. */
double hx_load(const void *buf, ug_dtype dtype, size_t i);
void hx_store(void *buf, ug_dtype dtype, size_t i, double v);

/* count random elements of dtype (f32/f16/bf16), normal * scale. */
void hx_fill(void *buf, ug_dtype dtype, size_t count, double scale, hx_rng *r);

/* Random weights of one format: w [N][K] drawn per row with its own
 * magnitude (and the occasional outlier), quantized with ug_quantize into
 * the canonical source arrays. */
typedef struct hx_weights {
    ug_weight_source src;
    float *w;
    void *codes, *scales, *biases, *zeros;
} hx_weights;

ug_status hx_weights_make(ug_context *ctx, const ug_weight_format *format, int64_t n, int64_t k,
                          hx_rng *r, hx_weights *out);
void hx_weights_free(hx_weights *hw);

/* Every weight format the API accepts (storage x method x group x scale type
 * for quantized, plus the three full-precision ones). Returns the count and
 * fills up to `cap` entries. */
size_t hx_all_formats(ug_weight_format *out, size_t cap);

/* "bfloat16" or "uint4,group=128,method=scale_zero,scale=float16". */
void hx_format_str(const ug_weight_format *f, char *buf, size_t size);
/* Parse a SPEC; scale defaults to float16; on failure writes a message. */
bool hx_format_parse(const char *spec, ug_weight_format *out, char *err, size_t err_size);

/* A GEMM case. lda/ldc 0 = dense; beta != 0 reads a random C. */
typedef struct hx_case {
    ug_weight_format format;
    int64_t m, n, k;
    ug_dtype a_type, c_type;
    int64_t lda, ldc;
    int has_bias;
    ug_dtype bias_type;
    float alpha, beta;
    const char *schedule; /* forced schedule name, or NULL for the library's choice */
} hx_case;

/* The GEMM descriptor of a case (every field of the case, alpha included:
 * a case written with designated initializers must set alpha itself). */
ug_gemm_desc hx_case_desc(const hx_case *c);

/* What a comparison found. Under the scaled rule (hx_compare_scaled, which
 * hx_check_case uses on cuda) rel_l2 is relative to the per-element scale D
 * and ref_max_abs is max D; tol_rel_l2 is the bound that was applied. */
typedef struct hx_result {
    bool pass;
    double rel_l2, max_abs, ref_max_abs;
    double tol_rel_l2, tol_max_abs;
    char message[512];
} hx_result;

/* Tolerance of `backend` against the oracle for a case's output type (on
 * cuda also its activation type, to which the weights are rounded):
 * relative L2 error and max abs error relative to max|ref|. The oracle
 * against itself must match bit for bit (0). */
void hx_tolerance(ug_backend backend, const hx_case *c, double *rel_l2, double *max_rel);

/* Compare the M x N block of C (row stride ldc) with the oracle's result
 * by `backend`'s tolerances: non-finite elements must match exactly, the
 * rest by relative L2 and max abs error; the padding between rows must equal
 * pad_expect's bytes (NULL: not checked). Fills res and returns res->pass. */
bool hx_compare(const hx_case *c, ug_backend backend, int64_t ldc, const void *out, const void *ref,
                const void *pad_expect, hx_result *res);

/* The same with the errors measured against D[i][j] = max(|ref[i][j]|,
 * scale[i][j]) instead of |ref| (scale: [M][N] dense, from hx_product_scale):
 * relative L2 error sqrt(sum err^2 / sum D^2) and max err / max D. A result
 * that cancels (|ref| much smaller than its terms) is then judged against
 * the size of its terms, which is what rounding the weights scales with.
 * With fewer than 32 elements the L2 bound widens towards the max bound
 * (by sqrt(32 / count)), since a handful of errors is no average. */
bool hx_compare_scaled(const hx_case *c, ug_backend backend, int64_t ldc, const void *out,
                       const void *ref, const double *scale, const void *pad_expect,
                       hx_result *res);

/* scale[i][j] = |alpha| * sqrt(sum_k A[i][k]^2 * m[j][k]^2): the size of
 * C[i][j]'s dot product were its terms of random sign, i.e. the scale on
 * which a relative error in each weight shows in C[i][j], cancellation or
 * not. m is the magnitude that rounding a weight works on: |w| (w as the
 * oracle's embedding lookup on w_ref dequantizes it; w_ref packed on
 * `oracle` from hw), and |w - b| + |b| for scale_bias, whose group bias b
 * is rounded by itself. A is host [M][lda] of c->a_type; scale is [M][N].
 * Returns false with a message when a call fails. */
bool hx_product_scale(ug_context *oracle, const ug_packed_weights *w_ref, const hx_weights *hw,
                      const hx_case *c, const void *a, double *scale, char *msg, size_t msg_size);

/* Whether `backend` runs the case at all: cuda takes float16 and bfloat16
 * activations only (a_type float32 is refused with UG_ERR_UNSUPPORTED).
 * hx_check_case fails the cases this refuses; callers skip them. */
bool hx_case_supported(ug_backend backend, const hx_case *c);

/* Run `c` on ctx and on oracle (a ref context) with fresh random inputs, C
 * poisoned with NaN where beta == 0, and compare every element (including
 * the padding between rows, which must stay untouched). cpu and cuda are
 * judged by the scaled rule: f32 sums (and cuda's weights rounded to the
 * activation type) err in proportion to the size of the products, so a
 * result that cancels cannot be held to its own size. On a cuda context
 * A, C (its padding between rows included), bias and the workspace live in
 * device buffers of exactly their spans, copied from and back to the host;
 * a failing CUDA call fails the case naming the call and CUDA's text. */
hx_result hx_check_case(ug_context *ctx, ug_context *oracle, const hx_case *c, hx_rng *r);

/* Execute `plan` (made on ctx from the descriptor d, lda/ldc 0 = dense) on
 * host arrays: A [m][lda], C [m][ldc] (read where beta != 0, written back in
 * place, padding included), bias [n] (NULL unless has_bias). cpu and ref
 * run on them directly with a malloc'ed workspace; cuda runs on device
 * copies of exactly their spans with a device workspace, synchronizes the
 * device and copies C back. On failure writes a message naming the call
 * (a library status with its message, or a CUDA call with CUDA's text) and
 * returns false. */
bool hx_execute(ug_context *ctx, const ug_plan *plan, const ug_packed_weights *w,
                const ug_gemm_desc *d, const void *a, void *c, const void *bias, char *msg,
                size_t msg_size);

/* Device memory through the CUDA runtime, on the calling thread's current
 * device (0 unless the caller chose another; it must be the cuda context's).
 * Each returns false on failure and writes "cudaMalloc(N bytes): <CUDA's
 * text>" or the like into msg; in a build without CUDA every one fails
 * saying so (hx_dev_free does nothing). Copies are synchronous; hx_dev_sync
 * waits for all work on the device. A size of 0 is a no-op (alloc gives NULL). */
bool hx_dev_alloc(void **p, size_t bytes, char *msg, size_t msg_size);
void hx_dev_free(void *p);
bool hx_dev_upload(void *dev, const void *host, size_t bytes, char *msg, size_t msg_size);
bool hx_dev_download(void *host, const void *dev, size_t bytes, char *msg, size_t msg_size);
bool hx_dev_sync(char *msg, size_t msg_size);

/* Wall-clock seconds, monotonic. */
double hx_now(void);

#endif /* UG_HARNESS_H */
