/*
 * context.c - creating a context: the backend (auto resolves to cuda when
 * the device can run its kernels, else to cpu), the CPU thread count and
 * instruction set, the CUDA device and stream, the device id that tuning
 * tables are made for, and the tuning table itself (ug_context_load_tuning,
 * or the file UG_TUNING_FILE names when the context is created).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../dispatch/tuning.h"
#include "internal.h"

#define UG_MAX_THREADS 1024

static ug_status create_fail(char *error, size_t error_size, ug_status st, const char *msg)
{
    if (error != NULL && error_size > 0)
        snprintf(error, error_size, "%s", msg);
    return st;
}

static ug_status load_tuning_file(ug_context *ctx, const char *path, bool from_env);

static int32_t default_threads(void)
{
#ifdef _OPENMP
    return (int32_t)omp_get_num_procs();
#else
    return 1;
#endif
}

ug_status ug_context_create(const ug_context_options *opt, ug_context **out, char *error,
                            size_t error_size)
{
    char msg[UG_ERROR_CAPACITY];
    if (out == NULL)
        return create_fail(error, error_size, UG_ERR_NULL_ARGUMENT,
                           "ug_context_create: out is NULL");
    *out = NULL;
    if (opt == NULL)
        return create_fail(error, error_size, UG_ERR_NULL_ARGUMENT,
                           "ug_context_create: options is NULL (use UG_CONTEXT_OPTIONS_INIT)");
    if (opt->struct_version == 0 || opt->struct_version > UG_STRUCT_VERSION) {
        snprintf(msg, sizeof msg,
                 "ug_context_create: options.struct_version = %u, this library reads 1..%u",
                 (unsigned)opt->struct_version, (unsigned)UG_STRUCT_VERSION);
        return create_fail(error, error_size, UG_ERR_STRUCT_VERSION, msg);
    }
    if ((int)opt->backend < 0 || opt->backend >= UG_BACKEND_COUNT_) {
        snprintf(msg, sizeof msg, "ug_context_create: options.backend = %d is not a ug_backend",
                 (int)opt->backend);
        return create_fail(error, error_size, UG_ERR_INVALID_ENUM, msg);
    }
    if (opt->num_threads < 0 || opt->num_threads > UG_MAX_THREADS) {
        snprintf(msg, sizeof msg,
                 "ug_context_create: options.num_threads = %d (must be 0 for all, or 1..%d)",
                 (int)opt->num_threads, UG_MAX_THREADS);
        return create_fail(error, error_size, UG_ERR_INVALID_VALUE, msg);
    }

    const ug_backend_ops *ops = NULL;
    ug_backend backend = opt->backend;
    ug_status why_status;
    switch (backend) {
    case UG_BACKEND_AUTO:
        /* cuda when the device asked for can run the kernels, else cpu. */
        ops = ug_cuda_backend_ops(opt->device, &why_status, msg, sizeof msg);
        backend = ops ? UG_BACKEND_CUDA : UG_BACKEND_CPU;
        if (ops == NULL)
            ops = &ug_cpu_ops;
        break;
    case UG_BACKEND_CPU:
        ops = &ug_cpu_ops;
        break;
    case UG_BACKEND_REF:
        ops = &ug_ref_ops;
        break;
    case UG_BACKEND_CUDA:
        ops = ug_cuda_backend_ops(opt->device, &why_status, msg, sizeof msg);
        if (ops == NULL)
            return create_fail(error, error_size, why_status, msg);
        break;
    default:
        break;
    }

    ug_cpu_isa isa = UG_CPU_ISA_PORTABLE;
    if (backend == UG_BACKEND_CPU) {
        ug_status st = ug_cpu_isa_choose(&isa, msg, sizeof msg);
        if (st != UG_OK)
            return create_fail(error, error_size, st, msg);
    }

    ug_context *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return create_fail(error, error_size, UG_ERR_OUT_OF_MEMORY,
                           "ug_context_create: out of host memory");
    if (pthread_mutex_init(&ctx->error_lock, NULL) != 0) {
        free(ctx);
        return create_fail(error, error_size, UG_ERR_OUT_OF_MEMORY,
                           "ug_context_create: cannot create the error lock");
    }
    if (pthread_mutex_init(&ctx->tuning_lock, NULL) != 0) {
        pthread_mutex_destroy(&ctx->error_lock);
        free(ctx);
        return create_fail(error, error_size, UG_ERR_OUT_OF_MEMORY,
                           "ug_context_create: cannot create the tuning lock");
    }
    ctx->backend = backend;
    ctx->ops = ops;
    ctx->num_threads = opt->num_threads == 0 ? default_threads() : opt->num_threads;
    ctx->cpu_isa = isa;
    ctx->device = opt->device;
    ctx->stream = opt->stream;
    ops->device_id(ctx, ctx->device_id, sizeof ctx->device_id);
    const char *table = getenv("UG_TUNING_FILE");
    if (table != NULL && table[0] != '\0') {
        ug_status st = load_tuning_file(ctx, table, true);
        if (st != UG_OK) {
            snprintf(msg, sizeof msg, "ug_context_create: UG_TUNING_FILE: %.960s", ctx->error);
            ug_context_destroy(ctx);
            return create_fail(error, error_size, st, msg);
        }
    }
    *out = ctx;
    return UG_OK;
}

