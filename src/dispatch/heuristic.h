/*
 * heuristic.h - the default schedule of a plan, per backend and device
 * class, from (M, N, K, weight format): thresholds read off measurements
 * recorded in bench/results/ (docs/heuristics.md says which file backs which
 * rule; tests/test_heuristic.c checks the choices against those files).
 *
 * Pure functions of their arguments: no device is queried here, so the
 * tests run them on any machine.
 */
#ifndef UG_DISPATCH_HEURISTIC_H
#define UG_DISPATCH_HEURISTIC_H

#include "registry.h"

/* The cpu device class is its instruction set: the schedule for `isa`, or,
 * in a build without its kernels, for the best lower one the build has;
 * NULL when it has none. */
const ug_schedule_info *ug_heuristic_cpu(ug_cpu_isa isa, int64_t m, int64_t n, int64_t k,
                                         const ug_weight_format *format);

/* The cuda device class: Hopper (sm_90) with `sms` SMs. */
typedef struct ug_cuda_class {
    int sms;
} ug_cuda_class;

const ug_schedule_info *ug_heuristic_cuda(const ug_cuda_class *dev, int64_t m, int64_t n,
                                          int64_t k, const ug_weight_format *format);
/* Whether the wgmma kernel's persistent grid (splits == 1) gives every SM a
 * CTA and shares all `tiles` by 64-chunks (stream-K): tiles for at most half
 * the SMs, at least UG_WG_SHARE_MIN_CHUNKS chunks per SM in all. Shared by
 * the grid plan (src/cuda/gemm_launch.cu) and the heuristic, which picks
 * such a grid for quantized weights at M = 33..128. */
#define UG_WG_SHARE_MIN_CHUNKS 32
static inline bool ug_wg_shares_all_tiles(int64_t tiles, int64_t chunks, int sms)
{
    return 2 * tiles <= sms && tiles * chunks >= UG_WG_SHARE_MIN_CHUNKS * (int64_t)sms;
}

/* Its choice within the decode family alone (what a wgmma plan falls back
 * to when A does not meet TMA's alignment rules). */
const ug_schedule_info *ug_heuristic_cuda_decode(const ug_cuda_class *dev, int64_t m, int64_t n,
                                                 int64_t k);

#endif /* UG_DISPATCH_HEURISTIC_H */
