/*
 * registry.h - what this build can run, and how a plan finds it.
 *
 * spec/kernels.toml lists the kernel specializations; tools/gen/kernels.py
 * turns it into src/generated/registry_table.c, which defines the tables
 * below. A schedule (a name a user can force, e.g. "wg-n128-t64-s2") belongs
 * to one tile of one backend; a kernel row says that a compiled kernel
 * exists for that tile, one activation type and one weight storage type.
 * The quantization method, group size and scale type are run-time
 * parameters of every kernel, accepted as the backend's spec row says.
 *
 * The heuristic (heuristic.h) and tuning tables (tuning.h) pick a schedule;
 * ug_registry_kernel then finds its kernel or says which part is missing.
 */
#ifndef UG_DISPATCH_REGISTRY_H
#define UG_DISPATCH_REGISTRY_H

#include "../core/internal.h"

#define UG_BIT(x) (1u << (x))

/* Group sizes as bits of ug_backend_spec.group_sizes. */
enum {
    UG_GROUP_BIT_32 = 1,
    UG_GROUP_BIT_64 = 2,
    UG_GROUP_BIT_128 = 4,
    UG_GROUP_BIT_PER_CHANNEL = 8,
};

typedef enum ug_family {
    UG_FAMILY_CPU_DECODE,  /* cpu: stream panels, up to 4 tokens per pass */
    UG_FAMILY_CPU_PREFILL, /* cpu: dequantize panels once, register-blocked GEMM */
    UG_FAMILY_CUDA_MMA,    /* cuda: decode family, mma.sync */
    UG_FAMILY_CUDA_WG,     /* cuda: large-M family, wgmma + TMA */
} ug_family;

/* What a backend's kernels accept, as bit sets: activations and weights of
 * ug_dtype (UG_BIT(dtype)), methods of ug_method, group sizes UG_GROUP_BIT_*. */
typedef struct ug_backend_spec {
    ug_backend backend;
    uint32_t activations, weights, methods, group_sizes, scale_types;
} ug_backend_spec;

typedef struct ug_schedule_info {
    const char *name;
    ug_backend backend;
    ug_family family;
    int isa;            /* cpu: the ug_cpu_isa it needs */
    int rows, tokens;   /* the tile: cpu prefill micro-tile rows x columns;
                           cuda rows of W x tokens */
    int warps, cluster; /* cuda launch parameters: warps along K (mma), CTAs of
                           a cluster along K */
    int a_share;        /* wg: CTAs of a cluster along N sharing A tiles (1, 2) */
    int tile;           /* schedules of one tile share its kernels */
} ug_schedule_info;

typedef struct ug_kernel_info {
    int tile;
    ug_dtype act, storage;
    int impl; /* index into the backend's table (ug_cpu_impls, ug_cuda_*_impl) */
} ug_kernel_info;

/* src/generated/registry_table.c */
extern const char ug_spec_restriction[]; /* "" or the build's UG_SPEC_RESTRICT */
extern const ug_backend_spec ug_backend_specs[];
extern const int ug_backend_spec_count;
extern const ug_schedule_info ug_schedules[];
extern const int ug_schedule_count_all;
extern const ug_kernel_info ug_kernels[];
extern const int ug_kernel_count;

/* The schedule `name` of `backend`, or NULL. */
const ug_schedule_info *ug_registry_schedule(ug_backend backend, const char *name);

/* The kernel that runs schedule `s` on activations `act` and weights of
 * `format`. On failure: UG_ERR_UNSUPPORTED, with a message naming the
 * missing part (activation type, weight type, method, group size, scale
 * type, or the schedule's tile) in ctx, which may be NULL, and in
 * why[why_size] when why is not NULL. */
ug_status ug_registry_kernel(ug_context *ctx, const ug_schedule_info *s, ug_dtype act,
                             const ug_weight_format *format, const ug_kernel_info **out,
                             char *why, size_t why_size);

/* "schedule 'x' is unknown to backend b (it offers: ...)" as UG_ERR_UNSUPPORTED. */
ug_status ug_registry_unknown_schedule(ug_context *ctx, ug_backend backend, const char *name);

#endif /* UG_DISPATCH_REGISTRY_H */
