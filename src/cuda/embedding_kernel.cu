/*
 * embedding_kernel.cu - quantized embedding lookup on the GPU:
 * out[i][k] = dequant(W)[ids[i]][k] for W [vocab][dim] in the layout of
 * gpu_layout.cuh. Each weight is dequantized in f64 (exact for f16/bf16
 * scales) and rounded once to the output type, like the oracle. The ids
 * travel in the kernel's parameters (UG_EMBED_IDS_PER_LAUNCH per launch),
 * so a lookup needs no device allocation and no host synchronization.
 * Grid: x over dim in blocks of 256, y over the ids of the launch.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels.cuh"

static __device__ double load_scale(const void *base, int type, int64_t i)
{
    if (type == UG_KF32)
        return (double)((const float *)base)[i];
    if (type == UG_KF16)
        return (double)__half2float(((const __half *)base)[i]);
    return (double)__bfloat162float(((const __nv_bfloat16 *)base)[i]);
}

static __global__ void embed_kernel(const __grid_constant__ ug_embed_params p)
{
    const ug_gpu_layout *L = &p.layout;
    int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= L->k)
        return;
    int64_t n = p.ids[blockIdx.y];
    int shift;
    int64_t at = ug_gpu_code_offset(L, n, k, &shift);
    double w;
    if (L->bits == 4 || L->bits == 8) {
        int q = L->bits == 4 ? (p.codes[at] >> shift) & 0xF : p.codes[at];
        int64_t gi = L->group_shift < 0 ? 0 : k >> L->group_shift;
        int64_t g_at = gi * L->n_pad + n;
        int offset = p.zeros ? (int)p.zeros[g_at] : p.code_offset;
        w = load_scale(p.scales, p.scale_type, g_at) * (double)(q - offset);
        if (p.biases)
            w += load_scale(p.biases, p.scale_type, g_at);
    } else {
        w = load_scale(p.codes + at, p.weight_type, 0);
    }
    int64_t o = (int64_t)blockIdx.y * p.ldo + k;
    if (p.out_type == UG_KF32)
        ((float *)p.out)[o] = __double2float_rn(w);
    else if (p.out_type == UG_KF16)
        ((__half *)p.out)[o] = __double2half(w);
    else
        ((__nv_bfloat16 *)p.out)[o] = __double2bfloat16(w);
}

cudaError_t ug_embed_launch(const ug_embed_params *p, cudaStream_t stream)
{
    dim3 grid((unsigned)((p->layout.k + 255) / 256), (unsigned)p->count, 1);
    embed_kernel<<<grid, 256, 0, stream>>>(*p);
    return cudaGetLastError();
}
