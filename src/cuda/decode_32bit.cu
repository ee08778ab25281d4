/*
 * decode_32bit.cu - the decode kernels for 32-bit weights (float32): every token
 * tile and both activation types (see decode_kernel.cuh).
 */
#include "decode_kernel.cuh"

ug_decode_fn ug_decode_pick_32bit(int tn, int bf16)
{
    return decode_pick<32>(tn, bf16);
}
