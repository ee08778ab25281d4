/*
 * tuning.c - reading tuning tables (tuning.h) with jansson, checking every
 * field against the context and the registry, and looking plans up in them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "registry.h"
#include "tuning.h"

void ug_tuning_free(ug_tuning *t)
{
    if (t) {
        free(t->entries);
        free(t);
    }
}

/* An integer field of an object; false (and a message) when absent or not an integer. */
static bool get_int(ug_context *ctx, const char *origin, size_t i, json_t *obj, const char *key,
                    int64_t *out, ug_status *st)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v)) {
        *st = ug_fail(ctx, UG_ERR_FILE_FORMAT,
                      "%s: entries[%zu].%s is missing or not an integer", origin, i, key);
        return false;
    }
    *out = (int64_t)json_integer_value(v);
    return true;
}

static const char *get_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static ug_status parse_entry(ug_context *ctx, const char *origin, size_t i, json_t *e,
                             ug_tuning_entry *out)
{
    ug_status st = UG_OK;
    if (!json_is_object(e))
        return ug_fail(ctx, UG_ERR_FILE_FORMAT, "%s: entries[%zu] is not an object", origin, i);
    int64_t group;
    if (!get_int(ctx, origin, i, e, "m", &out->m, &st) ||
        !get_int(ctx, origin, i, e, "n", &out->n, &st) ||
        !get_int(ctx, origin, i, e, "k", &out->k, &st) ||
        !get_int(ctx, origin, i, e, "group_size", &group, &st))
        return st;
    if (out->m < 1 || out->n < 1 || out->k < 1)
        return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                       "%s: entries[%zu] has m = %lld, n = %lld, k = %lld (each must be >= 1)",
                       origin, i, (long long)out->m, (long long)out->n, (long long)out->k);
    const char *fields[5] = {"a_type", "storage", "method", "scale_type", "schedule"};
    const char *vals[5];
    for (int f = 0; f < 5; f++)
        if ((vals[f] = get_str(e, fields[f])) == NULL)
            return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                           "%s: entries[%zu].%s is missing or not a string", origin, i,
                           fields[f]);
    if (ug_dtype_parse(NULL, vals[0], &out->a_type) != UG_OK ||
        ug_dtype_parse(NULL, vals[1], &out->format.storage) != UG_OK ||
        ug_method_parse(NULL, vals[2], &out->format.method) != UG_OK ||
        ug_dtype_parse(NULL, vals[3], &out->format.scale_type) != UG_OK)
        return ug_fail(ctx, UG_ERR_FILE_FORMAT,
                       "%s: entries[%zu] names an unknown type or method (a_type '%.32s', "
                       "storage '%.32s', method '%.32s', scale_type '%.32s')",
                       origin, i, vals[0], vals[1], vals[2], vals[3]);
    if (group < INT32_MIN || group > INT32_MAX)
        return ug_fail(ctx, UG_ERR_FILE_FORMAT, "%s: entries[%zu].group_size = %lld", origin, i,
                       (long long)group);
    out->format.group_size = (int32_t)group;
    ug_layout L;
    st = ug_layout_make(ctx, &out->format, out->n, out->k, &L);
    if (st != UG_OK) {
        char why[UG_ERROR_CAPACITY];
        ug_context_last_error_copy(ctx, why, sizeof why);
        return ug_fail(ctx, UG_ERR_FILE_FORMAT, "%s: entries[%zu]: %s", origin, i, why);
    }
    const ug_schedule_info *s = ug_registry_schedule(ctx->backend, vals[4]);
    if (s == NULL)
        return ug_fail(ctx, UG_ERR_MISMATCH,
                       "%s: entries[%zu].schedule '%.48s' is not a schedule of backend %s in "
                       "this build",
                       origin, i, vals[4], ug_backend_name(ctx->backend));
    if (ctx->backend == UG_BACKEND_CPU && s->isa > (int)ctx->cpu_isa)
        return ug_fail(ctx, UG_ERR_MISMATCH,
                       "%s: entries[%zu].schedule '%s' needs %s; the context runs %s", origin, i,
                       s->name, ug_cpu_isa_name((ug_cpu_isa)s->isa), ug_cpu_isa_name(ctx->cpu_isa));
    const ug_kernel_info *k;
    char why[UG_ERROR_CAPACITY];
    if (ug_registry_kernel(NULL, s, out->a_type, &out->format, &k, why, sizeof why) != UG_OK)
        return ug_fail(ctx, UG_ERR_MISMATCH, "%s: entries[%zu]: %s", origin, i, why);
    out->schedule = s->name;
    return UG_OK;
}

