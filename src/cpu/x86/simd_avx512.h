/*
 * simd_avx512.h - the panel-vector primitives of kernel_body.h for AVX-512
 * F/BW/VL (the including file is compiled with -mavx512f -mavx512bw
 * -mavx512vl -mfma -mf16c and runs only when CPUID and the OS report them).
 * A panel vector is one zmm register. Included once, by the generated
 * src/generated/cpu_avx512.c.
 */
#ifndef UG_CPU_SIMD_AVX512_H
#define UG_CPU_SIMD_AVX512_H
#include <immintrin.h>

#include "../cpu.h"

typedef __m512 pv;

static inline pv pv_zero(void)
{
    return _mm512_setzero_ps();
}
static inline pv pv_bcast(float f)
{
    return _mm512_set1_ps(f);
}
static inline pv pv_add(pv x, pv y)
{
    return _mm512_add_ps(x, y);
}
static inline pv pv_sub(pv x, pv y)
{
    return _mm512_sub_ps(x, y);
}
static inline pv pv_fma(pv x, pv y, pv z)
{
    return _mm512_fmadd_ps(x, y, z);
}
static inline pv pv_fnma(pv x, pv y, pv z)
{
    return _mm512_fnmadd_ps(x, y, z);
}
static inline pv pv_load(const float *p)
{
    return _mm512_loadu_ps(p);
}
static inline void pv_store(float *p, pv v)
{
    _mm512_storeu_ps(p, v);
}
static inline pv pv_load_f16(const void *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}
static inline pv pv_load_bf16(const void *p)
{
    __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}
static inline __m512i u8x16(const uint8_t *p)
{
    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
}
static inline pv pv_u8(const uint8_t *p)
{
    return _mm512_cvtepi32_ps(u8x16(p));
}
static inline pv pv_s8(const uint8_t *p)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
}
/* vpermps reads only the low 4 bits of each index: a table of 0..15 turns
 * a nibble into its float in one instruction, no mask, no conversion. */
static inline void pv_u4(const uint8_t *p, pv *lo, pv *hi)
{
    const __m512 table = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i a = u8x16(p);
    *lo = _mm512_permutexvar_ps(a, table);
    *hi = _mm512_permutexvar_ps(_mm512_srli_epi32(a, 4), table);
}

static inline float scalar_f16(uint16_t h)
{
    return _cvtsh_ss(h);
}

#endif /* UG_CPU_SIMD_AVX512_H */
