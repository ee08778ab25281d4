/*
 * cmd_info.c - `unigemm info`: library version, the backends and what each
 * runs on this machine, CPU model and SIMD features, CUDA devices, and the
 * CUDA runtime, driver and cuBLAS versions the command's cuda bench uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void cpu_model(char *buf, size_t size)
{
    snprintf(buf, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                snprintf(buf, size, "%s", colon + 2);
                buf[strcspn(buf, "\n")] = '\0';
            }
            break;
        }
    }
    fclose(f);
}

static void print_cpu_features(void)
{
    __builtin_cpu_init();
    printf("cpu features:");
    if (__builtin_cpu_supports("avx2"))
        printf(" avx2");
    if (__builtin_cpu_supports("fma"))
        printf(" fma");
    if (__builtin_cpu_supports("f16c"))
        printf(" f16c");
    if (__builtin_cpu_supports("avx512f"))
        printf(" avx512f");
    if (__builtin_cpu_supports("avx512bw"))
        printf(" avx512bw");
    if (__builtin_cpu_supports("avx512vl"))
        printf(" avx512vl");
    if (__builtin_cpu_supports("avx512vnni"))
        printf(" avx512vnni");
    if (__builtin_cpu_supports("avx512bf16"))
        printf(" avx512bf16");
    printf("\n");
}

int cmd_info(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "unigemm info: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    char model[256];
    cpu_model(model, sizeof model);
    printf("unigemm %s\n", ug_version());
    printf("cpu: %s\n", model);
    print_cpu_features();

    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = UG_BACKEND_CPU;
    ug_context *ctx = NULL;
    char err[512];
    char cpu_line[600];
    if (ug_context_create(&opt, &ctx, err, sizeof err) == UG_OK) {
        printf("threads: %d (OpenMP)\n", (int)ug_context_num_threads(ctx));
        snprintf(cpu_line, sizeof cpu_line,
                 "available: kernels: %s (decode and prefill; UG_CPU_ISA forces a lower one)",
                 ug_context_cpu_isa(ctx));
        ug_context_destroy(ctx);
    } else {
        snprintf(cpu_line, sizeof cpu_line, "unavailable: %s", err);
    }
    printf("backends:\n");
    printf("  ref   available: scalar oracle, f64 accumulation\n");
    printf("  cpu   %s\n", cpu_line);

    char reason[256];
    int devices = ug_cuda_device_count(reason, sizeof reason);
    opt.backend = UG_BACKEND_CUDA;
    ug_status st = ug_context_create(&opt, &ctx, err, sizeof err);
    if (st == UG_OK) {
        printf("  cuda  available\n");
        ug_context_destroy(ctx);
    } else {
        printf("  cuda  unavailable: %s\n", err);
    }
    printf("gpus: %d\n", devices);
    if (devices == 0)
        printf("  (%s)\n", reason);
    for (int i = 0; i < devices; i++) {
        char line[256];
        ug_cuda_device_describe(i, line, sizeof line);
        printf("  %s\n", line);
    }
    const char *restriction = ug_build_spec_restriction();
    printf("kernels: spec/kernels.toml%s%s; schedules: cpu %d, cuda %d\n",
           restriction[0] ? ", restricted to " : " (whole)", restriction,
           (int)ug_schedule_count(UG_BACKEND_CPU), (int)ug_schedule_count(UG_BACKEND_CUDA));
    if (getenv("UG_TUNING_FILE") != NULL)
        printf("tuning table: UG_TUNING_FILE=%s\n", getenv("UG_TUNING_FILE"));
    bench_cuda_print_info(stdout);
    return 0;
}
