/*
 * gemm_4bit.cu - the large-M kernels for 4-bit codes (uint4, int4): every tile
 * and both activation types (see gemm_kernel.cuh).
 */
#include "gemm_kernel.cuh"

ug_gemm_fn ug_gemm_pick_4bit(int rows, int tn, int bf16)
{
    return gemm_pick<4>(rows, tn, bf16);
}
