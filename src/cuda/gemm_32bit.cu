/*
 * gemm_32bit.cu - the large-M kernels for 32-bit weights (float32): every tile
 * and both activation types (see gemm_kernel.cuh).
 */
#include "gemm_kernel.cuh"

ug_gemm_fn ug_gemm_pick_32bit(int rows, int tn, int bf16)
{
    return gemm_pick<32>(rows, tn, bf16);
}
