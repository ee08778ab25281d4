/*
 * cmd_verify.c - `unigemm verify [--backend B] [--quick] [--seed N]`: every
 * weight format the API accepts, with every activation and output type, at
 * edge shapes (M = 1 and odd M, N = 37, K = one group and several groups),
 * with bias, alpha, beta and padded strides drawn at random per case, run on
 * each available backend and compared with the oracle on fresh random data.
 * Prints one line per (backend, format) and closes with "N passed, N failed";
 * exits 1 if any case failed. Cases a backend does not run (float32
 * activations on cuda: hx_case_supported) are left out and counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "harness.h"

#define MAX_FORMATS 256

typedef struct verify_totals {
    long passed, failed, left_out;
} verify_totals;

static const ug_dtype float_types[] = {UG_F32, UG_F16, UG_BF16};

/* Check one format on ctx: every (a_type, c_type) pair at each shape. */
static void verify_format(ug_context *ctx, ug_context *oracle, const ug_weight_format *f,
                          bool quick, hx_rng *rng, verify_totals *tot)
{
    int64_t g = f->group_size > 0 ? f->group_size : 0;
    int64_t ks[2] = {g ? g : 64, g ? 3 * g : 250};
    int64_t ms[2] = {1, 5};
    int nk = quick ? 1 : 2, nm = quick ? 1 : 2;
    long cases = 0, bad = 0;
    double worst_l2 = 0, worst_max = 0;
    char first_failure[640] = "";
    for (int ki = 0; ki < nk; ki++)
        for (int mi = 0; mi < nm; mi++)
            for (int ai = 0; ai < 3; ai++)
                for (int ci = 0; ci < 3; ci++) {
                    uint64_t v = hx_rng_next(rng); /* independent coin flips */
                    hx_case c = {
                        .format = *f,
                        .m = ms[mi],
                        .n = 37,
                        .k = ks[ki],
                        .a_type = float_types[ai],
                        .c_type = float_types[ci],
                        .lda = v & 1 ? ks[ki] + 3 : 0,
                        .ldc = v & 2 ? 41 : 0,
                        .has_bias = (int)((v >> 2) & 1),
                        .bias_type = float_types[(v >> 3) % 3],
                        .alpha = v & 32 ? 0.5f : 1.0f,
                        .beta = v & 64 ? -0.75f : 0.0f,
                    };
                    if (!hx_case_supported(ug_context_backend(ctx), &c)) {
                        tot->left_out++;
                        continue;
                    }
                    hx_result r = hx_check_case(ctx, oracle, &c, rng);
                    cases++;
                    if (!r.pass) {
                        if (bad++ == 0)
                            snprintf(first_failure, sizeof first_failure,
                                     "m=%lld k=%lld act=%s out=%s: %s", (long long)c.m,
                                     (long long)c.k, ug_dtype_name(c.a_type),
                                     ug_dtype_name(c.c_type), r.message);
                    }
                    if (r.rel_l2 > worst_l2)
                        worst_l2 = r.rel_l2;
                    double rel_max = r.ref_max_abs > 0 ? r.max_abs / r.ref_max_abs : r.max_abs;
                    if (rel_max > worst_max)
                        worst_max = rel_max;
                }
    char name[96];
    hx_format_str(f, name, sizeof name);
    printf("%-5s %-52s %4ld %-4s %9.2e %9.2e\n", ug_backend_name(ug_context_backend(ctx)), name,
           cases, bad ? "FAIL" : "ok", worst_l2, worst_max);
    if (bad)
        printf("      first failure: %s\n", first_failure);
    tot->passed += cases - bad;
    tot->failed += bad;
}

static int verify_usage(const char *why)
{
    fprintf(stderr,
            "unigemm verify: %s\nusage: unigemm verify [--backend cpu|cuda|ref] [--quick] "
            "[--seed N]\n",
            why);
    return 2;
}

int cmd_verify(int argc, char **argv)
{
    bool quick = false, only = false;
    ug_backend backend = UG_BACKEND_CPU;
    uint64_t seed = (uint64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
            if (ug_backend_parse(NULL, argv[++i], &backend) != UG_OK || backend == UG_BACKEND_AUTO)
                return verify_usage("--backend takes cpu, cuda or ref");
            only = true;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            char *end;
            const char *arg = argv[++i];
            seed = strtoull(arg, &end, 10);
            if (*arg == '\0' || *end != '\0' || *arg == '-')
                return verify_usage("--seed takes a non-negative integer");
        } else {
            char why[128];
            snprintf(why, sizeof why, "unexpected argument '%.64s'", argv[i]);
            return verify_usage(why);
        }
    }

    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = UG_BACKEND_REF;
    ug_context *oracle = NULL;
    char err[512];
    if (ug_context_create(&opt, &oracle, err, sizeof err) != UG_OK) {
        fprintf(stderr, "unigemm verify: cannot create the oracle: %s\n", err);
        return 1;
    }
    /* The backends to check: the one asked for, or every one available. */
    ug_backend candidates[2] = {UG_BACKEND_CPU, UG_BACKEND_CUDA};
    int ncand = 2;
    if (only) {
        candidates[0] = backend;
        ncand = 1;
    }
    ug_weight_format formats[MAX_FORMATS];
    size_t nformats = hx_all_formats(formats, MAX_FORMATS);
    hx_rng rng = hx_rng_seed(seed);
    verify_totals tot = {0, 0, 0};
    int ran = 0, exit_code = 0;
    printf("seed %llu\n", (unsigned long long)seed);
    printf("%-5s %-52s %4s %-4s %9s %9s\n", "back", "weights", "case", "ok", "rel_l2", "max/|ref|");
    for (int b = 0; b < ncand; b++) {
        ug_context *ctx = NULL;
        opt.backend = candidates[b];
        if (ug_context_create(&opt, &ctx, err, sizeof err) != UG_OK) {
            printf("%-5s skipped: %s\n", ug_backend_name(candidates[b]), err);
            if (only)
                exit_code = 1;
            continue;
        }
        ran++;
        long left_before = tot.left_out;
        for (size_t i = 0; i < nformats; i++)
            verify_format(ctx, oracle, &formats[i], quick, &rng, &tot);
        if (tot.left_out > left_before)
            printf("%-5s %ld cases left out that the backend does not run (float32 activations "
                   "on cuda)\n",
                   ug_backend_name(candidates[b]), tot.left_out - left_before);
        ug_context_destroy(ctx);
    }
    ug_context_destroy(oracle);
    if (ran == 0)
        printf("no backend could be checked\n");
    printf("%ld passed, %ld failed\n", tot.passed, tot.failed);
    return tot.failed ? 1 : exit_code;
}
