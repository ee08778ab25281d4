/* quickstart.c - README's example: one 4-bit layer, y = x . W^T. */
#include <stdio.h>
#include <stdlib.h>
#include "unigemm.h"

int main(void) {
    enum { M = 2, N = 256, K = 512 };
    ug_weight_format fmt = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_F16};  /* AWQ-style */
    size_t cb, sb, zb;
    float *w = malloc(sizeof(float) * N * K), x[M * K], y[M * N];
    for (int i = 0; i < N * K; i++) w[i] = (float)((i * 37) % 101 - 50) / 500.0f;
    for (int i = 0; i < M * K; i++) x[i] = (float)((i * 13) % 7 - 3) / 3.0f;
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = UG_BACKEND_CPU;  /* host buffers here; cuda takes device buffers (docs/cuda.md) */
    ug_context *ctx; char err[256];
    if (ug_context_create(&opt, &ctx, err, sizeof err) != UG_OK) { puts(err); return 1; }
    ug_weight_source_sizes(ctx, &fmt, N, K, &cb, &sb, NULL, &zb);
    ug_weight_source src = UG_WEIGHT_SOURCE_INIT;
    src.format = fmt; src.n = N; src.k = K;
    src.codes = malloc(cb); src.scales = malloc(sb); src.zeros = malloc(zb);
    ug_quantize(ctx, &fmt, N, K, w, (void *)src.codes, (void *)src.scales, NULL, (void *)src.zeros);
    ug_packed_weights *pw; ug_plan *plan;
    ug_gemm_desc d = UG_GEMM_DESC_INIT;                         /* f32 in, f32 out */
    d.m = M; d.n = N; d.k = K;
    if (ug_weights_pack(ctx, &src, &pw) != UG_OK ||
        ug_plan_create(ctx, &d, pw, NULL, &plan) != UG_OK ||
        ug_plan_execute(plan, pw, x, y, NULL, NULL, 0) != UG_OK) {
        printf("error: %s\n", ug_context_last_error(ctx)); return 1;
    }
    printf("y[0][0] = %f on %s (%s)\n", y[0], ug_backend_name(ug_context_backend(ctx)), ug_plan_schedule(plan));
    ug_plan_destroy(plan); ug_weights_destroy(pw); ug_context_destroy(ctx);
    free((void *)src.codes); free((void *)src.scales); free((void *)src.zeros); free(w);
    return 0;
}
