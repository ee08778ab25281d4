/*
 * validation_fixture.h - the fixture of the validation tests
 * (test_validation_weights.c, test_validation_gemm.c): a fresh ref context
 * per test (so no message is left from an earlier test), valid weights of
 * four formats, [N=16][K=64], the first of them packed, and a GEMM plan of
 * M=3 with bias (alpha 1.5, beta 0.5) over them, with its A, bias and C and
 * a copy of C to prove that a failed call did not write it.
 */
#ifndef UG_VALIDATION_FIXTURE_H
#define UG_VALIDATION_FIXTURE_H

#include "testutil.h"

#define N 16
#define K 64
#define M 3

/* uint4 scale_zero g32 f16, uint8 scale_bias g64 bf16, int4 symmetric
 * per-channel f32, float16. */
enum { W_SZ, W_SB, W_SYM, W_FP, W_COUNT };

typedef struct fixture {
    ug_context *ctx;
    hx_weights hw[W_COUNT]; /* one of each of vf_formats */
    ug_packed_weights *w;   /* hw[W_SZ] packed on ctx */
    ug_gemm_desc desc;
    ug_plan *plan;
    float a[M * K], bias[N], c[M * N], c_before[M * N];
} fixture;

extern const ug_weight_format vf_formats[W_COUNT];

/* cmocka setup and teardown of a fixture in *state. */
int vf_setup(void **state);
int vf_teardown(void **state);

#endif /* UG_VALIDATION_FIXTURE_H */
