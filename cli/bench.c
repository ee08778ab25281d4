/*
 * bench.c - the benchmark engine behind `unigemm bench` and `unigemm demo`
 * for the CPU backends (cpu, ref); bench_run_one hands the cuda backend to
 * bench_cuda.c, which times with CUDA events against cuBLAS.
 *
 * One shape: A [M][K] and C [M][N] of the activation type, W [N][K] of any
 * weight format. It is timed on the configured backend and, on the same
 * data, against the dense baseline
 *     cblas_sgemm(RowMajor, NoTrans, Trans, M, N, K, 1, A_f32 [M][K], K,
 *                 dequant(W) [N][K] f32, K, 0, C_f32 [M][N], N)
 * with OpenBLAS on the same thread count. The floor is the larger of the
 * fewest bytes over the measured read bandwidth and the flops over the
 * measured FMA peak (ceilings.c).
 *
 * Timing, each side alike: warm-up of at least one call and 0.2 s (which
 * also outlasts the spinning of the other side's idle threads), then `reps`
 * timed repetitions of enough calls to last 1 ms each, median of the per-call
 * times. Once a side has spent 10 s in timed repetitions no further one
 * starts, as long as 3 are done. Each call reads the next of R copies of the
 * weights, R * bytes >= 2 x LLC, so that the weights come from memory as in a
 * model far larger than the cache; copies are capped at 8 GiB in all and at
 * BENCH_MAX_COPIES, with a printed note when a cap bites.
 *
 * The context and the weight copies are kept from one call to the next while
 * the configuration stays the same (one M after another) and freed at exit:
 * callers must be single-threaded.
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "harness.h"

#define BENCH_WARMUP_S 0.2
#define BENCH_REP_MIN_S 1e-3
#define BENCH_SIDE_BUDGET_S 10.0
#define BENCH_MIN_REPS 3
#define BENCH_MAX_BATCH 100000
#define BENCH_MAX_COPIES 4096
#define BENCH_COPY_BUDGET ((size_t)8 << 30)

/* The weights of one configuration, packed R times for the backend and
 * dequantized to f32 Rd times for the baseline. */
typedef struct bench_layer {
    bool ready;
    /* the configuration it was made for */
    ug_backend backend;
    int32_t threads;
    int64_t n, k;
    ug_weight_format format;
    uint64_t seed;
    size_t llc_bytes;
    /* what it holds */
    ug_context *ctx;
    size_t weight_bytes;        /* codes + scales + biases + zeros of one copy */
    ug_packed_weights **packed; /* [packed_count] */
    size_t packed_count;
    float **dense; /* [dense_count] copies of dequant(W) [N][K] */
    size_t dense_count;
} bench_layer;

static bench_layer cached_layer;
static bool release_registered;

static void layer_release(bench_layer *L)
{
    for (size_t i = 0; i < L->packed_count; i++)
        ug_weights_destroy(L->packed[i]);
    free(L->packed);
    for (size_t i = 0; i < L->dense_count; i++)
        free(L->dense[i]);
    free(L->dense);
    ug_context_destroy(L->ctx);
    memset(L, 0, sizeof *L);
}

static void release_cached_layer(void)
{
    layer_release(&cached_layer);
}

static bool same_format(const ug_weight_format *a, const ug_weight_format *b)
{
    return a->storage == b->storage && a->method == b->method && a->group_size == b->group_size &&
           a->scale_type == b->scale_type;
}

static bool layer_matches(const bench_layer *L, const bench_config *cfg, const bench_machine *mach)
{
    return L->ready && L->backend == cfg->backend && L->threads == cfg->threads && L->n == cfg->n &&
           L->k == cfg->k && same_format(&L->format, &cfg->weights) && L->seed == cfg->seed &&
           L->llc_bytes == mach->llc_bytes;
}

int bench_lib_fail(char *err, size_t err_size, const char *what, const ug_context *ctx,
                   ug_status st)
{
    snprintf(err, err_size, "%s: %s: %s", what, ug_status_str(st), ug_context_last_error(ctx));
    return -1;
}

