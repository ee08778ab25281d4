/*
 * gemm_16bit.cu - the large-M kernels for 16-bit weights (float16, bfloat16): every tile
 * and both activation types (see gemm_kernel.cuh).
 */
#include "gemm_kernel.cuh"

ug_gemm_fn ug_gemm_pick_16bit(int rows, int tn, int bf16)
{
    return gemm_pick<16>(rows, tn, bf16);
}
