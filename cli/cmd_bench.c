/*
 * cmd_bench.c - `unigemm bench --backend B -m LIST -n N -k K --weights SPEC
 * --act T [--csv FILE] [--threads N] [--reps N] [--seed N] [--schedule S]
 * [--timing sides|alternate]`: checks the
 * options (a context for the backend, the weight format against K), measures
 * the machine's ceilings, then times each M of the list with bench_run_one
 * and prints a table row per M, appending it to FILE with --csv. On the cuda
 * backend the ceilings are the GPU's (bench_cuda_measure_machine: copy
 * bandwidth, L2) and the baseline is cuBLAS bf16 GEMM (bench_cuda.c).
 * Bad arguments exit 2 with the usage; library and I/O failures exit 1.
 * Options take their value as the next argument or after '='.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "harness.h"

#define BENCH_MAX_MS 256
#define BENCH_MAX_REPS 100000

typedef struct bench_args {
    const char *backend, *m_list, *weights, *act, *csv, *schedule, *timing;
    int64_t n, k, threads, reps;
    uint64_t seed;
    int64_t ms[BENCH_MAX_MS];
    size_t m_count;
} bench_args;

static void bench_usage(FILE *f)
{
    fprintf(f, "usage: unigemm bench --backend B -m LIST -n N -k K --weights SPEC --act T\n"
               "                     [--csv FILE] [--threads N] [--reps N] [--seed N]\n"
               "                     [--schedule NAME] [--timing sides|alternate]\n"
               "  --backend B     cpu, ref, cuda or auto\n"
               "  -m LIST         comma-separated M values (rows of A), e.g. 1,16,512\n"
               "  -n N, -k K      output and input features of the layer (W is [N][K])\n"
               "  --weights SPEC  bfloat16 | float16 | float32 |\n"
               "                  <uint4|int4|uint8|int8>,group=<32|64|128|-1>,\n"
               "                  method=<scale_bias|scale_zero|symmetric|mlx|awq>\n"
               "                  [,scale=<float16|bfloat16|float32>]\n"
               "  --act T         activation type, also the output's: float32, float16, bfloat16\n"
               "  --csv FILE      append one row per M (header when FILE is new or empty)\n"
               "  --threads N     CPU threads for the backend, the baseline and the ceilings\n"
               "                  (default 0: all)\n"
               "  --reps N        timed repetitions, median reported (default 5 on the CPU,\n"
               "                  50 on cuda, where each is one call timed by CUDA events)\n"
               "  --seed N        seed of the random weights and activations (default 1)\n"
               "  --schedule NAME force the backend's schedule (e.g. avx2-decode); default: the\n"
               "                  library's choice per M\n"
               "  --timing ORDER  cuda: 'sides' (default) times all of the backend's calls, then\n"
               "                  all of cuBLAS's, each in its own steady clock; 'alternate'\n"
               "                  times them in turn, so that both meet the same GPU clock (the\n"
               "                  CPU bench always times its sides apart)\n");
}

/* Prints "unigemm bench: <why>" and the usage; the exit status of bad arguments. */
static int bad_argument(const char *why)
{
    fprintf(stderr, "unigemm bench: %s\n\n", why);
    bench_usage(stderr);
    return 2;
}

/* A decimal integer in [lo, hi]; on failure writes why into err. */
static bool parse_int(const char *name, const char *text, int64_t lo, int64_t hi, int64_t *out,
                      char *err, size_t err_size)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        snprintf(err, err_size, "%s '%s' is not an integer in %lld..%lld", name, text,
                 (long long)lo, (long long)hi);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_m_list(bench_args *a, char *err, size_t err_size)
{
    const char *p = a->m_list;
    a->m_count = 0;
    for (;;) {
        size_t len = strcspn(p, ",");
        char token[32];
        if (len == 0 || len >= sizeof token) {
            snprintf(err, err_size, "-m '%s': expected comma-separated positive integers",
                     a->m_list);
            return false;
        }
        if (a->m_count == BENCH_MAX_MS) {
            snprintf(err, err_size, "-m '%s': more than %d values", a->m_list, BENCH_MAX_MS);
            return false;
        }
        memcpy(token, p, len);
        token[len] = '\0';
        if (!parse_int("-m value", token, 1, INT32_MAX, &a->ms[a->m_count], err, err_size))
            return false;
        a->m_count++;
        if (p[len] == '\0')
            return true;
        p += len + 1;
    }
}

static const char *const bench_options[] = {
    "--backend", "-m", "-n", "-k", "--weights", "--act", "--csv", "--threads", "--reps", "--seed",
    "--schedule", "--timing"};