void bench_row_fill(bench_row *row, const ug_context *ctx, const bench_config *cfg,
                    const ug_plan *plan, int64_t m, size_t weight_bytes, double median_s,
                    double floor_s, const char *baseline, double baseline_s)
{
    double flops = 2.0 * (double)m * (double)cfg->n * (double)cfg->k;
    snprintf(row->backend, sizeof row->backend, "%s", ug_backend_name(ug_context_backend(ctx)));
    snprintf(row->act, sizeof row->act, "%s", ug_dtype_name(cfg->act));
    hx_format_str(&cfg->weights, row->weights, sizeof row->weights);
    snprintf(row->schedule, sizeof row->schedule, "%s", ug_plan_schedule(plan));
    row->m = m;
    row->n = cfg->n;
    row->k = cfg->k;
    row->median_us = median_s * 1e6;
    row->tflops = flops / median_s * 1e-12;
    row->weight_gbps = (double)weight_bytes / median_s * 1e-9;
    row->floor_us = floor_s * 1e6;
    row->ratio_to_floor = median_s / floor_s;
    snprintf(row->baseline, sizeof row->baseline, "%s", baseline);
    row->baseline_median_us = baseline_s * 1e6;
    row->speedup_vs_baseline = baseline_s / median_s;
}

int bench_plan(ug_context *ctx, const bench_config *cfg, int64_t m, const ug_packed_weights *w,
               ug_plan **plan, size_t *workspace_bytes, char *err, size_t err_size)
{
    ug_gemm_desc desc = UG_GEMM_DESC_INIT;
    desc.m = m;
    desc.n = cfg->n;
    desc.k = cfg->k;
    desc.a_type = cfg->act;
    desc.c_type = cfg->act;
    ug_plan_options opt = UG_PLAN_OPTIONS_INIT;
    opt.schedule = cfg->schedule;
    ug_status st = ug_plan_create(ctx, &desc, w, &opt, plan);
    if (st != UG_OK) {
        bench_lib_fail(err, err_size, "planning", ctx, st);
        return st == UG_ERR_UNSUPPORTED ? BENCH_REFUSED : -1;
    }
    st = ug_plan_workspace_size(*plan, workspace_bytes);
    if (st != UG_OK)
        return bench_lib_fail(err, err_size, "workspace size", ctx, st);
    return 0;
}

static int oom(char *err, size_t err_size, const char *what, size_t bytes)
{
    snprintf(err, err_size, "out of host memory for %s (%.1f MiB)", what,
             (double)bytes / (1 << 20));
    return -1;
}

/* Copies of `bytes` each that together span at least 2 x LLC. */
static size_t copies_for(size_t bytes, size_t llc)
{
    size_t want = bytes >= 2 * llc ? 1 : (2 * llc + bytes - 1) / bytes;
    return want > BENCH_MAX_COPIES ? BENCH_MAX_COPIES : want;
}

/* Pack R copies of W for the backend and dequantize Rd f32 copies through the
 * oracle for the baseline. */
static int layer_fill(bench_layer *L, ug_context *oracle, const bench_config *cfg,
                      size_t dense_bytes, char *err, size_t err_size)
{
    hx_rng rng = hx_rng_seed(cfg->seed);
    hx_weights hw;
    ug_status st = hx_weights_make(oracle, &cfg->weights, cfg->n, cfg->k, &rng, &hw);
    if (st != UG_OK)
        return bench_lib_fail(err, err_size, "making random weights", oracle, st);
    int rc = 0;
    L->packed = calloc(L->packed_count, sizeof *L->packed);
    L->dense = calloc(L->dense_count, sizeof *L->dense);
    if (L->packed == NULL || L->dense == NULL) {
        hx_weights_free(&hw);
        return oom(err, err_size, "the lists of weight copies",
                   (L->packed_count + L->dense_count) * sizeof(void *));
    }
    for (size_t i = 0; i < L->packed_count && rc == 0; i++) {
        st = ug_weights_pack(L->ctx, &hw.src, &L->packed[i]);
        if (st != UG_OK)
            rc = bench_lib_fail(err, err_size, "packing the weights", L->ctx, st);
    }
    ug_packed_weights *exact = NULL;
    int32_t *ids = NULL;
    if (rc == 0) {
        st = ug_weights_pack(oracle, &hw.src, &exact);
        if (st != UG_OK)
            rc = bench_lib_fail(err, err_size, "packing the weights for the oracle", oracle, st);
    }
    if (rc == 0) {
        ids = malloc((size_t)cfg->n * sizeof *ids);
        L->dense[0] = malloc(dense_bytes);
        if (ids == NULL || L->dense[0] == NULL)
            rc = oom(err, err_size, "the f32 baseline weights", dense_bytes);
    }
    if (rc == 0) {
        /* dequant(W) row by row: an embedding lookup of every row, in f32 */
        for (int64_t i = 0; i < cfg->n; i++)
            ids[i] = (int32_t)i;
        st = ug_embedding_lookup(oracle, exact, ids, cfg->n, UG_F32, L->dense[0], 0);
        if (st != UG_OK)
            rc = bench_lib_fail(err, err_size, "dequantizing the weights for the baseline", oracle, st);
    }
    for (size_t i = 1; i < L->dense_count && rc == 0; i++) {
        L->dense[i] = malloc(dense_bytes);
        if (L->dense[i] == NULL)
            rc = oom(err, err_size, "a copy of the f32 baseline weights", dense_bytes);
        else
            memcpy(L->dense[i], L->dense[0], dense_bytes);
    }
    free(ids);
    ug_weights_destroy(exact);
    hx_weights_free(&hw);
    return rc;
}

