/*
 * no_cuda.c - the CUDA presence answers of a build made without nvcc:
 * there are no devices, and the reason says so.
 */
#include <stdio.h>

#include "internal.h"

int ug_cuda_device_count(char *why, size_t why_size)
{
    if (why && why_size)
        snprintf(why, why_size, "this build has no CUDA support (nvcc was not found when it "
                                "was configured)");
    return 0;
}

void ug_cuda_device_describe(int ordinal, char *buf, size_t size)
{
    snprintf(buf, size, "device %d: no CUDA support in this build", ordinal);
}
