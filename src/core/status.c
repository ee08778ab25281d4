/*
 * status.c - status strings, the library version, and ug_fail(), which
 * records a message in a context (under its lock) and returns the status.
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

#define UG_STR_(x) #x
#define UG_STR(x) UG_STR_(x)

const char *ug_version(void)
{
    return UG_STR(UG_VERSION_MAJOR) "." UG_STR(UG_VERSION_MINOR) "." UG_STR(UG_VERSION_PATCH);
}

static const char *const status_text[UG_ERR_COUNT_] = {
    [UG_OK] = "success",
    [UG_ERR_NULL_ARGUMENT] = "null argument",
    [UG_ERR_STRUCT_VERSION] = "unknown struct version",
    [UG_ERR_INVALID_ENUM] = "invalid enum value",
    [UG_ERR_UNKNOWN_NAME] = "unknown name",
    [UG_ERR_INVALID_SHAPE] = "invalid shape",
    [UG_ERR_SIZE_OVERFLOW] = "size overflow",
    [UG_ERR_INVALID_GROUP_SIZE] = "invalid group size",
    [UG_ERR_GROUP_NOT_DIVIDING_K] = "group size does not divide K",
    [UG_ERR_K_NOT_PACKABLE] = "K is not a multiple of the packing",
    [UG_ERR_INVALID_STRIDE] = "invalid stride",
    [UG_ERR_INVALID_VALUE] = "invalid value",
    [UG_ERR_ALIASING] = "output overlaps an input",
    [UG_ERR_MISALIGNED] = "misaligned pointer",
    [UG_ERR_UNSUPPORTED] = "unsupported combination",
    [UG_ERR_MISMATCH] = "mismatch between weights, plan and context",
    [UG_ERR_WORKSPACE_TOO_SMALL] = "workspace too small",
    [UG_ERR_OUT_OF_MEMORY] = "out of memory",
    [UG_ERR_BACKEND_UNAVAILABLE] = "backend unavailable",
    [UG_ERR_DEVICE] = "device error",
    [UG_ERR_FILE_IO] = "cannot read the file",
    [UG_ERR_FILE_FORMAT] = "malformed checkpoint file",
    [UG_ERR_FILE_TRUNCATED] = "file truncated",
    [UG_ERR_FILE_RANGE] = "tensor data outside the file",
    [UG_ERR_FILE_OVERLAP] = "tensors overlap",
    [UG_ERR_FILE_DTYPE] = "unexpected tensor type",
    [UG_ERR_FILE_SHAPE] = "tensor shape disagrees with its data or companions",
    [UG_ERR_MISSING_TENSOR] = "tensor not found",
    [UG_ERR_AMBIGUOUS] = "the checkpoint does not settle a parameter",
};

const char *ug_status_str(ug_status status)
{
    if ((int)status < 0 || status >= UG_ERR_COUNT_)
        return "unknown status";
    return status_text[status];
}

ug_status ug_fail(ug_context *ctx, ug_status status, const char *fmt, ...)
{
    if (ctx == NULL)
        return status;
    va_list args;
    va_start(args, fmt);
    pthread_mutex_lock(&ctx->error_lock);
    vsnprintf(ctx->error, sizeof ctx->error, fmt, args);
    pthread_mutex_unlock(&ctx->error_lock);
    va_end(args);
    return status;
}
