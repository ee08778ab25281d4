/*
 * ref.h - the scalar oracle's entry points. The ref backend is the oracle
 * every other backend is checked against; the cpu backend reuses it until
 * its own kernels exist.
 */
#ifndef UG_REF_H
#define UG_REF_H

#include "../../core/internal.h"

ug_status ug_ref_weights_pack(ug_context *ctx, const ug_weight_source *src, ug_packed_weights *w);
void ug_ref_weights_free(ug_packed_weights *w);
ug_status ug_ref_weights_unpack(ug_context *ctx, const ug_packed_weights *w, void *codes,
                                void *scales, void *biases, void *zeros);
ug_status ug_ref_execute(const ug_plan *plan, const ug_packed_weights *w, const void *a, void *c,
                         const void *bias, void *workspace);
ug_status ug_ref_embedding(ug_context *ctx, const ug_packed_weights *table, const int32_t *ids,
                           int64_t count, ug_dtype out_type, void *out, int64_t ldo);

/* Dequantize row n of canonical weights into `out` [K] exactly, in f64. */
void ug_ref_dequant_row(const ug_packed_weights *w, int64_t n, double *out);

#endif /* UG_REF_H */
