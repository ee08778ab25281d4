/*
 * harness.h - the checking harness shared by the tests, `unigemm verify`,
 * `unigemm bench` and `unigemm demo` (not part of the library):
 *   - a seeded random generator and random f32/f16/bf16 buffers,
 *   - random weights of any format, made through ug_quantize,
 *   - the list of every weight format the API accepts, and the bench SPEC
 *     syntax ("uint4,group=128,method=scale_zero,scale=float16"),
 *   - one GEMM case run on a backend and on the oracle, compared by
 *     relative L2 error and max abs error against per-backend tolerances.
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
} hx_case;

/* The GEMM descriptor of a case (every field of the case, alpha included:
 * a case written with designated initializers must set alpha itself). */
ug_gemm_desc hx_case_desc(const hx_case *c);

typedef struct hx_result {
    bool pass;
    double rel_l2, max_abs, ref_max_abs;
    double tol_rel_l2, tol_max_abs;
    char message[512];
} hx_result;

/* Tolerance of `backend` against the oracle for an output type: relative L2
 * error and max abs error relative to max|ref|. The oracle against itself
 * must match bit for bit (0). */
void hx_tolerance(ug_backend backend, const hx_case *c, double *rel_l2, double *max_rel);

/* Compare the M x N block of C (row stride ldc) with the oracle's result
 * by `backend`'s tolerances: non-finite elements must match exactly, the
 * rest by relative L2 and max abs error; the padding between rows must equal
 * pad_expect's bytes (NULL: not checked). Fills res and returns res->pass. */
bool hx_compare(const hx_case *c, ug_backend backend, int64_t ldc, const void *out, const void *ref,
                const void *pad_expect, hx_result *res);

/* Run `c` on ctx and on oracle (a ref context) with fresh random inputs, C
 * poisoned with NaN where beta == 0, and compare every element (including
 * the padding between rows, which must stay untouched). */
hx_result hx_check_case(ug_context *ctx, ug_context *oracle, const hx_case *c, hx_rng *r);

/* Wall-clock seconds, monotonic. */
double hx_now(void);

#endif /* UG_HARNESS_H */
