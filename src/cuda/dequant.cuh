/*
 * dequant.cuh - what the CUDA kernels share to turn packed codes into
 * tensor-core operands: activation-type traits (f16, bf16) with their
 * mma.sync form, float loads and stores by type code, the per-group state
 * (scale, bias, magic + zero point for rows g and g + 8 of a row block, also
 * in a packed 16-byte form per row that the wgmma kernel stages) and
 * dequant_step, which makes the four mma/wgmma "A" registers of one k16
 * step from the 16-byte words a lane holds of a chunk (layout:
 * gpu_layout.cuh). The dequantized weight is (code - zero) * scale + bias,
 * computed in the activation type with one rounding (8-bit codes under bf16
 * subtract in f32 first); full-precision weights are converted or passed
 * through.
 */
#ifndef UG_DEQUANT_CUH
#define UG_DEQUANT_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <string.h>

#include "kernels.cuh"

/* ---- activation-type traits ---------------------------------------------- */

struct act_f16 {
    typedef __half2 T2;
    static constexpr bool is_f16 = true;
    static constexpr uint32_t magic4 = 0x64006400u; /* 1024.0 in each half */
    static __device__ __forceinline__ T2 from_float(float v) { return __float2half2_rn(v); }
    static __device__ __forceinline__ T2 from_float2(float lo, float hi)
    {
        return __floats2half2_rn(lo, hi);
    }
    static __device__ __forceinline__ void mma(float *d, const uint32_t *a, uint32_t b0,
                                               uint32_t b1)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                     "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};

struct act_bf16 {
    typedef __nv_bfloat162 T2;
    static constexpr bool is_f16 = false;
    static constexpr uint32_t magic4 = 0x43004300u; /* 128.0 in each half */
    static __device__ __forceinline__ T2 from_float(float v) { return __float2bfloat162_rn(v); }
    static __device__ __forceinline__ T2 from_float2(float lo, float hi)
    {
        return __floats2bfloat162_rn(lo, hi);
    }
    static __device__ __forceinline__ void mma(float *d, const uint32_t *a, uint32_t b0,
                                               uint32_t b1)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                     "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};

template <typename T2> __device__ __forceinline__ T2 as_t2(uint32_t u)
{
    T2 v;
    memcpy(&v, &u, 4);
    return v;
}
template <typename T2> __device__ __forceinline__ uint32_t as_u32(T2 v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return u;
}

__device__ __forceinline__ float load_float(const void *base, int type, int64_t i)
{
    if (type == UG_KF32)
        return ((const float *)base)[i];
    if (type == UG_KF16)
        return __half2float(((const __half *)base)[i]);
    return __bfloat162float(((const __nv_bfloat16 *)base)[i]);
}

__device__ __forceinline__ void store_float(void *base, int type, int64_t i, float v)
{
    if (type == UG_KF32)
        ((float *)base)[i] = v;
    else if (type == UG_KF16)
        ((__half *)base)[i] = __float2half_rn(v);
    else
        ((__nv_bfloat16 *)base)[i] = __float2bfloat16_rn(v);
}

/* ---- per-group dequantization state -------------------------------------- */

/* Where a row block's scales, biases and zero points are: [groups][stride]
 * arrays of scale_type (zeros: biased uint8), biases/zeros NULL when the
 * method has none; code_offset is subtracted when zeros is NULL. */
struct group_source {
    const void *scales, *biases;
    const uint8_t *zeros;
    int64_t stride;
    int scale_type, code_offset;
};

/* One row's group parameters as stored: scale and bias bits (f32, or a
 * 16-bit value in the low half; bias 0 when the method has none) and the
 * zero point or code offset. Read with one predicated load each, so that a
 * caller can have several rows' loads in flight. */
struct group_raw_row {
    uint32_t scale, bias, zero;
};

__device__ __forceinline__ group_raw_row read_group_row(const group_source &src, int64_t at)
{
    const bool wide = src.scale_type == UG_KF32;
    group_raw_row r;
    r.scale = wide ? ((const uint32_t *)src.scales)[at] : ((const uint16_t *)src.scales)[at];
    r.bias = !src.biases ? 0u
             : wide      ? ((const uint32_t *)src.biases)[at]
                         : ((const uint16_t *)src.biases)[at];
    r.zero = src.zeros ? (uint32_t)src.zeros[at] : (uint32_t)src.code_offset;
    return r;
}

/* A chunk record's word for one row (gpu_layout.cuh: the scale's bits low;
 * high, the bias's bits where the method has biases, else the zero point or
 * code offset, below 256) turned into the row's packed state
 * (pack_group_row_same_type's, bit for bit) with one byte permutation per
 * value: the selectors and the constant bytes (magic and code offset) are
 * fixed per launch, so the state depends on the loaded word through a
 * single instruction. */
template <typename Act> struct record_unpacker {
    uint32_t bias_sel, sub_sel, sub_bytes, sub32_sel, sub32_bytes;

    __device__ __forceinline__ record_unpacker(bool has_bias, int code_offset)
    {
        const uint32_t magic_hi = (Act::magic4 >> 8) & 0xFFu,
                       offset = (uint32_t)code_offset & 0xFFu;
        /* bias: the word's high half twice, or zeros from the second operand */
        bias_sel = has_bias ? 0x3232u : 0x4444u;
        /* magic + zero: the zero point's byte (the word's byte 2) or the code
         * offset, under the magic's high byte, twice */
        sub_bytes = (magic_hi << 8 | offset) * 0x10001u;
        sub_sel = has_bias ? 0x5454u : 0x5252u;
        /* 2^23 + zero as f32 bits */
        sub32_bytes = 0x4B000000u | offset;
        sub32_sel = has_bias ? 0x7654u : 0x7652u;
    }

    __device__ __forceinline__ uint4 operator()(uint32_t word) const
    {
        return make_uint4(__byte_perm(word, 0, 0x1010), __byte_perm(word, 0, bias_sel),
                          __byte_perm(word, sub_bytes, sub_sel),
                          __byte_perm(word, sub32_bytes, sub32_sel));
    }
};

/* A scale or bias in the activation type, broadcast to both halves. Integer
 * work where it gives the same bits: a value already in the activation type
 * is broadcast as it is. */
template <typename Act>
__device__ __forceinline__ typename Act::T2 group_value(uint32_t raw, int scale_type)
{
    if (scale_type == (Act::is_f16 ? UG_KF16 : UG_KBF16))
        return as_t2<typename Act::T2>(__byte_perm(raw, 0, 0x1010));
    const float f = scale_type == UG_KF32 ? __uint_as_float(raw)
                    : scale_type == UG_KF16 ? __half2float(__ushort_as_half((unsigned short)raw))
                                            : __bfloat162float(__ushort_as_bfloat16((unsigned short)raw));
    return Act::from_float(f);
}

/* One row's dequantization state packed in 16 bytes, where the scales and
 * biases are stored in the activation type: scale, bias and magic + zero
 * point as activation-type pairs, and 2^23 + zero point as f32 bits.
 * magic + offset (offset < 256) is the magic's bit pattern with the offset
 * in its low mantissa bits (exact for f16 and f32; for bf16, only 4-bit
 * codes read it, offset < 16). No branches on the type, for callers that
 * test it once for many rows. */
template <typename Act> __device__ __forceinline__ uint4 pack_group_row_same_type(const group_raw_row &r)
{
    return make_uint4(__byte_perm(r.scale, 0, 0x1010), __byte_perm(r.bias, 0, 0x1010),
                      __byte_perm((Act::magic4 & 0xFFFFu) | r.zero, 0, 0x1010), 0x4B000000u | r.zero);
}

/* The same for scales and biases of any stored type (scale_type). */
template <typename Act> __device__ __forceinline__ uint4 pack_group_row(const group_raw_row &r, int scale_type)
{
    uint4 v = pack_group_row_same_type<Act>(r);
    v.x = as_u32(group_value<Act>(r.scale, scale_type));
    v.y = as_u32(group_value<Act>(r.bias, scale_type));
    return v;
}

/* Rows g and g+8 of the warp's row block ([0] and [1]): scale, bias and the
 * subtrahend magic + zero point, broadcast to both halves. */
template <typename Act> struct group_state {
    typename Act::T2 scale[2], bias[2], sub[2];
    float sub_f32[2]; /* 8-bit codes with bf16 activations go through f32 */

    /* Group gi of rows row0 and row0 + 8; src points at group row 0 (its
     * arrays may live in global or shared memory). */
    __device__ __forceinline__ void load(const group_source &src, int64_t gi, int64_t row0)
    {
        const int64_t at = gi * src.stride + row0;
        const group_raw_row r0 = read_group_row(src, at), r1 = read_group_row(src, at + 8);
        set(0, pack_group_row<Act>(r0, src.scale_type));
        set(1, pack_group_row<Act>(r1, src.scale_type));
    }

    /* Row h (0: g, 1: g + 8) from its packed form (pack_group_row). */
    __device__ __forceinline__ void set(int h, const uint4 &v)
    {
        scale[h] = as_t2<typename Act::T2>(v.x);
        bias[h] = as_t2<typename Act::T2>(v.y);
        sub[h] = as_t2<typename Act::T2>(v.z);
        sub_f32[h] = __uint_as_float(v.w);
    }
};

/* (x & mask) | bits in one LOP3: written out because with both constants
 * as immediates the compiler splits it into two instructions. */
__device__ __forceinline__ uint32_t and_or(uint32_t x, uint32_t mask, uint32_t bits)
{
    uint32_t d;
    asm("lop3.b32 %0, %1, %2, %3, 0xEA;\n" : "=r"(d) : "r"(x), "r"(mask), "r"(bits));
    return d;
}

/* The 4 mma A registers of k16 step `step` of a chunk held in `v`. */
template <int BITS, typename Act>
__device__ __forceinline__ void dequant_step(const uint4 *v, int step, const group_state<Act> &gs,
                                             int weight_type, uint32_t a[4])
{
    typedef typename Act::T2 T2;
    if constexpr (BITS == 4) {
        uint32_t x = step == 0 ? v[0].x : step == 1 ? v[0].y : step == 2 ? v[0].z : v[0].w;
#pragma unroll
        for (int r = 0; r < 4; r++) {
            uint32_t q = and_or(x >> (4 * r), 0x000F000Fu, Act::magic4);
            T2 d = __hsub2(as_t2<T2>(q), gs.sub[r & 1]);
            a[r] = as_u32(__hfma2(d, gs.scale[r & 1], gs.bias[r & 1]));
        }
    } else if constexpr (BITS == 8) {
        const uint4 &w = v[step >> 1];
        uint32_t w0 = (step & 1) ? w.z : w.x, w1 = (step & 1) ? w.w : w.y;
#pragma unroll
        for (int r = 0; r < 4; r++) {
            uint32_t word = r < 2 ? w0 : w1;
            int b = (r & 1) * 2; /* first byte of the pair */
            T2 d;
            if constexpr (Act::is_f16) {
                uint32_t q = __byte_perm(word, 0x64646464u, 0x4040u | b | ((b + 1) << 8));
                d = __hsub2(as_t2<T2>(q), gs.sub[r & 1]);
            } else {
                float lo = __uint_as_float(__byte_perm(word, 0x4B000000u, 0x7540u | b));
                float hi = __uint_as_float(__byte_perm(word, 0x4B000000u, 0x7540u | (b + 1)));
                d = Act::from_float2(lo - gs.sub_f32[r & 1], hi - gs.sub_f32[r & 1]);
            }
            a[r] = as_u32(__hfma2(d, gs.scale[r & 1], gs.bias[r & 1]));
        }
    } else if constexpr (BITS == 16) {
        const uint4 &w = v[step];
        uint32_t raw[4] = {w.x, w.y, w.z, w.w};
        bool same = (weight_type == UG_KF16) == Act::is_f16;
#pragma unroll
        for (int r = 0; r < 4; r++) {
            if (same) {
                a[r] = raw[r];
            } else if (weight_type == UG_KF16) {
                float2 f = __half22float2(as_t2<__half2>(raw[r]));
                a[r] = as_u32(Act::from_float2(f.x, f.y));
            } else {
                float2 f = __bfloat1622float2(as_t2<__nv_bfloat162>(raw[r]));
                a[r] = as_u32(Act::from_float2(f.x, f.y));
            }
        }
    } else {
        const uint4 &lo = v[2 * step], &hi = v[2 * step + 1];
        a[0] = as_u32(Act::from_float2(__uint_as_float(lo.x), __uint_as_float(lo.y)));
        a[1] = as_u32(Act::from_float2(__uint_as_float(lo.z), __uint_as_float(lo.w)));
        a[2] = as_u32(Act::from_float2(__uint_as_float(hi.x), __uint_as_float(hi.y)));
        a[3] = as_u32(Act::from_float2(__uint_as_float(hi.z), __uint_as_float(hi.w)));
    }
}

#endif /* UG_DEQUANT_CUH */
