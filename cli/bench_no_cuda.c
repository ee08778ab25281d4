/*
 * bench_no_cuda.c - the cuda side of the benchmark engine in a build made
 * without CUDA (nvcc was not found, or -DUG_WITH_CUDA=OFF): every entry
 * point fails with a message saying so. bench_cuda.c is the real one.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define NO_CUDA "cuda: this unigemm command was built without CUDA (no nvcc, or UG_WITH_CUDA=OFF)"

int bench_cuda_measure_machine(int device, bench_machine *out, char *err, size_t err_size)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    snprintf(err, err_size, "%s", NO_CUDA);
    return -1;
}

int bench_cuda_run_one(const bench_config *cfg, const bench_machine *mach, int64_t m,
                       bench_row *row, char *err, size_t err_size)
{
    snprintf(err, err_size, "%s", NO_CUDA);
    return -1;
}

void bench_cuda_print_info(FILE *f)
{
    fprintf(f, "cuda (this command's bench): not built in (no nvcc, or UG_WITH_CUDA=OFF)\n");
}
