/*
 * cli.h - the `unigemm` command's subcommands and the benchmark engine that
 * `bench` and `demo` share: bench.c and ceilings.c for the CPU backends,
 * bench_cuda.c for the cuda backend (bench_no_cuda.c in builds without CUDA).
 */
#ifndef UG_CLI_H
#define UG_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "unigemm.h"

int cmd_info(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_tune(int argc, char **argv);

/* Ceilings the same run measures. CPU (bench_measure_machine): read
 * bandwidth over a buffer far larger than the last-level cache, and the peak
 * f32 FMA rate, with `threads`. GPU (bench_cuda_measure_machine): the
 * device-to-device copy bandwidth and the L2 size; the CPU fields stay 0. */
typedef struct bench_machine {
    int threads;
    double read_gbps;     /* GB/s (1e9 bytes) */
    double peak_gflops;   /* f32 GFLOP/s */
    size_t llc_bytes;     /* last-level cache size used to size rotations */
    size_t read_bytes;    /* size of the buffer the bandwidth was read from */
    const char *peak_isa; /* the FMA loop's instruction set ("avx512f", "avx2+fma", ...) */
    /* cuda only */
    int device;            /* CUDA ordinal the ceilings were measured on */
    char device_name[256]; /* cudaDeviceProp.name */
    size_t l2_bytes;       /* L2 size, used to size rotations on the GPU */
    double copy_gbps;      /* cudaMemcpyAsync device to device, read + write counted, GB/s */
    size_t copy_bytes;     /* size of the copied buffer */
} bench_machine;

typedef struct bench_config {
    ug_backend backend;
    int32_t threads; /* 0 = all */
    int64_t n, k;
    ug_weight_format weights;
    ug_dtype act; /* activation type; the output has the same type */
    int reps;     /* timed repetitions after warm-up (median reported) */
    uint64_t seed;
    const char *schedule; /* forced schedule, NULL for the library's choice */
    int baseline_reps;    /* timed repetitions of the baseline; 0 = reps */
    int timing;           /* cuda: BENCH_TIMING_SIDES (the default) or _ALTERNATE */
} bench_config;

/* The order of the timed calls on cuda (bench_cuda.c): all of the
 * backend's, then all of cuBLAS's, each side in its own steady clock; or the
 * two sides' calls in turn, both in one clock state. The CPU bench always
 * times the sides apart. */
enum { BENCH_TIMING_SIDES = 0, BENCH_TIMING_ALTERNATE = 1 };

/* One CSV row: the columns of `unigemm bench --csv`. */
typedef struct bench_row {
    char backend[16];
    char act[16];
    char weights[96];
    int64_t m, n, k;
    double median_us, tflops, weight_gbps, floor_us, ratio_to_floor;
    char baseline[32];
    double baseline_median_us, speedup_vs_baseline;
    char schedule[48]; /* the plan's schedule: printed in the table, not in the CSV */
    int reps;          /* timed repetitions behind median_us */
} bench_row;

int bench_measure_machine(int threads, bench_machine *out);
/* Time cfg at one M on its backend and the dense baseline; fill *row. Returns
 * 0, or non-zero with a message in err. cfg->backend must be resolved (not
 * auto); cuda goes to bench_cuda_run_one, and `mach` must then come from
 * bench_cuda_measure_machine. */
/* Fills a result row: names, shape, median, TFLOP/s, weight bandwidth,
 * floor and the baseline's median and speedup. */
void bench_row_fill(bench_row *row, const ug_context *ctx, const bench_config *cfg,
                    const ug_plan *plan, int64_t m, size_t weight_bytes, double median_s,
                    double floor_s, const char *baseline, double baseline_s);
/* Writes "what: status: the context's message" to err; returns -1. */
int bench_lib_fail(char *err, size_t err_size, const char *what, const ug_context *ctx,
                   ug_status st);
/* What bench_plan and bench_run_one return when the library refused the
 * plan with UG_ERR_UNSUPPORTED (a forced schedule it cannot run here). */
#define BENCH_REFUSED 1
/* Plans the benchmarked GEMM (M = m, act in and out) for w and reads its
 * workspace size; 0, BENCH_REFUSED or -1, with err filled. */
int bench_plan(ug_context *ctx, const bench_config *cfg, int64_t m, const ug_packed_weights *w,
               ug_plan **plan, size_t *workspace_bytes, char *err, size_t err_size);
/* 0, BENCH_REFUSED (err says why) or -1 (err says what failed). */
int bench_run_one(const bench_config *cfg, const bench_machine *mach, int64_t m, bench_row *row,
                  char *err, size_t err_size);
void bench_print_header(FILE *f);
void bench_print_row(FILE *f, const bench_row *row);
/* Append rows to a CSV file (the header is written when the file is new). */
int bench_write_csv(const char *path, const bench_row *rows, size_t count);

/* The cuda side (bench_cuda.c). In a build without CUDA each of these fails
 * with a message saying so (bench_no_cuda.c). */

/* Default timed repetitions on the GPU. */
#define BENCH_CUDA_DEFAULT_REPS 50
/* Measure device `device`'s copy bandwidth and read its L2 size and name.
 * Returns 0, or non-zero with a message naming the failed call in err. */
int bench_cuda_measure_machine(int device, bench_machine *out, char *err, size_t err_size);
/* bench_run_one on the cuda backend, against cuBLAS bf16 GEMM. */
int bench_cuda_run_one(const bench_config *cfg, const bench_machine *mach, int64_t m,
                       bench_row *row, char *err, size_t err_size);
/* Lines for `unigemm info`: CUDA runtime and driver versions, cuBLAS. */
void bench_cuda_print_info(FILE *f);

#endif /* UG_CLI_H */
