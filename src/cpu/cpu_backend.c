/*
 * cpu_backend.c - the "cpu" backend's operation table.
 *
 * STOPGAP: until the fast CPU kernels land (prepacked SIMD layouts, AVX-512/
 * AVX2 paths, see the CPU backend issue), every entry here runs the scalar
 * oracle of src/cpu/ref. Plans report the schedule "reference-fallback" so
 * that benchmarks and `unigemm info` never pass it off as a tuned kernel.
 */
#include <string.h>

#include "ref/ref.h"

static ug_status cpu_plan_init(ug_context *ctx, ug_plan *plan, const char *forced)
{
    if (forced != NULL && strcmp(forced, "reference-fallback") != 0)
        return ug_fail(ctx, UG_ERR_UNSUPPORTED,
                       "schedule '%.64s' is unknown to backend cpu (it offers: "
                       "reference-fallback)",
                       forced);
    plan->schedule = "reference-fallback";
    plan->workspace_bytes = 0;
    return UG_OK;
}

const ug_backend_ops ug_cpu_ops = {
    .name = "cpu",
    .weights_pack = ug_ref_weights_pack,
    .weights_free = ug_ref_weights_free,
    .weights_unpack = ug_ref_weights_unpack,
    .plan_init = cpu_plan_init,
    .plan_free = NULL,
    .execute = ug_ref_execute,
    .embedding = ug_ref_embedding,
};
