/*
 * decode_16bit.cu - the decode kernels for 16-bit weights (float16, bfloat16): every token
 * tile and both activation types (see decode_kernel.cuh).
 */
#include "decode_kernel.cuh"

ug_decode_fn ug_decode_pick_16bit(int tn, int bf16)
{
    return decode_pick<16>(tn, bf16);
}