ug_status ug_tuning_parse(ug_context *ctx, const char *origin, const void *data, size_t size,
                          bool other_backend_ok, ug_tuning **out)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return ug_fail(ctx, UG_ERR_FILE_FORMAT, "%s: not JSON (line %d: %s)", origin, jerr.line,
                       jerr.text);
    ug_status st = UG_OK;
    json_t *format = json_object_get(root, "unigemm_tuning");
    const char *version = get_str(root, "library_version");
    const char *backend = get_str(root, "backend");
    const char *device = get_str(root, "device");
    json_t *entries = json_object_get(root, "entries");
    if (!json_is_object(root) || !json_is_integer(format) ||
        json_integer_value(format) != UG_TUNING_FORMAT)
        st = ug_fail(ctx, UG_ERR_FILE_FORMAT,
                     "%s: not a unigemm tuning table (\"unigemm_tuning\": %d is missing)", origin,
                     UG_TUNING_FORMAT);
    else if (version == NULL || backend == NULL || device == NULL || !json_is_array(entries))
        st = ug_fail(ctx, UG_ERR_FILE_FORMAT,
                     "%s: library_version, backend, device (strings) and entries (an array) "
                     "are all required",
                     origin);
    else if (other_backend_ok && strcmp(backend, ug_backend_name(ctx->backend)) != 0) {
        json_decref(root);
        return UG_OK; /* a table for other contexts */
    } else if (strcmp(version, ug_version()) != 0)
        st = ug_fail(ctx, UG_ERR_MISMATCH,
                     "%s was made by unigemm %.32s; this is unigemm %s, whose schedules may "
                     "differ (run `unigemm tune` again)",
                     origin, version, ug_version());
    else if (strcmp(backend, ug_backend_name(ctx->backend)) != 0)
        st = ug_fail(ctx, UG_ERR_MISMATCH, "%s was made for backend %.32s; the context runs %s",
                     origin, backend, ug_backend_name(ctx->backend));
    else if (strcmp(device, ctx->device_id) != 0)
        st = ug_fail(ctx, UG_ERR_MISMATCH,
                     "%s was made on device '%.160s'; the context runs on '%s' (run `unigemm "
                     "tune` there)",
                     origin, device, ctx->device_id);
    ug_tuning *t = NULL;
    if (st == UG_OK) {
        size_t n = json_array_size(entries);
        t = calloc(1, sizeof *t);
        if (t == NULL || (n && (t->entries = calloc(n, sizeof *t->entries)) == NULL))
            st = ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "%s: out of host memory", origin);
        for (size_t i = 0; i < n && st == UG_OK; i++) {
            st = parse_entry(ctx, origin, i, json_array_get(entries, i), &t->entries[i]);
            t->count = i + 1;
        }
    }
    json_decref(root);
    if (st != UG_OK) {
        ug_tuning_free(t);
        return st;
    }
    *out = t;
    return UG_OK;
}

const char *ug_tuning_lookup(const ug_tuning *t, const ug_gemm_desc *d, const ug_layout *L)
{
    if (t == NULL)
        return NULL;
    for (size_t i = 0; i < t->count; i++) {
        const ug_tuning_entry *e = &t->entries[i];
        if (e->m == d->m && e->n == d->n && e->k == d->k && e->a_type == d->a_type &&
            e->format.storage == L->format.storage && e->format.method == L->format.method &&
            e->format.group_size == L->format.group_size &&
            e->format.scale_type == L->format.scale_type)
            return e->schedule;
    }
    return NULL;
}
