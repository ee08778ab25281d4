/*
 * main.c - the `unigemm` command: dispatches to info, verify, bench, tune,
 * demo, inspect and run.
 * No or bad arguments print usage and exit 2.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* OpenBLAS (linked for the bench baseline) pins the main thread to one CPU
 * when it loads unless OPENBLAS_MAIN_FREE is set, and OpenMP threads inherit
 * that pin: every thread of the library and of the ceilings would share one
 * core. Undo it: let the process run on every CPU it is allowed. */
static void unpin_main_thread(void)
{
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int i = 0; i < CPU_SETSIZE; i++)
        CPU_SET(i, &all);
    (void)sched_setaffinity(0, sizeof all, &all);
}

static int usage(void)
{
    fprintf(stderr,
            "usage: unigemm <command> [options]\n"
            "\n"
            "commands:\n"
            "  info     version, backends, CPU features, GPUs\n"
            "  verify   every supported format on every available backend against the oracle\n"
            "           [--backend B] [--quick] [--seed N]\n"
            "  bench    --backend B -m LIST -n N -k K --weights SPEC --act T [--csv FILE]\n"
            "           [--threads N] [--reps N] [--seed N] [--schedule NAME]\n"
            "           SPEC: bfloat16 | float16 | float32 |\n"
            "                 <uint4|int4|uint8|int8>,group=<32|64|128|-1>,method=<scale_bias|\n"
            "                 scale_zero|symmetric|mlx|awq>[,scale=<float16|bfloat16|float32>]\n"
            "  tune     --backend B -o FILE [--shapes MxNxK,...] [--weights SPEC]... [--act T]\n"
            "           time every schedule per shape, write the fastest as a tuning table\n"
            "  demo     quantize a Llama-sized layer in each format, run it on the best backend,\n"
            "           check it against the oracle, bench it against the dense baseline\n"
            "           [--backend B] [--csv FILE]\n"
            "  inspect  FILE: the layers and tensors of a safetensors or GGUF checkpoint\n"
            "  run      --weights FILE --tensor NAME --input X.npy --output Y.npy [--backend B]\n"
            "           [--bias] [--check] [--bits N] [--group-size G] [--gptq-version 1|2]:\n"
            "           Y = X . W^T for one layer of a checkpoint (float32 .npy in and out)\n");
    return 2;
}

int main(int argc, char **argv)
{
    unpin_main_thread();
    if (argc < 2)
        return usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "info") == 0)
        return cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "tune") == 0)
        return cmd_tune(argc - 1, argv + 1);
    if (strcmp(cmd, "demo") == 0)
        return cmd_demo(argc - 1, argv + 1);
    if (strcmp(cmd, "inspect") == 0)
        return cmd_inspect(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage();
        return 0;
    }
    fprintf(stderr, "unigemm: unknown command '%s'\n\n", cmd);
    return usage();
}
