/*
 * validation_fixture.c - setup and teardown of the validation tests'
 * fixture (see validation_fixture.h).
 */
#include "validation_fixture.h"

#include <stdlib.h>
#include <string.h>

const ug_weight_format vf_formats[W_COUNT] = {
    [W_SZ] = {UG_U4, UG_METHOD_SCALE_ZERO, 32, UG_F16},
    [W_SB] = {UG_U8, UG_METHOD_SCALE_BIAS, 64, UG_BF16},
    [W_SYM] = {UG_I4, UG_METHOD_SYMMETRIC, UG_GROUP_PER_CHANNEL, UG_F32},
    [W_FP] = {UG_F16, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
};

int vf_setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->ctx = tu_context(UG_BACKEND_REF, 1);
    hx_rng r = tu_rng("validation");
    for (int i = 0; i < W_COUNT; i++)
        assert_int_equal(hx_weights_make(fx->ctx, &vf_formats[i], N, K, &r, &fx->hw[i]), UG_OK);
    assert_int_equal(ug_weights_pack(fx->ctx, &fx->hw[W_SZ].src, &fx->w), UG_OK);
    fx->desc = (ug_gemm_desc)UG_GEMM_DESC_INIT;
    fx->desc.m = M;
    fx->desc.n = N;
    fx->desc.k = K;
    fx->desc.has_bias = 1;
    fx->desc.alpha = 1.5f;
    fx->desc.beta = 0.5f;
    assert_int_equal(ug_plan_create(fx->ctx, &fx->desc, fx->w, NULL, &fx->plan), UG_OK);
    hx_fill(fx->a, UG_F32, M * K, 1.0, &r);
    hx_fill(fx->bias, UG_F32, N, 1.0, &r);
    hx_fill(fx->c, UG_F32, M * N, 1.0, &r);
    memcpy(fx->c_before, fx->c, sizeof fx->c);
    *state = fx;
    return 0;
}

int vf_teardown(void **state)
{
    fixture *fx = *state;
    ug_plan_destroy(fx->plan);
    ug_weights_destroy(fx->w);
    for (int i = 0; i < W_COUNT; i++)
        hx_weights_free(&fx->hw[i]);
    ug_context_destroy(fx->ctx);
    free(fx);
    return 0;
}