void ug_context_destroy(ug_context *ctx)
{
    if (ctx == NULL)
        return;
    ug_tuning_free(ctx->tuning);
    pthread_mutex_destroy(&ctx->tuning_lock);
    pthread_mutex_destroy(&ctx->error_lock);
    free(ctx);
}

const char *ug_context_device_id(const ug_context *ctx)
{
    return ctx == NULL ? "" : ctx->device_id;
}

/* Install `t` (NULL: none) in place of the context's table. */
static void install_tuning(ug_context *ctx, ug_tuning *t)
{
    pthread_mutex_lock(&ctx->tuning_lock);
    ug_tuning *old = ctx->tuning;
    ctx->tuning = t;
    pthread_mutex_unlock(&ctx->tuning_lock);
    ug_tuning_free(old);
}

/* Tables are small; a file larger than this is not one. */
#define UG_TUNING_MAX_BYTES (64u << 20)

/* Read and install the table at `path`; from_env: UG_TUNING_FILE's (tables
 * of another backend are skipped). */
static ug_status load_tuning_file(ug_context *ctx, const char *path, bool from_env)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return ug_fail(ctx, UG_ERR_FILE_IO, "tuning table %.256s cannot be opened", path);
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return ug_fail(ctx, UG_ERR_FILE_IO, "tuning table %.256s cannot be read", path);
    }
    if ((unsigned long)size > UG_TUNING_MAX_BYTES) {
        fclose(f);
        return ug_fail(ctx, UG_ERR_FILE_FORMAT, "tuning table %.256s is larger than %u MiB",
                       path, UG_TUNING_MAX_BYTES >> 20);
    }
    char *data = malloc((size_t)size + 1);
    if (data == NULL) {
        fclose(f);
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "ug_context_load_tuning: out of host memory");
    }
    size_t got = fread(data, 1, (size_t)size, f);
    bool bad = ferror(f) != 0 || got != (size_t)size;
    fclose(f);
    ug_status st;
    if (bad) {
        st = ug_fail(ctx, UG_ERR_FILE_IO, "tuning table %.256s cannot be read", path);
    } else {
        ug_tuning *t;
        char origin[300];
        snprintf(origin, sizeof origin, "tuning table %.256s", path);
        st = ug_tuning_parse(ctx, origin, data, got, from_env, &t);
        if (st == UG_OK && t != NULL)
            install_tuning(ctx, t);
    }
    free(data);
    return st;
}

ug_status ug_context_load_tuning(ug_context *ctx, const char *path)
{
    if (ctx == NULL)
        return UG_ERR_NULL_ARGUMENT;
    if (path == NULL) {
        install_tuning(ctx, NULL);
        return UG_OK;
    }
    return load_tuning_file(ctx, path, false);
}

ug_status ug_context_load_tuning_memory(ug_context *ctx, const void *data, size_t size)
{
    if (ctx == NULL)
        return UG_ERR_NULL_ARGUMENT;
    if (data == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "ug_context_load_tuning_memory: data is NULL");
    ug_tuning *t;
    ug_status st = ug_tuning_parse(ctx, "the tuning table", data, size, false, &t);
    if (st == UG_OK)
        install_tuning(ctx, t);
    return st;
}

ug_backend ug_context_backend(const ug_context *ctx)
{
    return ctx == NULL ? UG_BACKEND_AUTO : ctx->backend;
}

const char *ug_context_cpu_isa(const ug_context *ctx)
{
    return ctx == NULL || ctx->backend != UG_BACKEND_CPU ? "" : ug_cpu_isa_name(ctx->cpu_isa);
}

int32_t ug_context_num_threads(const ug_context *ctx)
{
    return ctx == NULL ? 0 : ctx->num_threads;
}

const char *ug_context_last_error(const ug_context *ctx)
{
    return ctx == NULL ? "ug_context_last_error: ctx is NULL" : ctx->error;
}

ug_status ug_context_last_error_copy(ug_context *ctx, char *buf, size_t size)
{
    if (ctx == NULL || buf == NULL || size == 0)
        return UG_ERR_NULL_ARGUMENT;
    pthread_mutex_lock(&ctx->error_lock);
    snprintf(buf, size, "%s", ctx->error);
    pthread_mutex_unlock(&ctx->error_lock);
    return UG_OK;
}
