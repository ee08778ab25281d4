/*
 * decode_4bit.cu - the decode kernels for 4-bit codes (uint4, int4): every token
 * tile and both activation types (see decode_kernel.cuh).
 */
#include "decode_kernel.cuh"

ug_decode_fn ug_decode_pick_4bit(int tn, int bf16)
{
    return decode_pick<4>(tn, bf16);
}
