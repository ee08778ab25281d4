/*
 * testutil.h - what the cmocka tests share: the per-run seed (from the clock,
 * or UG_TEST_SEED to replay a run), checks that print the seed when they
 * fail (of a condition, or of a status and the message that goes with it),
 * contexts on each available backend, and an independent dequantizer
 * of the canonical weight arrays (codes [N][K], scales/biases/zeros
 * [N][K/G]) that shares no code with the library, so that the library's
 * oracle can be checked against it.
 */
#ifndef UG_TESTUTIL_H
#define UG_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"
#include "unigemm.h"

/* The seed of this run: UG_TEST_SEED when set, else taken from the clock. */
uint64_t tu_seed(void);
/* A generator for one test, derived from the run's seed and the test's name,
 * so that replaying one test with UG_TEST_SEED gives the same inputs. */
hx_rng tu_rng(const char *test_name);
/* Print the failed condition and how to replay the run (used by TU_CHECK). */
void tu_report_failure(const char *file, int line, const char *condition);

/* Fail the test with a formatted message and the seed when cond is false. */
#define TU_CHECK(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            tu_report_failure(__FILE__, __LINE__, #cond);                      \
            fail_msg(__VA_ARGS__);                                             \
        }                                                                      \
    } while (0)

/* A non-NULL pointer to preset out-parameters with, so that a test sees
 * whether a failed call set them to NULL. */
extern max_align_t tu_marker;
#define TU_NOT_NULL ((void *)&tu_marker)

/* Fail the test (naming file:line of the caller and the seed) unless
 * got == want and `message` contains every one of the NULL-terminated
 * needles. Use it through TU_EXPECT_ERROR or TU_EXPECT_BUFFER. */
void tu_expect_message(const char *file, int line, const char *message, ug_status got,
                       ug_status want, ...);

/* The status of a call on ctx is `want` and ug_context_last_error(ctx)
 * mentions each needle (one or more strings). */
#define TU_EXPECT_ERROR(ctx, got, want, ...)                                                 \
    tu_expect_message(__FILE__, __LINE__, ug_context_last_error(ctx), got, want, __VA_ARGS__, \
                      (const char *)NULL)
/* The same for a message in a caller's buffer (ug_context_create's). */
#define TU_EXPECT_BUFFER(buf, got, want, ...)                                                \
    tu_expect_message(__FILE__, __LINE__, buf, got, want, __VA_ARGS__, (const char *)NULL)

/* A context on `backend` with `threads` CPU threads; fails the test if it
 * cannot be made. */
ug_context *tu_context(ug_backend backend, int32_t threads);
/* Skip the running test, printing why, unless a cuda context can be made. */
void tu_require_cuda(void);

/* Whether UG_TEST_QUICK asks for a short run (set and not "0"): tests that
 * sample at random draw fewer cases (for runs under compute-sanitizer). */
bool tu_quick(void);

/* One line naming a GEMM case: format, backend, shape, types, strides,
 * bias, alpha, beta. */
void tu_case_str(const hx_case *c, ug_backend backend, char *buf, size_t size);

/* Run the cases through hx_check_case on ctx (of `backend`) against the
 * oracle; print the first 20 failures (case, schedule if forced, message)
 * and fail the test once at the end with the count, naming `what`. Cases
 * absent from a restricted build (tu_absent_from_build) are skipped and
 * counted in a printed line. */
/* Whether this build was restricted with UG_SPEC_RESTRICT and has no kernel
 * for the combination (schedule NULL: any); callers skip such cases. In a
 * build of the whole spec always false, so a refusal there fails. */
bool tu_absent_from_build(ug_backend backend, const char *schedule, ug_dtype a_type,
                          const ug_weight_format *format);

void tu_check_cases(ug_context *ctx, ug_context *oracle, const hx_case *cases, size_t count,
                    hx_rng *r, const char *what);

/* The backends a context can be made for here: ref and cpu always, cuda
 * when ug_context_create accepts it. Returns the count. */
size_t tu_available_backends(ug_backend out[UG_BACKEND_COUNT_]);

/* Element i of a float array of dtype (f32/f16/bf16) as a double, decoded
 * from the bit patterns without the library's conversions. */
double tu_load(const void *base, ug_dtype dtype, size_t i);
double tu_f16_value(uint16_t bits);
double tu_bf16_value(uint16_t bits);

/* Code k of one canonical codes row: 4 bits (low nibble = even k) or 8 bits,
 * two's complement when is_signed. */
int32_t tu_code(const uint8_t *row, int bits, bool is_signed, int64_t k);

/* Group size resolved for a format and K: K for per-channel, 0 for full
 * precision. */
int64_t tu_group(const ug_weight_format *format, int64_t k);

/* dequant(W) of a canonical source into out [N][K], in f64, by the formulas
 * of DESIGN.md. */
void tu_dequant(const ug_weight_source *src, double *out);

/* Bytes of one element of a float dtype (4 or 2). */
size_t tu_float_bytes(ug_dtype dtype);

#endif /* UG_TESTUTIL_H */
