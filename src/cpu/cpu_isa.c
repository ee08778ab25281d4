/*
 * cpu_isa.c - which instruction set the cpu backend's kernels use: CPUID
 * (with the OS's register-state support, as GCC's __builtin_cpu_supports
 * checks it) picks the best; UG_CPU_ISA may name a lower one.
 */
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

static const char *const isa_names[UG_CPU_ISA_COUNT_] = {
    [UG_CPU_ISA_PORTABLE] = "portable",
    [UG_CPU_ISA_AVX2] = "avx2",
    [UG_CPU_ISA_AVX512] = "avx512",
};

const char *ug_cpu_isa_name(ug_cpu_isa isa)
{
    return (int)isa >= 0 && isa < UG_CPU_ISA_COUNT_ ? isa_names[isa] : "?";
}

ug_cpu_isa ug_cpu_isa_best(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    /* F16C from CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports
     * does not know the name. */
    unsigned eax, ebx, ecx = 0, edx;
    bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29));
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
    bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                  __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    return avx512 ? UG_CPU_ISA_AVX512 : avx2 ? UG_CPU_ISA_AVX2 : UG_CPU_ISA_PORTABLE;
#else
    return UG_CPU_ISA_PORTABLE;
#endif
}

ug_status ug_cpu_isa_choose(ug_cpu_isa *isa, char *why, size_t why_size)
{
    ug_cpu_isa best = ug_cpu_isa_best();
    const char *env = getenv("UG_CPU_ISA");
    *isa = best;
    if (env == NULL || env[0] == '\0')
        return UG_OK;
    for (int i = 0; i < UG_CPU_ISA_COUNT_; i++) {
        if (strcmp(env, isa_names[i]) != 0)
            continue;
        if ((ug_cpu_isa)i > best) {
            snprintf(why, why_size,
                     "ug_context_create: UG_CPU_ISA = %s, but this CPU runs at most %s", env,
                     isa_names[best]);
            return UG_ERR_UNSUPPORTED;
        }
        *isa = (ug_cpu_isa)i;
        return UG_OK;
    }
    snprintf(why, why_size,
             "ug_context_create: UG_CPU_ISA = '%.32s' is not one of portable, avx2, avx512", env);
    return UG_ERR_UNKNOWN_NAME;
}

void ug_cpu_device_id(ug_cpu_isa isa, char *buf, size_t size)
{
    char brand[49] = "";
#if defined(__x86_64__)
    unsigned regs[12];
    if (__get_cpuid(0x80000000u, &regs[0], &regs[1], &regs[2], &regs[3]) &&
        regs[0] >= 0x80000004u) {
        for (unsigned leaf = 0; leaf < 3; leaf++)
            __get_cpuid(0x80000002u + leaf, &regs[4 * leaf], &regs[4 * leaf + 1],
                        &regs[4 * leaf + 2], &regs[4 * leaf + 3]);
        memcpy(brand, regs, 48);
        brand[48] = '\0';
    }
#endif
    /* trim the padding CPUID leaves around the name */
    char *start = brand;
    while (*start == ' ')
        start++;
    size_t len = strlen(start);
    while (len > 0 && start[len - 1] == ' ')
        start[--len] = '\0';
    snprintf(buf, size, "cpu %s (%s)", start[0] ? start : "unknown processor",
             ug_cpu_isa_name(isa));
}
