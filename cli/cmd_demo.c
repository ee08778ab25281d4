/*
 * cmd_demo.c - `unigemm demo`, the main job behind `make run`: a Llama-sized
 * layer (K = 4096 in, N = 14336 out: Llama-3-8B's MLP up projection) in every
 * storage x method (group 128, f16 scales) and in full precision, each
 * quantized from the same kind of random weights, run on the best available
 * backend, checked against the oracle at M = 1, then timed at M = 1 and 16
 * against the dense baseline: OpenBLAS sgemm with f32 activations on the
 * CPU; on the cuda backend (what auto picks where a usable GPU exists) bf16
 * activations in device buffers (hx_check_case stages them for the check),
 * timed with CUDA events against cuBLAS bf16 GEMM (bench_cuda.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "harness.h"

#define DEMO_K 4096
#define DEMO_N 14336

static const char *const demo_specs[] = {
    "bfloat16",
    "float16",
    "float32",
    "uint4,group=128,method=scale_zero",
    "uint4,group=128,method=scale_bias",
    "uint4,group=128,method=symmetric",
    "int4,group=128,method=scale_zero",
    "int4,group=128,method=scale_bias",
    "int4,group=128,method=symmetric",
    "uint8,group=128,method=scale_zero",
    "uint8,group=128,method=scale_bias",
    "uint8,group=128,method=symmetric",
    "int8,group=128,method=scale_zero",
    "int8,group=128,method=scale_bias",
    "int8,group=128,method=symmetric",
};

static int demo_usage(const char *why)
{
    fprintf(stderr,
            "unigemm demo: %s\nusage: unigemm demo [--backend auto|cpu|cuda|ref] [--csv FILE]\n",
            why);
    return 2;
}

int cmd_demo(int argc, char **argv)
{
    ug_backend backend = UG_BACKEND_AUTO;
    const char *csv = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
            if (ug_backend_parse(NULL, argv[++i], &backend) != UG_OK)
                return demo_usage("--backend takes auto, cpu, cuda or ref");
        } else if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc) {
            csv = argv[++i];
        } else {
            char why[128];
            snprintf(why, sizeof why, "unexpected argument '%.64s'", argv[i]);
            return demo_usage(why);
        }
    }
    char err[512];
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = backend;
    ug_context *ctx = NULL, *oracle = NULL;
    if (ug_context_create(&opt, &ctx, err, sizeof err) != UG_OK) {
        fprintf(stderr, "unigemm demo: %s\n", err);
        return 1;
    }
    opt.backend = UG_BACKEND_REF;
    if (ug_context_create(&opt, &oracle, err, sizeof err) != UG_OK) {
        fprintf(stderr, "unigemm demo: cannot create the oracle: %s\n", err);
        ug_context_destroy(ctx);
        return 1;
    }
    backend = ug_context_backend(ctx);
    int threads = ug_context_num_threads(ctx);
    bool gpu = backend == UG_BACKEND_CUDA;
    /* the cuda backend takes f16/bf16 activations only */
    ug_dtype act = gpu ? UG_BF16 : UG_F32;

    bench_machine mach;
    int measured = gpu ? bench_cuda_measure_machine(0, &mach, err, sizeof err)
                       : bench_measure_machine(threads, &mach);
    if (measured != 0) {
        fprintf(stderr, "unigemm demo: could not measure the machine's ceilings%s%s\n",
                gpu ? ": " : "", gpu ? err : "");
        ug_context_destroy(ctx);
        ug_context_destroy(oracle);
        return 1;
    }
    if (gpu)
        printf("unigemm %s demo: layer K = %d, N = %d on backend cuda, device %d (%s), %s "
               "activations\n",
               ug_version(), DEMO_K, DEMO_N, mach.device, mach.device_name, ug_dtype_name(act));
    else
        printf("unigemm %s demo: layer K = %d, N = %d on backend %s, %d thread(s)\n", ug_version(),
               DEMO_K, DEMO_N, ug_backend_name(backend), threads);
    uint64_t seed = (uint64_t)time(NULL);
    hx_rng rng = hx_rng_seed(seed);
    size_t nspecs = sizeof demo_specs / sizeof demo_specs[0];
    bench_row rows[2 * sizeof demo_specs / sizeof demo_specs[0]];
    size_t nrows = 0;
    int failed = 0;
    printf("\ncorrectness at M = 1 against the oracle (seed %llu):\n", (unsigned long long)seed);
    if (backend == UG_BACKEND_CPU)
        printf("  (the cpu backend is a stopgap that runs the oracle's own code, so this check can "
               "only\n   fail on packing or plumbing until its kernels land)\n");
    for (size_t i = 0; i < nspecs; i++) {
        ug_weight_format f;
        hx_format_parse(demo_specs[i], &f, err, sizeof err);
        hx_case c = {.format = f,
                     .m = 1,
                     .n = DEMO_N,
                     .k = DEMO_K,
                     .a_type = act,
                     .c_type = act,
                     .bias_type = UG_F32,
                     .alpha = 1.0f};
        hx_result r = hx_check_case(ctx, oracle, &c, &rng); /* device buffers on cuda */
        printf("  %-44s %s  rel_l2 %.2e%s%s\n", demo_specs[i], r.pass ? "ok  " : "FAIL", r.rel_l2,
               r.pass ? "" : "  ", r.pass ? "" : r.message);
        failed += !r.pass;
    }
    if (gpu)
        printf("\ntimings (median of per-call CUDA event times; floor = fewest bytes / "
               "measured copy bandwidth %.0f GB/s;\n baseline cuBLAS bf16 GEMM on the "
               "dequantized weights):\n",
               mach.copy_gbps);
    else
        printf("\ntimings (median; floor = fewest bytes / measured bandwidth or flops / peak;\n"
               " baseline OpenBLAS sgemm on the dequantized weights):\n");
    bench_print_header(stdout);
    static const int64_t ms[] = {1, 16};
    for (size_t i = 0; i < nspecs; i++) {
        bench_config cfg = {.backend = backend,
                            .threads = threads,
                            .n = DEMO_N,
                            .k = DEMO_K,
                            .act = act,
                            .reps = gpu ? 20 : 3,
                            .seed = seed + i};
        hx_format_parse(demo_specs[i], &cfg.weights, err, sizeof err);
        for (size_t j = 0; j < 2; j++) {
            if (bench_run_one(&cfg, &mach, ms[j], &rows[nrows], err, sizeof err) != 0) {
                fprintf(stderr, "unigemm demo: %s: %s\n", demo_specs[i], err);
                failed++;
                continue;
            }
            bench_print_row(stdout, &rows[nrows]);
            nrows++;
        }
    }
    if (csv && bench_write_csv(csv, rows, nrows) != 0) {
        fprintf(stderr, "unigemm demo: cannot write %s\n", csv);
        failed++;
    }
    ug_context_destroy(ctx);
    ug_context_destroy(oracle);
    printf("\n%s\n", failed ? "demo: FAILED" : "demo: every format matched the oracle");
    return failed ? 1 : 0;
}