/* Make *L hold cfg's weights: context, copies, the note on rotation caps. */
static int layer_build(bench_layer *L, const bench_config *cfg, const bench_machine *mach,
                       char *err, size_t err_size)
{
    layer_release(L);
    L->backend = cfg->backend;
    L->threads = cfg->threads;
    L->n = cfg->n;
    L->k = cfg->k;
    L->format = cfg->weights;
    L->seed = cfg->seed;
    L->llc_bytes = mach->llc_bytes;

    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = cfg->backend;
    opt.num_threads = cfg->threads;
    char why[512];
    ug_status st = ug_context_create(&opt, &L->ctx, why, sizeof why);
    if (st != UG_OK) {
        snprintf(err, err_size, "backend %s: %s: %s", ug_backend_name(cfg->backend),
                 ug_status_str(st), why);
        return -1;
    }
    ug_context *oracle = NULL;
    opt.backend = UG_BACKEND_REF;
    st = ug_context_create(&opt, &oracle, why, sizeof why);
    if (st != UG_OK) {
        snprintf(err, err_size, "backend ref (the oracle): %s: %s", ug_status_str(st), why);
        return -1;
    }
    size_t sizes[4];
    st = ug_weight_source_sizes(L->ctx, &cfg->weights, cfg->n, cfg->k, &sizes[0], &sizes[1],
                                &sizes[2], &sizes[3]);
    if (st != UG_OK) {
        ug_context_destroy(oracle);
        return bench_lib_fail(err, err_size, "weight sizes", L->ctx, st);
    }
    L->weight_bytes = sizes[0] + sizes[1] + sizes[2] + sizes[3];
    size_t dense_bytes;
    if (__builtin_mul_overflow((size_t)cfg->n * (size_t)cfg->k, sizeof(float), &dense_bytes)) {
        ug_context_destroy(oracle);
        snprintf(err, err_size, "n * k = %lld * %lld f32 weights overflow the address space",
                 (long long)cfg->n, (long long)cfg->k);
        return -1;
    }

    L->packed_count = copies_for(L->weight_bytes, L->llc_bytes);
    L->dense_count = copies_for(dense_bytes, L->llc_bytes);
    double total = (double)L->packed_count * (double)L->weight_bytes +
                   (double)L->dense_count * (double)dense_bytes;
    if (total > (double)BENCH_COPY_BUDGET) {
        double shrink = (double)BENCH_COPY_BUDGET / total;
        L->packed_count = (size_t)fmax(1.0, floor((double)L->packed_count * shrink));
        L->dense_count = (size_t)fmax(1.0, floor((double)L->dense_count * shrink));
    }
    double llc2 = 2.0 * (double)L->llc_bytes;
    bool short_w = (double)L->packed_count * (double)L->weight_bytes < llc2;
    bool short_d = (double)L->dense_count * (double)dense_bytes < llc2;
    if (short_w || short_d)
        printf("note: %zu copies of the packed weights (%.1f KiB each) and %zu of the f32 "
               "baseline weights (%.1f KiB each) rotate; %s less than 2 x LLC = %.0f MiB as "
               "copies are capped at %d and %.0f GiB in all, so timings may include cache hits\n",
               L->packed_count, (double)L->weight_bytes / 1024, L->dense_count,
               (double)dense_bytes / 1024,
               short_w && short_d ? "both span"
               : short_w          ? "the packed ones span"
                                  : "the f32 ones span",
               llc2 / (1 << 20), BENCH_MAX_COPIES, (double)BENCH_COPY_BUDGET / (1 << 30));

    int rc = layer_fill(L, oracle, cfg, dense_bytes, err, err_size);
    ug_context_destroy(oracle);
    if (rc != 0) {
        layer_release(L);
        return rc;
    }
    L->ready = true;
    return 0;
}

