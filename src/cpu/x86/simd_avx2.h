/*
 * simd_avx2.h - the panel-vector primitives of kernel_body.h for AVX2 + FMA
 * + F16C (the including file is compiled with -mavx2 -mfma -mf16c and runs
 * only when CPUID reports all three). A panel vector is two ymm registers.
 * Included once, by the generated src/generated/cpu_avx2.c.
 */
#ifndef UG_CPU_SIMD_AVX2_H
#define UG_CPU_SIMD_AVX2_H
#include <immintrin.h>

#include "../cpu.h"

typedef struct pv {
    __m256 a, b; /* lanes 0..7, 8..15 */
} pv;

static inline pv pv_make(__m256 a, __m256 b)
{
    pv r = {a, b};
    return r;
}
static inline pv pv_zero(void)
{
    return pv_make(_mm256_setzero_ps(), _mm256_setzero_ps());
}
static inline pv pv_bcast(float f)
{
    __m256 v = _mm256_set1_ps(f);
    return pv_make(v, v);
}
static inline pv pv_add(pv x, pv y)
{
    return pv_make(_mm256_add_ps(x.a, y.a), _mm256_add_ps(x.b, y.b));
}
static inline pv pv_sub(pv x, pv y)
{
    return pv_make(_mm256_sub_ps(x.a, y.a), _mm256_sub_ps(x.b, y.b));
}
static inline pv pv_fma(pv x, pv y, pv z)
{
    return pv_make(_mm256_fmadd_ps(x.a, y.a, z.a), _mm256_fmadd_ps(x.b, y.b, z.b));
}
static inline pv pv_fnma(pv x, pv y, pv z)
{
    return pv_make(_mm256_fnmadd_ps(x.a, y.a, z.a), _mm256_fnmadd_ps(x.b, y.b, z.b));
}
static inline pv pv_load(const float *p)
{
    return pv_make(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8));
}
static inline void pv_store(float *p, pv v)
{
    _mm256_storeu_ps(p, v.a);
    _mm256_storeu_ps(p + 8, v.b);
}
static inline pv pv_load_f16(const void *p)
{
    const __m128i *q = (const __m128i *)p;
    return pv_make(_mm256_cvtph_ps(_mm_loadu_si128(q)), _mm256_cvtph_ps(_mm_loadu_si128(q + 1)));
}
static inline __m256 bf16x8(const void *p)
{
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
static inline pv pv_load_bf16(const void *p)
{
    return pv_make(bf16x8(p), bf16x8((const uint16_t *)p + 8));
}
static inline __m256i u8x8(const uint8_t *p)
{
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}
static inline pv pv_u8(const uint8_t *p)
{
    return pv_make(_mm256_cvtepi32_ps(u8x8(p)), _mm256_cvtepi32_ps(u8x8(p + 8)));
}
static inline __m256i s8x8(const uint8_t *p)
{
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p));
}
static inline pv pv_s8(const uint8_t *p)
{
    return pv_make(_mm256_cvtepi32_ps(s8x8(p)), _mm256_cvtepi32_ps(s8x8(p + 8)));
}
static inline void pv_u4(const uint8_t *p, pv *lo, pv *hi)
{
    const __m256i m = _mm256_set1_epi32(15);
    __m256i a = u8x8(p), b = u8x8(p + 8);
    *lo = pv_make(_mm256_cvtepi32_ps(_mm256_and_si256(a, m)),
                  _mm256_cvtepi32_ps(_mm256_and_si256(b, m)));
    *hi = pv_make(_mm256_cvtepi32_ps(_mm256_srli_epi32(a, 4)),
                  _mm256_cvtepi32_ps(_mm256_srli_epi32(b, 4)));
}

static inline float scalar_f16(uint16_t h)
{
    return _cvtsh_ss(h);
}

#endif /* UG_CPU_SIMD_AVX2_H */
