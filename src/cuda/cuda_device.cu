/*
 * cuda_device.cu - what the CUDA runtime says about the GPUs here: how many
 * devices there are (0, with CUDA's reason, when there is no driver or no
 * device) and a one-line description of each. Built with nvcc for sm_90a
 * whenever nvcc is present; the library still loads where no driver exists
 * because the runtime is linked statically and finds the driver at run time.
 */
#include <cuda_runtime.h>
#include <stdio.h>

#include "unigemm.h"

extern "C" int32_t ug_cuda_device_count(char *why, size_t why_size)
{
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        if (why && why_size)
            snprintf(why, why_size, "no usable CUDA device (cudaGetDeviceCount: %s)",
                     cudaGetErrorString(err));
        cudaGetLastError(); /* reset the runtime's last-error slot */
        return 0;
    }
    if (count == 0 && why && why_size)
        snprintf(why, why_size, "no CUDA device present");
    return count;
}

extern "C" ug_status ug_cuda_device_describe(int32_t ordinal, char *buf, size_t size)
{
    if (buf == NULL || size == 0)
        return UG_ERR_NULL_ARGUMENT;
    cudaDeviceProp prop;
    cudaError_t err = cudaGetDeviceProperties(&prop, ordinal);
    if (err != cudaSuccess) {
        snprintf(buf, size, "device %d: %s", (int)ordinal, cudaGetErrorString(err));
        cudaGetLastError();
        return err == cudaErrorInvalidDevice ? UG_ERR_INVALID_VALUE : UG_ERR_DEVICE;
    }
    snprintf(buf, size, "device %d: %s, sm_%d%d, %d SMs, %.1f GiB, L2 %.0f MiB%s", (int)ordinal,
             prop.name, prop.major, prop.minor, prop.multiProcessorCount,
             (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0),
             (double)prop.l2CacheSize / (1024.0 * 1024.0),
             prop.major == 9 ? "" : " (kernels are built for sm_90a only)");
    return UG_OK;
}
