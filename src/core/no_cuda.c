/*
 * no_cuda.c - the CUDA answers of a build made without nvcc: there are no
 * devices and no cuda backend, and the reason says so.
 */
#include <stdio.h>

#include "internal.h"

int32_t ug_cuda_device_count(char *why, size_t why_size)
{
    if (why && why_size)
        snprintf(why, why_size,
                 "this build has no CUDA support (nvcc was not found when it "
                 "was configured)");
    return 0;
}

ug_status ug_cuda_device_describe(int32_t ordinal, char *buf, size_t size)
{
    if (buf == NULL || size == 0)
        return UG_ERR_NULL_ARGUMENT;
    snprintf(buf, size, "device %d: no CUDA support in this build", (int)ordinal);
    return UG_ERR_BACKEND_UNAVAILABLE;
}

const ug_backend_ops *ug_cuda_backend_ops(int32_t device, ug_status *status, char *why,
                                          size_t why_size)
{
    (void)device;
    *status = UG_ERR_BACKEND_UNAVAILABLE;
    snprintf(why, why_size,
             "backend cuda: this build has no CUDA support (nvcc was not found when it was "
             "configured)");
    return NULL;
}