static bool known_option(const char *name)
{
    for (size_t i = 0; i < sizeof bench_options / sizeof bench_options[0]; i++)
        if (strcmp(name, bench_options[i]) == 0)
            return true;
    return false;
}

/* Fill *a from argv; false with a message naming the argument otherwise. */
static bool parse_args(int argc, char **argv, bench_args *a, char *err, size_t err_size)
{
    for (int i = 1; i < argc; i++) {
        char name[32];
        const char *value = NULL;
        const char *eq = strchr(argv[i], '=');
        size_t name_len =
            eq != NULL && strncmp(argv[i], "--", 2) == 0 ? (size_t)(eq - argv[i]) : strlen(argv[i]);
        if (name_len >= sizeof name) {
            snprintf(err, err_size, "unknown option '%.64s'", argv[i]);
            return false;
        }
        memcpy(name, argv[i], name_len);
        name[name_len] = '\0';
        if (!known_option(name)) {
            snprintf(err, err_size, "unknown option '%.64s'", argv[i]);
            return false;
        }
        if (argv[i][name_len] == '=')
            value = argv[i] + name_len + 1;
        else if (i + 1 < argc)
            value = argv[++i];
        else {
            snprintf(err, err_size, "%s needs a value", name);
            return false;
        }
        int64_t seed;
        if (strcmp(name, "--backend") == 0)
            a->backend = value;
        else if (strcmp(name, "-m") == 0)
            a->m_list = value;
        else if (strcmp(name, "-n") == 0) {
            if (!parse_int("-n", value, 1, INT32_MAX, &a->n, err, err_size))
                return false;
        } else if (strcmp(name, "-k") == 0) {
            if (!parse_int("-k", value, 1, INT32_MAX, &a->k, err, err_size))
                return false;
        } else if (strcmp(name, "--weights") == 0)
            a->weights = value;
        else if (strcmp(name, "--act") == 0)
            a->act = value;
        else if (strcmp(name, "--csv") == 0)
            a->csv = value;
        else if (strcmp(name, "--schedule") == 0)
            a->schedule = value;
        else if (strcmp(name, "--timing") == 0)
            a->timing = value;
        else if (strcmp(name, "--threads") == 0) {
            if (!parse_int("--threads", value, 0, 4096, &a->threads, err, err_size))
                return false;
        } else if (strcmp(name, "--reps") == 0) {
            if (!parse_int("--reps", value, 1, BENCH_MAX_REPS, &a->reps, err, err_size))
                return false;
        } else {
            if (!parse_int("--seed", value, 0, INT64_MAX, &seed, err, err_size))
                return false;
            a->seed = (uint64_t)seed;
        }
    }
    const char *missing = !a->backend   ? "--backend"
                          : !a->m_list  ? "-m"
                          : !a->n       ? "-n"
                          : !a->k       ? "-k"
                          : !a->weights ? "--weights"
                          : !a->act     ? "--act"
                                        : NULL;
    if (missing != NULL) {
        snprintf(err, err_size, "missing %s", missing);
        return false;
    }
    return parse_m_list(a, err, err_size);
}

