/*
 * tuning.h - tuning tables: the schedules `unigemm tune` measured best for
 * given shapes on one device, loaded into a context (ug_context_load_tuning
 * or the environment variable UG_TUNING_FILE) and consulted by every plan
 * before the heuristic. The file is JSON (docs/tuning.md):
 *
 *   {"unigemm_tuning": 1, "library_version": "0.1.0", "backend": "cuda",
 *    "device": "<ug_context_device_id>",
 *    "entries": [{"m": 512, "n": 14336, "k": 4096, "a_type": "bfloat16",
 *                 "storage": "uint4", "method": "scale_zero", "group_size": 128,
 *                 "scale_type": "bfloat16", "schedule": "wg-n128-t256-s1", ...}]}
 *
 * A table made for another backend, device or library version is refused
 * as a whole, as is one naming a schedule this build cannot run for its
 * entry; fields other than those above are ignored.
 */
#ifndef UG_DISPATCH_TUNING_H
#define UG_DISPATCH_TUNING_H

#include "../core/internal.h"

#define UG_TUNING_FORMAT 1

typedef struct ug_tuning_entry {
    int64_t m, n, k;
    ug_dtype a_type;
    ug_weight_format format;
    const char *schedule; /* registry-owned name */
} ug_tuning_entry;

struct ug_tuning {
    size_t count;
    ug_tuning_entry *entries;
};

/* Parse and check a table's text for ctx (its backend and device id). With
 * other_backend_ok, a well-formed table made for another backend is
 * skipped: UG_OK with *out NULL (UG_TUNING_FILE applies to the contexts of
 * its own backend only). */
ug_status ug_tuning_parse(ug_context *ctx, const char *origin, const void *data, size_t size,
                          bool other_backend_ok, ug_tuning **out);
void ug_tuning_free(ug_tuning *t);

/* The tuned schedule for a plan, or NULL. */
const char *ug_tuning_lookup(const ug_tuning *t, const ug_gemm_desc *d, const ug_layout *L);

#endif /* UG_DISPATCH_TUNING_H */
