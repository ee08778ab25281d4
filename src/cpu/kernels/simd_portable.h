/*
 * simd_portable.h - the panel-vector primitives of kernel_body.h in portable
 * C: a panel vector is an array of 16 floats that the compiler may vectorize
 * for whatever the baseline target offers. Runs everywhere; the reference the
 * SIMD paths are tested beside. Included once, by the generated
 * src/generated/cpu_portable.c.
 */
#ifndef UG_CPU_SIMD_PORTABLE_H
#define UG_CPU_SIMD_PORTABLE_H
#include <math.h>
#include <string.h>

#include "../cpu.h"

typedef struct pv {
    float v[CPU_NR];
} pv;

#define PV_MAP(expr)                                                                     \
    pv r;                                                                                \
    for (int l = 0; l < CPU_NR; l++)                                                     \
        r.v[l] = (expr);                                                                 \
    return r

static inline pv pv_zero(void)
{
    PV_MAP(0.0f);
}
static inline pv pv_bcast(float f)
{
    PV_MAP(f);
}
static inline pv pv_add(pv x, pv y)
{
    PV_MAP(x.v[l] + y.v[l]);
}
static inline pv pv_sub(pv x, pv y)
{
    PV_MAP(x.v[l] - y.v[l]);
}
static inline pv pv_fma(pv x, pv y, pv z)
{
    PV_MAP(fmaf(x.v[l], y.v[l], z.v[l]));
}
static inline pv pv_fnma(pv x, pv y, pv z)
{
    PV_MAP(fmaf(-x.v[l], y.v[l], z.v[l]));
}
static inline pv pv_load(const float *p)
{
    pv r;
    memcpy(r.v, p, sizeof r.v);
    return r;
}
static inline void pv_store(float *p, pv v)
{
    memcpy(p, v.v, sizeof v.v);
}
static inline pv pv_load_f16(const void *p)
{
    uint16_t h[CPU_NR];
    memcpy(h, p, sizeof h);
    PV_MAP(ug_f16_to_f32(h[l]));
}
static inline pv pv_load_bf16(const void *p)
{
    uint16_t h[CPU_NR];
    memcpy(h, p, sizeof h);
    PV_MAP(ug_bf16_to_f32(h[l]));
}
static inline pv pv_u8(const uint8_t *p)
{
    PV_MAP((float)p[l]);
}
static inline pv pv_s8(const uint8_t *p)
{
    PV_MAP((float)(int8_t)p[l]);
}
static inline void pv_u4(const uint8_t *p, pv *lo, pv *hi)
{
    for (int l = 0; l < CPU_NR; l++) {
        lo->v[l] = (float)(p[l] & 15);
        hi->v[l] = (float)(p[l] >> 4);
    }
}

static inline float scalar_f16(uint16_t h)
{
    return ug_f16_to_f32(h);
}

#endif /* UG_CPU_SIMD_PORTABLE_H */
