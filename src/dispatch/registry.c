/*
 * registry.c - looking plans up in the generated registry (registry.h), the
 * messages that name what a build lacks, and the public queries over it
 * (ug_schedule_count, ug_schedule_name, ug_kernel_supported).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "registry.h"

static const ug_backend_spec *spec_of(ug_backend backend)
{
    for (int i = 0; i < ug_backend_spec_count; i++)
        if (ug_backend_specs[i].backend == backend)
            return &ug_backend_specs[i];
    return NULL;
}

const ug_schedule_info *ug_registry_schedule(ug_backend backend, const char *name)
{
    for (int i = 0; i < ug_schedule_count_all; i++)
        if (ug_schedules[i].backend == backend && strcmp(ug_schedules[i].name, name) == 0)
            return &ug_schedules[i];
    return NULL;
}

static int group_bit(int32_t group_size)
{
    switch (group_size) {
    case 32:
        return UG_GROUP_BIT_32;
    case 64:
        return UG_GROUP_BIT_64;
    case 128:
        return UG_GROUP_BIT_128;
    default:
        return UG_GROUP_BIT_PER_CHANNEL;
    }
}

static const char *dtype_at(int v)
{
    return ug_dtype_name((ug_dtype)v);
}

static const char *method_at(int v)
{
    return ug_method_name((ug_method)v);
}

/* Names of the values 1..count-1 whose bits are set in `mask`, comma
 * separated, into buf. */
static const char *name_list(uint32_t mask, int count, const char *(*name)(int), char *buf,
                             size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int v = 1; v < count && used < size; v++)
        if (mask & UG_BIT(v))
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", name(v));
    return buf[0] ? buf : "none";
}

static const char *group_list(uint32_t mask, char *buf, size_t size)
{
    static const int32_t sizes[] = {32, 64, 128, UG_GROUP_PER_CHANNEL};
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < 4 && used < size; i++)
        if (mask & (uint32_t)group_bit(sizes[i]))
            used += (size_t)snprintf(buf + used, size - used, "%s%d", used ? ", " : "",
                                     (int)sizes[i]);
    return buf[0] ? buf : "none";
}

/* Record the message in ctx and why; return UG_ERR_UNSUPPORTED. */
static ug_status refuse(ug_context *ctx, char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static ug_status refuse(ug_context *ctx, char *why, size_t why_size, const char *fmt, ...)
{
    char msg[UG_ERROR_CAPACITY];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ug_spec_restriction[0]) {
        size_t len = strlen(msg);
        snprintf(msg + len, sizeof msg - len, " (this build was restricted: UG_SPEC_RESTRICT=%s)",
                 ug_spec_restriction);
    }
    if (why != NULL && why_size > 0)
        snprintf(why, why_size, "%s", msg);
    return ug_fail(ctx, UG_ERR_UNSUPPORTED, "%s", msg);
}

ug_status ug_registry_kernel(ug_context *ctx, const ug_schedule_info *s, ug_dtype act,
                             const ug_weight_format *f, const ug_kernel_info **out, char *why,
                             size_t why_size)
{
    const char *bname = ug_backend_name(s->backend);
    const ug_backend_spec *b = spec_of(s->backend);
    char list[160];
    if (b == NULL || !(b->activations & UG_BIT(act)))
        return refuse(ctx, why, why_size,
                      "backend %s has no kernel for activations %s in this build (it has %s)",
                      bname, ug_dtype_name(act), name_list(b ? b->activations : 0, UG_DTYPE_COUNT_, dtype_at, list, sizeof list));
    if (!(b->weights & UG_BIT(f->storage)))
        return refuse(ctx, why, why_size,
                      "backend %s has no kernel for weights %s in this build (it has %s)", bname,
                      ug_dtype_name(f->storage), name_list(b->weights, UG_DTYPE_COUNT_, dtype_at, list, sizeof list));
    if (f->method != UG_METHOD_NONE) {
        if (!(b->methods & UG_BIT(f->method)))
            return refuse(ctx, why, why_size,
                          "backend %s has no kernel for method %s in this build (it has %s)",
                          bname, ug_method_name(f->method), name_list(b->methods, UG_METHOD_COUNT_, method_at, list, sizeof list));
        if (!(b->group_sizes & (uint32_t)group_bit(f->group_size)))
            return refuse(ctx, why, why_size,
                          "backend %s has no kernel for group size %d in this build (it has %s)",
                          bname, (int)f->group_size, group_list(b->group_sizes, list, sizeof list));
        if (!(b->scale_types & UG_BIT(f->scale_type)))
            return refuse(ctx, why, why_size,
                          "backend %s has no kernel for scale type %s in this build (it has %s)",
                          bname, ug_dtype_name(f->scale_type),
                          name_list(b->scale_types, UG_DTYPE_COUNT_, dtype_at, list, sizeof list));
    }
    for (int i = 0; i < ug_kernel_count; i++) {
        const ug_kernel_info *k = &ug_kernels[i];
        /* tiles are numbered across backends, so the tile settles the backend */
        if (k->tile == s->tile && k->act == act && k->storage == f->storage) {
            *out = k;
            return UG_OK;
        }
    }
    return refuse(ctx, why, why_size,
                  "schedule %s of backend %s has no kernel for activations %s and weights %s in "
                  "this build",
                  s->name, bname, ug_dtype_name(act), ug_dtype_name(f->storage));
}

