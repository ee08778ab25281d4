/*
 * decode_8bit.cu - the decode kernels for 8-bit codes (uint8, int8): every token
 * tile and both activation types (see decode_kernel.cuh).
 */
#include "decode_kernel.cuh"

ug_decode_fn ug_decode_pick_8bit(int tn, int bf16)
{
    return decode_pick<8>(tn, bf16);
}