/* One timed call of a side; `call` counts the calls made so far. */
typedef ug_status (*bench_call_fn)(void *arg, size_t call);

typedef struct backend_call {
    const ug_plan *plan;
    ug_packed_weights *const *packed;
    size_t copies;
    const void *a;
    void *c;
    void *workspace;
    size_t workspace_bytes;
} backend_call;

static ug_status call_backend(void *arg, size_t call)
{
    const backend_call *b = arg;
    return ug_plan_execute(b->plan, b->packed[call % b->copies], b->a, b->c, NULL, b->workspace,
                           b->workspace_bytes);
}

typedef struct sgemm_call {
    int m, n, k;
    float *const *dense;
    size_t copies;
    const float *a;
    float *c;
} sgemm_call;

static ug_status call_sgemm(void *arg, size_t call)
{
    const sgemm_call *s = arg;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->m, s->n, s->k, 1.0f, s->a, s->k,
                s->dense[call % s->copies], s->k, 0.0f, s->c, s->n);
    return UG_OK;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Warm up, then time up to `reps` repetitions into times [reps]; median
 * seconds per call. */
static ug_status time_side(bench_call_fn fn, void *arg, int reps, double *times, double *median_s,
                           int *done)
{
    size_t call = 0;
    ug_status st = UG_OK;
    double start = hx_now(), warm;
    do {
        st = fn(arg, call++);
        warm = hx_now() - start;
    } while (st == UG_OK && warm < BENCH_WARMUP_S);
    double per_call = warm / (double)call;
    long batch = per_call >= BENCH_REP_MIN_S ? 1 : (long)ceil(BENCH_REP_MIN_S / per_call);
    if (batch > BENCH_MAX_BATCH)
        batch = BENCH_MAX_BATCH;
    int min_reps = reps < BENCH_MIN_REPS ? reps : BENCH_MIN_REPS;
    double spent = 0.0;
    int count = 0;
    while (st == UG_OK && count < reps && !(count >= min_reps && spent >= BENCH_SIDE_BUDGET_S)) {
        double t0 = hx_now();
        for (long i = 0; i < batch && st == UG_OK; i++)
            st = fn(arg, call++);
        double t = hx_now() - t0;
        spent += t;
        times[count++] = t / (double)batch;
    }
    if (st == UG_OK) {
        qsort(times, (size_t)count, sizeof *times, cmp_double);
        *median_s = count % 2 ? times[count / 2] : 0.5 * (times[count / 2 - 1] + times[count / 2]);
        *done = count;
    }
    return st;
}

static float load_act(const void *buf, ug_dtype t, size_t i)
{
    if (t == UG_F32)
        return ((const float *)buf)[i];
    uint16_t h = ((const uint16_t *)buf)[i];
    return t == UG_F16 ? ug_f16_to_f32(h) : ug_bf16_to_f32(h);
}

/* ||C - C_f32|| / ||C_f32||: the backend's output against the baseline's. */
static double rel_l2_vs_baseline(const void *c, ug_dtype t, const float *c32, size_t count)
{
    double diff = 0.0, ref = 0.0;
    for (size_t i = 0; i < count; i++) {
        double d = (double)load_act(c, t, i) - (double)c32[i];
        diff += d * d;
        ref += (double)c32[i] * (double)c32[i];
    }
    return ref > 0.0 ? sqrt(diff / ref) : sqrt(diff);
}