ug_status ug_registry_unknown_schedule(ug_context *ctx, ug_backend backend, const char *name)
{
    char offered[UG_ERROR_CAPACITY - 128];
    size_t used = 0;
    offered[0] = '\0';
    for (int i = 0; i < ug_schedule_count_all && used < sizeof offered; i++)
        if (ug_schedules[i].backend == backend)
            used += (size_t)snprintf(offered + used, sizeof offered - used, "%s%s",
                                     used ? ", " : "", ug_schedules[i].name);
    return ug_fail(ctx, UG_ERR_UNSUPPORTED, "schedule '%.48s' is unknown to backend %s (it offers: %s)",
                   name, ug_backend_name(backend), offered[0] ? offered : "none in this build");
}

/* ---- public queries -------------------------------------------------------- */

/* Whether this binary has the kernels of a schedule of the spec: cuda ones
 * only in builds with CUDA, x86 instruction sets only on x86-64. (The
 * registry itself lists the spec whole; the backends exist only where
 * built, so internal lookups need no filter.) */
static bool schedule_built(const ug_schedule_info *s)
{
    if (s->backend == UG_BACKEND_CUDA) {
#ifdef UG_HAVE_CUDA
        return true;
#else
        return false;
#endif
    }
#if defined(__x86_64__)
    return true;
#else
    return s->isa == UG_CPU_ISA_PORTABLE;
#endif
}

int32_t ug_schedule_count(ug_backend backend)
{
    if (backend == UG_BACKEND_REF)
        return 1;
    int32_t n = 0;
    for (int i = 0; i < ug_schedule_count_all; i++)
        n += ug_schedules[i].backend == backend && schedule_built(&ug_schedules[i]);
    return n;
}

const char *ug_schedule_name(ug_backend backend, int32_t index)
{
    if (backend == UG_BACKEND_REF)
        return index == 0 ? "reference" : NULL;
    for (int i = 0; i < ug_schedule_count_all; i++)
        if (ug_schedules[i].backend == backend && schedule_built(&ug_schedules[i]) &&
            index-- == 0)
            return ug_schedules[i].name;
    return NULL;
}

const char *ug_build_spec_restriction(void)
{
    return ug_spec_restriction;
}

/* Copy a message into why[why_size] when there is room. */
static void say(char *why, size_t why_size, const char *msg)
{
    if (why != NULL && why_size > 0)
        snprintf(why, why_size, "%s", msg);
}

ug_status ug_kernel_supported(ug_backend backend, const char *schedule, ug_dtype a_type,
                              const ug_weight_format *format, char *why, size_t why_size)
{
    say(why, why_size, "");
    if (format == NULL) {
        say(why, why_size, "ug_kernel_supported: format is NULL");
        return UG_ERR_NULL_ARGUMENT;
    }
    if ((int)backend < 0 || backend >= UG_BACKEND_COUNT_ || backend == UG_BACKEND_AUTO) {
        say(why, why_size, "ug_kernel_supported: backend must be ref, cpu or cuda");
        return UG_ERR_INVALID_ENUM;
    }
    if ((int)a_type <= 0 || a_type >= UG_DTYPE_COUNT_ || !ug_is_float(a_type)) {
        say(why, why_size, "ug_kernel_supported: a_type must be float32, float16 or bfloat16");
        return UG_ERR_INVALID_ENUM;
    }
    /* the format must be one ug_weights_pack accepts; a private context
     * catches the message that says why not */
    ug_context probe;
    memset(&probe, 0, sizeof probe);
    pthread_mutex_init(&probe.error_lock, NULL);
    ug_layout L;
    int64_t k = format->group_size > 0 ? format->group_size : 64;
    ug_status st = ug_layout_make(&probe, format, 1, k, &L);
    pthread_mutex_destroy(&probe.error_lock);
    if (st != UG_OK) {
        say(why, why_size, probe.error);
        return st;
    }
    if (backend == UG_BACKEND_REF) { /* the oracle computes every valid combination */
        if (schedule == NULL || strcmp(schedule, "reference") == 0)
            return UG_OK;
        say(why, why_size, "backend ref has one schedule, 'reference'");
        return UG_ERR_UNSUPPORTED;
    }
    if (ug_schedule_count(backend) == 0) {
        say(why, why_size, backend == UG_BACKEND_CUDA
                               ? "backend cuda: this build has no CUDA support (nvcc was not "
                                 "found when it was configured)"
                               : "backend cpu: this build has no kernels for this architecture");
        return UG_ERR_BACKEND_UNAVAILABLE;
    }
    bool named = false;
    st = UG_ERR_UNSUPPORTED;
    for (int i = 0; i < ug_schedule_count_all && st != UG_OK; i++) {
        const ug_schedule_info *s = &ug_schedules[i];
        if (s->backend != backend || !schedule_built(s) ||
            (schedule != NULL && strcmp(schedule, s->name) != 0))
            continue;
        named = true;
        const ug_kernel_info *kern;
        st = ug_registry_kernel(NULL, s, a_type, format, &kern, why, why_size);
    }
    if (!named) {
        char msg[160];
        snprintf(msg, sizeof msg, "backend %s has no schedule '%.48s' in this build",
                 ug_backend_name(backend), schedule ? schedule : "(any)");
        say(why, why_size, msg);
    }
    return st;
}