int cmd_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            bench_usage(stdout);
            return 0;
        }
    bench_args a = {.reps = 0, .seed = 1}; /* reps 0: the backend's default */
    char err[1024];
    if (!parse_args(argc, argv, &a, err, sizeof err))
        return bad_argument(err);

    bench_config cfg = {
        .n = a.n, .k = a.k, .reps = (int)a.reps, .seed = a.seed, .schedule = a.schedule};
    if (ug_backend_parse(NULL, a.backend, &cfg.backend) != UG_OK) {
        snprintf(err, sizeof err, "--backend '%s' is not one of cpu, ref, cuda, auto", a.backend);
        return bad_argument(err);
    }
    if (ug_dtype_parse(NULL, a.act, &cfg.act) != UG_OK ||
        !(cfg.act == UG_F32 || cfg.act == UG_F16 || cfg.act == UG_BF16)) {
        snprintf(err, sizeof err, "--act '%s' is not one of float32, float16, bfloat16", a.act);
        return bad_argument(err);
    }
    char why[512];
    if (!hx_format_parse(a.weights, &cfg.weights, why, sizeof why)) {
        snprintf(err, sizeof err, "--weights: %s", why);
        return bad_argument(err);
    }

    /* A context now: an unusable backend fails before minutes of work, and
     * the library checks the format against the shape. */
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = cfg.backend;
    opt.num_threads = (int32_t)a.threads;
    ug_context *ctx = NULL;
    ug_status st = ug_context_create(&opt, &ctx, why, sizeof why);
    if (st != UG_OK) {
        fprintf(stderr, "unigemm bench: --backend %s: %s: %s\n", a.backend, ug_status_str(st), why);
        return 1;
    }
    st = ug_weight_source_sizes(ctx, &cfg.weights, cfg.n, cfg.k, NULL, NULL, NULL, NULL);
    if (st != UG_OK) {
        snprintf(err, sizeof err, "--weights %s with -n %lld -k %lld: %s: %s", a.weights,
                 (long long)cfg.n, (long long)cfg.k, ug_status_str(st), ug_context_last_error(ctx));
        ug_context_destroy(ctx);
        return bad_argument(err);
    }
    cfg.backend = ug_context_backend(ctx);
    cfg.threads = ug_context_num_threads(ctx);
    ug_context_destroy(ctx);
    bool gpu = cfg.backend == UG_BACKEND_CUDA;
    if (gpu && cfg.act == UG_F32) {
        snprintf(err, sizeof err,
                 "--act float32: the cuda backend%s takes float16 or bfloat16 activations "
                 "(float32 runs on --backend cpu)",
                 strcmp(a.backend, "auto") == 0 ? " (which --backend auto chose)" : "");
        return bad_argument(err);
    }
    if (cfg.reps == 0)
        cfg.reps = gpu ? BENCH_CUDA_DEFAULT_REPS : 5;
    if (a.timing != NULL) {
        if (strcmp(a.timing, "alternate") == 0 && gpu)
            cfg.timing = BENCH_TIMING_ALTERNATE;
        else if (strcmp(a.timing, "alternate") == 0) {
            snprintf(err, sizeof err,
                     "--timing alternate: only the cuda bench alternates calls (backend %s "
                     "times its sides apart)",
                     ug_backend_name(cfg.backend));
            return bad_argument(err);
        } else if (strcmp(a.timing, "sides") != 0) {
            snprintf(err, sizeof err, "--timing '%.64s' is not one of sides, alternate", a.timing);
            return bad_argument(err);
        }
    }

    if (a.csv != NULL) {
        FILE *f = fopen(a.csv, "a");
        if (f == NULL) {
            fprintf(stderr, "unigemm bench: --csv %s: %s\n", a.csv, strerror(errno));
            return 1;
        }
        fclose(f);
    }

    double start = hx_now();
    bench_machine mach;
    if (gpu) {
        if (bench_cuda_measure_machine(0, &mach, err, sizeof err) != 0) {
            fprintf(stderr, "unigemm bench: measuring the GPU's copy bandwidth: %s\n", err);
            return 1;
        }
    } else if (bench_measure_machine(cfg.threads, &mach) != 0) {
        fprintf(stderr, "unigemm bench: could not measure the machine's ceilings\n");
        return 1;
    }
    char spec[96];
    hx_format_str(&cfg.weights, spec, sizeof spec);
    printf("unigemm %s bench: backend %s, weights %s, act %s, N = %lld, K = %lld, seed %llu\n",
           ug_version(), ug_backend_name(cfg.backend), spec, ug_dtype_name(cfg.act),
           (long long)cfg.n, (long long)cfg.k, (unsigned long long)cfg.seed);
    if (gpu)
        printf("ceilings measured now on device %d (%s): device-to-device copy %.1f GB/s "
               "(read + write, %zu MiB buffer), L2 %.0f MiB; baseline cuBLAS bf16 GEMM, %s\n",
               mach.device, mach.device_name, mach.copy_gbps, mach.copy_bytes >> 20,
               (double)mach.l2_bytes / (1 << 20),
               cfg.timing == BENCH_TIMING_ALTERNATE ? "its calls alternating with the backend's"
                                                    : "timed after the backend");
    else
        printf("ceilings measured now: read %.1f GB/s (%zu MiB buffer), peak f32 %.1f GFLOP/s "
               "(%s), %d threads, LLC %.1f MiB; baseline OpenBLAS sgemm\n",
               mach.read_gbps, mach.read_bytes >> 20, mach.peak_gflops, mach.peak_isa, mach.threads,
               (double)mach.llc_bytes / (1 << 20));
    fflush(stdout);

    for (size_t i = 0; i < a.m_count; i++) {
        bench_row row;
        if (bench_run_one(&cfg, &mach, a.ms[i], &row, err, sizeof err) != 0) {
            fprintf(stderr, "unigemm bench: m = %lld: %s\n", (long long)a.ms[i], err);
            return 1;
        }
        if (i == 0)
            bench_print_header(stdout);
        bench_print_row(stdout, &row);
        if (a.csv != NULL && bench_write_csv(a.csv, &row, 1) != 0) {
            fprintf(stderr, "unigemm bench: --csv %s: %s\n", a.csv, strerror(errno));
            return 1;
        }
    }
    printf("total %.1f s\n", hx_now() - start);
    return 0;
}
