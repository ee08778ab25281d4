/*
 * gemm_8bit.cu - the large-M kernels for 8-bit codes (uint8, int8): every tile
 * and both activation types (see gemm_kernel.cuh).
 */
#include "gemm_kernel.cuh"

ug_gemm_fn ug_gemm_pick_8bit(int rows, int tn, int bf16)
{
    return gemm_pick<8>(rows, tn, bf16);
}