/* Buffers of one M, freed together. */
typedef struct bench_buffers {
    void *a, *c, *workspace;
    float *a32, *c32;
    double *times; /* [reps] */
    ug_plan *plan;
} bench_buffers;

static void buffers_free(bench_buffers *b)
{
    ug_plan_destroy(b->plan);
    free(b->a);
    free(b->c);
    free(b->workspace);
    free(b->a32);
    free(b->c32);
    free(b->times);
}

static int run_sides(const bench_config *cfg, const bench_machine *mach, int64_t m, bench_row *row,
                     bench_buffers *b, char *err, size_t err_size)
{
    bench_layer *L = &cached_layer;
    int64_t n = cfg->n, k = cfg->k;
    size_t esz = cfg->act == UG_F32 ? 4 : 2;
    size_t a_count = (size_t)m * (size_t)k, c_count = (size_t)m * (size_t)n;
    b->a = malloc(a_count * esz);
    b->c = malloc(c_count * esz);
    b->a32 = malloc(a_count * sizeof(float));
    b->c32 = malloc(c_count * sizeof(float));
    b->times = malloc((size_t)cfg->reps * sizeof *b->times);
    if (!b->a || !b->c || !b->a32 || !b->c32 || !b->times)
        return oom(err, err_size, "A and C", (a_count + c_count) * (esz + sizeof(float)));
    hx_rng rng = hx_rng_seed(cfg->seed ^ ((uint64_t)m * 0x9e3779b97f4a7c15ull));
    hx_fill(b->a, cfg->act, a_count, 1.0, &rng);
    for (size_t i = 0; i < a_count; i++)
        b->a32[i] = load_act(b->a, cfg->act, i);

    size_t ws_bytes = 0;
    int rc = bench_plan(L->ctx, cfg, m, L->packed[0], &b->plan, &ws_bytes, err, err_size);
    if (rc != 0)
        return rc;
    if (ws_bytes && (b->workspace = malloc(ws_bytes)) == NULL)
        return oom(err, err_size, "the workspace", ws_bytes);

    backend_call bc = {b->plan, L->packed, L->packed_count, b->a, b->c, b->workspace, ws_bytes};
    double median_s = 0.0;
    ug_status st = time_side(call_backend, &bc, cfg->reps, b->times, &median_s, &row->reps);
    if (st != UG_OK)
        return bench_lib_fail(err, err_size, "running the plan", L->ctx, st);

    int threads = ug_context_num_threads(L->ctx);
    openblas_set_num_threads(threads);
    sgemm_call sc = {(int)m, (int)n, (int)k, L->dense, L->dense_count, b->a32, b->c32};
    double base_s = 0.0;
    int base_reps = 0;
    time_side(call_sgemm, &sc, cfg->baseline_reps > 0 ? cfg->baseline_reps : cfg->reps, b->times,
              &base_s, &base_reps);

    /* A kernel that computes the wrong thing is not worth timing: say so. */
    double rel = rel_l2_vs_baseline(b->c, cfg->act, b->c32, c_count);
    double tol = cfg->act == UG_F32 ? 1e-4 : cfg->act == UG_F16 ? 5e-3 : 3e-2;
    if (!(rel <= tol))
        fprintf(stderr,
                "warning: m = %lld: the backend's output differs from the baseline's by "
                "a relative L2 error of %.3g (expected <= %.0e)\n",
                (long long)m, rel, tol);

    double flops = 2.0 * (double)m * (double)n * (double)k;
    double fewest = (double)L->weight_bytes + (double)a_count * esz + (double)c_count * esz;
    double floor_s = fmax(fewest / (mach->read_gbps * 1e9), flops / (mach->peak_gflops * 1e9));
    bench_row_fill(row, L->ctx, cfg, b->plan, m, L->weight_bytes, median_s, floor_s,
                   "openblas_sgemm", base_s);
    return 0;
}

int bench_run_one(const bench_config *cfg, const bench_machine *mach, int64_t m, bench_row *row,
                  char *err, size_t err_size)
{
    if (cfg == NULL || mach == NULL || row == NULL) {
        snprintf(err, err_size, "bench_run_one: %s is NULL",
                 cfg == NULL    ? "cfg"
                 : mach == NULL ? "mach"
                                : "row");
        return -1;
    }
    if (m < 1 || m > INT32_MAX || cfg->n < 1 || cfg->n > INT32_MAX || cfg->k < 1 ||
        cfg->k > INT32_MAX) {
        snprintf(err, err_size,
                 "m = %lld, n = %lld, k = %lld: each must be in 1..%d (the baseline's int range)",
                 (long long)m, (long long)cfg->n, (long long)cfg->k, INT32_MAX);
        return -1;
    }
    if (cfg->reps < 1) {
        snprintf(err, err_size, "reps = %d (must be at least 1)", cfg->reps);
        return -1;
    }
    if (cfg->act != UG_F32 && cfg->act != UG_F16 && cfg->act != UG_BF16) {
        snprintf(err, err_size, "act = %s (float32, float16 or bfloat16)", ug_dtype_name(cfg->act));
        return -1;
    }
    if (cfg->backend == UG_BACKEND_CUDA)
        return bench_cuda_run_one(cfg, mach, m, row, err, err_size);
    if (cfg->backend == UG_BACKEND_AUTO) {
        snprintf(err, err_size, "backend auto: resolve it first (ug_context_backend)");
        return -1;
    }
    if (mach->read_gbps <= 0.0 || mach->peak_gflops <= 0.0) {
        snprintf(err, err_size, "the machine's ceilings were not measured");
        return -1;
    }
    if (!release_registered) {
        atexit(release_cached_layer);
        release_registered = true;
    }
    if (!layer_matches(&cached_layer, cfg, mach) &&
        layer_build(&cached_layer, cfg, mach, err, err_size) != 0)
        return -1;
    memset(row, 0, sizeof *row);
    bench_buffers b = {0};
    int rc = run_sides(cfg, mach, m, row, &b, err, err_size);
    buffers_free(&b);
    return rc;
}

void bench_print_header(FILE *f)
{
    fprintf(f, "%-7s %-8s %6s %6s %6s  %-20s %4s %12s %9s %8s %10s %8s %12s %8s  %s\n", "backend",
            "act", "M", "N", "K", "schedule", "reps", "median_us", "TFLOP/s", "W_GB/s", "floor_us",
            "x_floor", "baseline_us", "speedup", "weights");
}

void bench_print_row(FILE *f, const bench_row *r)
{
    fprintf(f,
            "%-7s %-8s %6lld %6lld %6lld  %-20s %4d %12.2f %9.4f %8.2f %10.2f %8.2f %12.2f %8.3f"
            "  %s\n",
            r->backend, r->act, (long long)r->m, (long long)r->n, (long long)r->k, r->schedule,
            r->reps, r->median_us, r->tflops, r->weight_gbps, r->floor_us, r->ratio_to_floor,
            r->baseline_median_us, r->speedup_vs_baseline, r->weights);
    fflush(f);
}

/* One CSV field, quoted when it holds a comma, a quote or a line break. */
static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int bench_write_csv(const char *path, const bench_row *rows, size_t count)
{
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return -1;
    if (fseek(f, 0, SEEK_END) == 0 && ftell(f) == 0)
        fputs("backend,act,weights,m,n,k,schedule,median_us,tflops,weight_gbps,floor_us,"
              "ratio_to_floor,baseline,baseline_median_us,speedup_vs_baseline\n",
              f);
    for (size_t i = 0; i < count; i++) {
        const bench_row *r = &rows[i];
        csv_field(f, r->backend);
        fputc(',', f);
        csv_field(f, r->act);
        fputc(',', f);
        csv_field(f, r->weights);
        fprintf(f, ",%lld,%lld,%lld,", (long long)r->m, (long long)r->n, (long long)r->k);
        csv_field(f, r->schedule);
        fprintf(f, ",%.3f,%.6g,%.4f,%.3f,%.4f,", r->median_us, r->tflops, r->weight_gbps,
                r->floor_us, r->ratio_to_floor);
        csv_field(f, r->baseline);
        fprintf(f, ",%.3f,%.4f\n", r->baseline_median_us, r->speedup_vs_baseline);
    }
    int write_error = ferror(f);
    int saved = errno;
    if (fclose(f) != 0 || write_error) {
        if (write_error)
            errno = saved;
        return -1;
    }
    return 0;
}
