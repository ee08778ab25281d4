/*
 * bench_cuda.c - the cuda side of `unigemm bench` and `unigemm demo`, in
 * plain C on the CUDA runtime and cuBLAS C APIs.
 *
 * One shape: A [M][K] and C [M][N] of the activation type (float16 or
 * bfloat16) in device memory, W [N][K] of any weight format packed onto the
 * device by ug_weights_pack. It is timed on the cuda backend and, on the same
 * data, against the dense baseline "cublas_bf16":
 *     cublasGemmEx(CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, 1, W bf16 [N][K], K,
 *                  A bf16 [M][K], K, 0, C bf16 [M][N], N, CUBLAS_COMPUTE_32F)
 * i.e. C^T = W . A^T in cuBLAS's column-major terms, which is the row-major
 * C = A . W^T; W is dequant(W) from the oracle rounded to bf16, A rounded to
 * bf16. Before timing, both outputs are copied back and compared (relative
 * L2), with a warning when they disagree, so that the two sides compute the
 * same thing.
 *
 * Ceiling: the device-to-device copy bandwidth, measured by the same run
 * (cudaMemcpyAsync of a 1 GiB buffer, median of 10 after a warm-up, read +
 * write counted: 2 x bytes / time). floor = (weight bytes at source size,
 * codes + scales + biases + zero points, + A bytes + C bytes) / bandwidth;
 * there is no compute floor on the GPU.
 *
 * Timing, each side alike, on one non-blocking stream that the context
 * launches on (and cuBLAS too):
 *  - rotation: call i uses set i mod R of (weights, A, C), R the fewest sets
 *    whose bytes together exceed 2 x L2 (cudaDeviceProp.l2CacheSize), so that
 *    each call reads its weights from HBM as in a model far larger than L2;
 *    weight copies are capped at 16 GiB and half the free memory, with a
 *    printed note when the cap bites;
 *  - order (cfg->timing): by default all of the backend's calls, then all
 *    of cuBLAS's, each side in the steady clock its own power draw sets
 *    (as in a model that runs one library's kernels); BENCH_TIMING_ALTERNATE
 *    (`--timing alternate`) takes one call of each in turn, warm-up
 *    included, so that both run in the same power and clock state. The
 *    H200 runs these kernels power-limited: on int4 at M = 4096 the
 *    alternating ratio was 0.907 (three runs, the same to 0.001) where the
 *    sides apart gave 0.933-0.940, i.e. cuBLAS alone clocks lower than ours
 *    alone (bench/results/h200-session10-experiments.txt);
 *  - warm-up: whole rotations of each side until at least 0.1 s per side
 *    has passed;
 *  - timed: EACH CALL INDIVIDUALLY, between its own pair of CUDA events;
 *    the median of `reps` per-call times is reported. Calls are enqueued in
 *    chunks of up to 64 behind a host function (cudaLaunchHostFunc) that
 *    holds the stream until the whole chunk is enqueued, so that the GPU runs
 *    the chunk back to back and an event pair measures its call's GPU time
 *    and not the gaps that a CPU slower than the kernel would leave. Event
 *    timestamps resolve about 0.5 us. Once a side has spent 10 s in timed
 *    chunks it takes no further calls, as long as 3 of its calls are timed.
 *
 * Every failed CUDA or cuBLAS call fails the run with a message naming the
 * call and CUDA's (or cuBLAS's) text. The stream, cuBLAS handle, contexts
 * and the weight copies of one configuration are kept from one call to the
 * next (one M after another) and freed at exit: callers must be
 * single-threaded.
 */
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "harness.h"

#define CUDA_BASELINE_NAME "cublas_bf16"
#define CUDA_WARMUP_S 0.1
#define CUDA_SIDE_BUDGET_S 10.0
#define CUDA_MIN_REPS 3
#define CUDA_CHUNK 64
#define CUDA_GATE_MAX_S 2.0
#define CUDA_MAX_COPIES 4096
#define CUDA_COPY_BUDGET ((size_t)16 << 30)
#define CUDA_BW_BYTES ((size_t)1 << 30)
#define CUDA_BW_MIN_BYTES ((size_t)64 << 20)
#define CUDA_BW_REPS 10
#define CUDA_SET_ALIGN ((size_t)256)

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */
/* ------------------------------------------------------------------------ */

/* "call (what): cudaErrorName: CUDA's text"; returns -1. */
static int cuda_fail(char *err, size_t err_size, const char *call, const char *what, cudaError_t e)
{
    snprintf(err, err_size, "%s%s%s%s: %s: %s", call, what ? " (" : "", what ? what : "",
             what ? ")" : "", cudaGetErrorName(e), cudaGetErrorString(e));
    cudaGetLastError(); /* clear the slot of errors that are not sticky */
    return -1;
}

static int cublas_fail(char *err, size_t err_size, const char *call, const char *what,
                       cublasStatus_t s)
{
    snprintf(err, err_size, "%s%s%s%s: %s: %s", call, what ? " (" : "", what ? what : "",
             what ? ")" : "", cublasGetStatusName(s), cublasGetStatusString(s));
    return -1;
}

/* Return -1 from the enclosing function (which has err, err_size) when a
 * CUDA or cuBLAS call fails; `what` says what for (NULL: nothing to add). */
#define CUDA_TRY(call, what)                                                                       \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            return cuda_fail(err, err_size, #call, what, e_);                                      \
    } while (0)
#define CUBLAS_TRY(call, what)                                                                     \
    do {                                                                                           \
        cublasStatus_t s_ = (call);                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                           \
            return cublas_fail(err, err_size, #call, what, s_);                                    \
    } while (0)

static double mib(size_t bytes)
{
    return (double)bytes / (1 << 20);
}

static size_t round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

/* cudaMalloc that leaves *out NULL unless it succeeds. */
static int dev_alloc(void **out, size_t bytes, const char *what, char *err, size_t err_size)
{
    void *p = NULL;
    CUDA_TRY(cudaMalloc(&p, bytes), what);
    *out = p;
    return 0;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median_of(double *v, int count)
{
    qsort(v, (size_t)count, sizeof *v, cmp_double);
    return count % 2 ? v[count / 2] : 0.5 * (v[count / 2 - 1] + v[count / 2]);
}

/* The fewest sets of `bytes` each whose total exceeds 2 x L2, at most `cap`. */
static size_t sets_for(size_t bytes, size_t l2, size_t cap)
{
    size_t want = bytes > 2 * l2 ? 1 : 2 * l2 / (bytes ? bytes : 1) + 1;
    return want > cap ? cap : want;
}

/* ------------------------------------------------------------------------ */
/* The session: stream, cuBLAS, contexts, timing events, the gate             */
/* ------------------------------------------------------------------------ */

/* Holds the stream from a host function until the CPU has enqueued a chunk. */
typedef struct cuda_gate {
    atomic_int open;
    atomic_int timed_out;
} cuda_gate;

typedef struct cuda_session {
    bool ready;
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    ug_context *ctx;    /* cuda, launching on `stream` */
    ug_context *oracle; /* ref, host memory */
    cudaEvent_t events[2 * CUDA_CHUNK];
    int event_count;
    cuda_gate gate;
    bool gate_note_printed;
} cuda_session;

/* The weights of one configuration: R packed copies on the device for the
 * backend, Rd bf16 copies of dequant(W) on the device for cuBLAS. */
typedef struct cuda_layer {
    bool ready;
    int64_t n, k;
    ug_weight_format format;
    uint64_t seed;
    int device;
    size_t weight_bytes; /* codes + scales + biases + zeros of one copy, at source size */
    ug_packed_weights **packed;
    size_t packed_count;
    size_t dense_bytes; /* N * K * 2 */
    void **dense;
    size_t dense_count;
} cuda_layer;

static cuda_session session;
static cuda_layer layer;
static bool release_registered;

static void layer_release(cuda_layer *L)
{
    for (size_t i = 0; L->packed != NULL && i < L->packed_count; i++)
        ug_weights_destroy(L->packed[i]);
    free(L->packed);
    for (size_t i = 0; L->dense != NULL && i < L->dense_count; i++)
        if (L->dense[i] != NULL)
            cudaFree(L->dense[i]);
    free(L->dense);
    memset(L, 0, sizeof *L);
}

static void session_release(cuda_session *S)
{
    ug_context_destroy(S->ctx);
    ug_context_destroy(S->oracle);
    for (int i = 0; i < S->event_count; i++)
        cudaEventDestroy(S->events[i]);
    if (S->blas != NULL)
        cublasDestroy(S->blas);
    if (S->stream != NULL)
        cudaStreamDestroy(S->stream);
    memset(S, 0, sizeof *S);
}

static void release_all(void)
{
    layer_release(&layer);
    session_release(&session);
}

static int session_open(int device, int32_t threads, char *err, size_t err_size)
{
    if (session.ready && session.device == device)
        return 0;
    release_all();
    if (!release_registered) {
        atexit(release_all);
        release_registered = true;
    }
    cuda_session *S = &session;
    S->device = device;
    CUDA_TRY(cudaSetDevice(device), NULL);
    cudaStream_t stream = NULL;
    CUDA_TRY(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), NULL);
    S->stream = stream;
    cublasHandle_t blas = NULL;
    CUBLAS_TRY(cublasCreate(&blas), NULL);
    S->blas = blas;
    CUBLAS_TRY(cublasSetStream(S->blas, S->stream), NULL);
    for (; S->event_count < 2 * CUDA_CHUNK; S->event_count++) {
        cudaEvent_t ev = NULL;
        CUDA_TRY(cudaEventCreate(&ev), "timing events");
        S->events[S->event_count] = ev;
    }

    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = UG_BACKEND_CUDA;
    opt.num_threads = threads;
    opt.device = device;
    opt.stream = S->stream;
    char why[512];
    ug_status st = ug_context_create(&opt, &S->ctx, why, sizeof why);
    if (st != UG_OK) {
        snprintf(err, err_size, "backend cuda, device %d: %s: %s", device, ug_status_str(st), why);
        return -1;
    }
    opt.backend = UG_BACKEND_REF;
    opt.stream = NULL;
    st = ug_context_create(&opt, &S->oracle, why, sizeof why);
    if (st != UG_OK) {
        snprintf(err, err_size, "backend ref (the oracle): %s: %s", ug_status_str(st), why);
        return -1;
    }
    S->ready = true;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Ceilings                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct bw_resources {
    void *src, *dst;
    cudaStream_t stream;
    cudaEvent_t ev[2 * CUDA_BW_REPS];
    int events;
} bw_resources;

static void bw_release(bw_resources *r)
{
    if (r->stream != NULL)
        cudaStreamSynchronize(r->stream);
    for (int i = 0; i < r->events; i++)
        cudaEventDestroy(r->ev[i]);
    if (r->stream != NULL)
        cudaStreamDestroy(r->stream);
    if (r->src != NULL)
        cudaFree(r->src);
    if (r->dst != NULL)
        cudaFree(r->dst);
}

static int measure_copy(int device, bench_machine *out, bw_resources *r, char *err, size_t err_size)
{
    int count = 0;
    CUDA_TRY(cudaGetDeviceCount(&count), NULL);
    if (device < 0 || device >= count) {
        snprintf(err, err_size, "device %d: %d CUDA device(s) exist", device, count);
        return -1;
    }
    CUDA_TRY(cudaSetDevice(device), NULL);
    struct cudaDeviceProp prop;
    CUDA_TRY(cudaGetDeviceProperties(&prop, device), NULL);
    out->device = device;
    snprintf(out->device_name, sizeof out->device_name, "%s", prop.name);
    out->l2_bytes = prop.l2CacheSize > 0 ? (size_t)prop.l2CacheSize : (size_t)50 << 20;

    /* Two buffers of 1 GiB, or less on a device that has not that much free. */
    size_t bytes = CUDA_BW_BYTES;
    for (;;) {
        cudaError_t e = cudaMalloc(&r->src, bytes);
        if (e == cudaSuccess) {
            e = cudaMalloc(&r->dst, bytes);
            if (e == cudaSuccess)
                break;
            cudaFree(r->src);
        }
        r->src = r->dst = NULL;
        if (e != cudaErrorMemoryAllocation || bytes / 2 < CUDA_BW_MIN_BYTES)
            return cuda_fail(err, err_size, "cudaMalloc", "the copy-bandwidth buffers", e);
        cudaGetLastError();
        bytes /= 2;
    }
    out->copy_bytes = bytes;
    cudaStream_t stream = NULL;
    CUDA_TRY(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), NULL);
    r->stream = stream;
    for (; r->events < 2 * CUDA_BW_REPS; r->events++) {
        cudaEvent_t ev = NULL;
        CUDA_TRY(cudaEventCreate(&ev), NULL);
        r->ev[r->events] = ev;
    }
    CUDA_TRY(cudaMemsetAsync(r->src, 0x3c, bytes, r->stream), NULL);
    CUDA_TRY(cudaMemsetAsync(r->dst, 0, bytes, r->stream), NULL);
    for (int i = 0; i < 3; i++) /* warm-up */
        CUDA_TRY(cudaMemcpyAsync(r->dst, r->src, bytes, cudaMemcpyDeviceToDevice, r->stream),
                 "warm-up");
    for (int i = 0; i < CUDA_BW_REPS; i++) {
        CUDA_TRY(cudaEventRecord(r->ev[2 * i], r->stream), NULL);
        CUDA_TRY(cudaMemcpyAsync(r->dst, r->src, bytes, cudaMemcpyDeviceToDevice, r->stream),
                 "timed");
        CUDA_TRY(cudaEventRecord(r->ev[2 * i + 1], r->stream), NULL);
    }
    CUDA_TRY(cudaStreamSynchronize(r->stream), "after the copies");
    double times[CUDA_BW_REPS];
    for (int i = 0; i < CUDA_BW_REPS; i++) {
        float ms = 0.0f;
        CUDA_TRY(cudaEventElapsedTime(&ms, r->ev[2 * i], r->ev[2 * i + 1]), NULL);
        times[i] = (double)ms * 1e-3;
    }
    double t = median_of(times, CUDA_BW_REPS);
    if (!(t > 0.0)) {
        snprintf(err, err_size, "the copy of %.0f MiB took no measurable time", mib(bytes));
        return -1;
    }
    out->copy_gbps = 2.0 * (double)bytes / t * 1e-9;
    return 0;
}

int bench_cuda_measure_machine(int device, bench_machine *out, char *err, size_t err_size)
{
    if (out == NULL) {
        snprintf(err, err_size, "bench_cuda_measure_machine: out is NULL");
        return -1;
    }
    memset(out, 0, sizeof *out);
    bw_resources r;
    memset(&r, 0, sizeof r);
    int rc = measure_copy(device, out, &r, err, err_size);
    bw_release(&r);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Weights                                                                    */
/* ------------------------------------------------------------------------ */

static bool same_format(const ug_weight_format *a, const ug_weight_format *b)
{
    return a->storage == b->storage && a->method == b->method && a->group_size == b->group_size &&
           a->scale_type == b->scale_type;
}

static bool layer_matches(const cuda_layer *L, const bench_config *cfg, const bench_machine *mach)
{
    return L->ready && L->n == cfg->n && L->k == cfg->k && same_format(&L->format, &cfg->weights) &&
           L->seed == cfg->seed && L->device == mach->device;
}

/* Pack the copies, dequantize W once on the host through the oracle (to
 * bf16) and upload it to each dense copy. */
static int layer_fill(cuda_layer *L, const bench_config *cfg, char *err, size_t err_size)
{
    cuda_session *S = &session;
    hx_rng rng = hx_rng_seed(cfg->seed);
    hx_weights hw;
    ug_status st = hx_weights_make(S->oracle, &cfg->weights, cfg->n, cfg->k, &rng, &hw);
    if (st != UG_OK)
        return bench_lib_fail(err, err_size, "making random weights", S->oracle, st);
    int rc = 0;
    L->packed = calloc(L->packed_count, sizeof *L->packed);
    L->dense = calloc(L->dense_count, sizeof *L->dense);
    if (L->packed == NULL || L->dense == NULL) {
        snprintf(err, err_size, "out of host memory for the lists of weight copies");
        rc = -1;
    }
    for (size_t i = 0; i < L->packed_count && rc == 0; i++) {
        st = ug_weights_pack(S->ctx, &hw.src, &L->packed[i]);
        if (st != UG_OK)
            rc = bench_lib_fail(err, err_size, "packing the weights onto the device", S->ctx, st);
    }
    ug_packed_weights *exact = NULL;
    int32_t *ids = NULL;
    uint16_t *host = NULL;
    if (rc == 0) {
        st = ug_weights_pack(S->oracle, &hw.src, &exact);
        if (st != UG_OK)
            rc = bench_lib_fail(err, err_size, "packing the weights for the oracle", S->oracle, st);
    }
    if (rc == 0) {
        ids = malloc((size_t)cfg->n * sizeof *ids);
        host = malloc(L->dense_bytes);
        if (ids == NULL || host == NULL) {
            snprintf(err, err_size, "out of host memory for the bf16 baseline weights (%.1f MiB)",
                     mib(L->dense_bytes));
            rc = -1;
        }
    }
    if (rc == 0) {
        /* dequant(W) row by row: an embedding lookup of every row, in bf16 */
        for (int64_t i = 0; i < cfg->n; i++)
            ids[i] = (int32_t)i;
        st = ug_embedding_lookup(S->oracle, exact, ids, cfg->n, UG_BF16, host, 0);
        if (st != UG_OK)
            rc =
                bench_lib_fail(err, err_size, "dequantizing the weights for the baseline", S->oracle, st);
    }
    for (size_t i = 0; i < L->dense_count && rc == 0; i++) {
        void *dev = NULL;
        cudaError_t e = cudaMalloc(&dev, L->dense_bytes);
        const char *call = "cudaMalloc";
        if (e == cudaSuccess) {
            L->dense[i] = dev;
            e = cudaMemcpy(dev, host, L->dense_bytes, cudaMemcpyHostToDevice);
            call = "cudaMemcpy";
        }
        if (e != cudaSuccess) {
            char what[96];
            snprintf(what, sizeof what, "bf16 baseline weights, copy %zu of %zu, %.1f MiB", i + 1,
                     L->dense_count, mib(L->dense_bytes));
            rc = cuda_fail(err, err_size, call, what, e);
        }
    }
    if (rc == 0) {
        /* see run_sides: the uploads may still be running on the legacy stream */
        cudaError_t e = cudaDeviceSynchronize();
        if (e != cudaSuccess)
            rc = cuda_fail(err, err_size, "cudaDeviceSynchronize", "after packing the weights", e);
    }
    free(host);
    free(ids);
    ug_weights_destroy(exact);
    hx_weights_free(&hw);
    return rc;
}

static int layer_build(cuda_layer *L, const bench_config *cfg, const bench_machine *mach, char *err,
                       size_t err_size)
{
    layer_release(L);
    L->n = cfg->n;
    L->k = cfg->k;
    L->format = cfg->weights;
    L->seed = cfg->seed;
    L->device = mach->device;
    size_t sizes[4];
    ug_status st = ug_weight_source_sizes(session.ctx, &cfg->weights, cfg->n, cfg->k, &sizes[0],
                                          &sizes[1], &sizes[2], &sizes[3]);
    if (st != UG_OK)
        return bench_lib_fail(err, err_size, "weight sizes", session.ctx, st);
    L->weight_bytes = sizes[0] + sizes[1] + sizes[2] + sizes[3];
    if (__builtin_mul_overflow((size_t)cfg->n * (size_t)cfg->k, (size_t)2, &L->dense_bytes)) {
        snprintf(err, err_size, "n * k = %lld * %lld bf16 weights overflow the address space",
                 (long long)cfg->n, (long long)cfg->k);
        return -1;
    }
    L->packed_count = sets_for(L->weight_bytes, mach->l2_bytes, CUDA_MAX_COPIES);
    L->dense_count = sets_for(L->dense_bytes, mach->l2_bytes, CUDA_MAX_COPIES);

    /* At most 16 GiB of copies in all, and half of what is free. */
    size_t free_bytes = 0, total_bytes = 0;
    CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes), NULL);
    double budget = fmin((double)CUDA_COPY_BUDGET, 0.5 * (double)free_bytes);
    double total = (double)L->packed_count * (double)L->weight_bytes +
                   (double)L->dense_count * (double)L->dense_bytes;
    if (total > budget) {
        double shrink = budget / total;
        L->packed_count = (size_t)fmax(1.0, floor((double)L->packed_count * shrink));
        L->dense_count = (size_t)fmax(1.0, floor((double)L->dense_count * shrink));
    }
    double l2x2 = 2.0 * (double)mach->l2_bytes;
    bool short_w = (double)L->packed_count * (double)L->weight_bytes <= l2x2;
    bool short_d = (double)L->dense_count * (double)L->dense_bytes <= l2x2;
    if (short_w || short_d)
        printf("note: %zu copies of the packed weights (%.1f KiB each) and %zu of the bf16 "
               "baseline weights (%.1f KiB each) rotate; %s no more than 2 x L2 = %.0f MiB as "
               "copies are capped at %d, %.0f GiB and half the free device memory, so timings "
               "may include L2 hits\n",
               L->packed_count, (double)L->weight_bytes / 1024, L->dense_count,
               (double)L->dense_bytes / 1024,
               short_w && short_d ? "both span"
               : short_w          ? "the packed ones span"
                                  : "the bf16 ones span",
               l2x2 / (1 << 20), CUDA_MAX_COPIES, (double)CUDA_COPY_BUDGET / (1 << 30));
    if (layer_fill(L, cfg, err, err_size) != 0) {
        layer_release(L);
        return -1;
    }
    L->ready = true;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Timing                                                                     */
/* ------------------------------------------------------------------------ */

static void CUDART_CB gate_hold(void *arg)
{
    cuda_gate *g = arg;
    double start = hx_now();
    while (!atomic_load_explicit(&g->open, memory_order_acquire)) {
        if (hx_now() - start > CUDA_GATE_MAX_S) {
            atomic_store(&g->timed_out, 1);
            break;
        }
        sched_yield();
    }
}

/* Enqueue call number `call` of a side on the session's stream. */
typedef int (*cuda_call_fn)(void *arg, size_t call, char *err, size_t err_size);

/* One side of a measurement: its calls, how many sets they rotate through,
 * how many to time, and where the per-call times and their median go. */
typedef struct timed_side {
    cuda_call_fn fn;
    void *arg;
    size_t rotation;
    int reps;
    double *times;
    size_t call; /* the next call's number */
    int count;   /* calls timed so far */
    double spent;
    double median_s;
} timed_side;

/* Enqueue the calls of owner[0 .. count) between event pairs (the gate
 * closed); *enqueued says how many made it. */
static int enqueue_chunk(timed_side *const *owner, int count, int *enqueued, char *err,
                         size_t err_size)
{
    cuda_session *S = &session;
    for (int j = 0; j < count; j++) {
        CUDA_TRY(cudaEventRecord(S->events[2 * j], S->stream), NULL);
        if (owner[j]->fn(owner[j]->arg, owner[j]->call++, err, err_size) != 0)
            return -1;
        CUDA_TRY(cudaEventRecord(S->events[2 * j + 1], S->stream), NULL);
        *enqueued = j + 1;
    }
    return 0;
}

static bool side_wants_more(const timed_side *t)
{
    int min_reps = t->reps < CUDA_MIN_REPS ? t->reps : CUDA_MIN_REPS;
    return t->count < t->reps && !(t->count >= min_reps && t->spent >= CUDA_SIDE_BUDGET_S);
}

/* Warm up, then time the sides' calls one by one, each between its own pair
 * of events. With two sides the calls alternate (one of each in turn, as
 * long as each side still wants calls), in the warm-up too, so that both run
 * in the same power and clock state of the GPU; with one side this is the
 * plain measurement of that side alone. One or two sides. */
static int time_sides(timed_side *sides, int count_sides, char *err, size_t err_size)
{
    cuda_session *S = &session;
    double start = hx_now();
    do {
        size_t longest = 0;
        for (int s = 0; s < count_sides; s++)
            longest = sides[s].rotation > longest ? sides[s].rotation : longest;
        for (size_t i = 0; i < longest; i++)
            for (int s = 0; s < count_sides; s++)
                if (i < sides[s].rotation &&
                    sides[s].fn(sides[s].arg, sides[s].call++, err, err_size) != 0)
                    return -1;
        CUDA_TRY(cudaStreamSynchronize(S->stream), "after the warm-up calls");
    } while (hx_now() - start < CUDA_WARMUP_S * count_sides);

    for (;;) {
        /* a chunk: up to CUDA_CHUNK calls, taken in turns from the sides
         * that want more, enqueued behind the closed gate */
        timed_side *owner[CUDA_CHUNK];
        int planned = 0;
        int wanted[2] = {0, 0};
        for (int s = 0; s < count_sides; s++)
            wanted[s] = side_wants_more(&sides[s]) ? sides[s].reps - sides[s].count : 0;
        while (planned < CUDA_CHUNK) {
            int before = planned;
            for (int s = 0; s < count_sides && planned < CUDA_CHUNK; s++)
                if (wanted[s] > 0) {
                    owner[planned++] = &sides[s];
                    wanted[s]--;
                }
            if (planned == before)
                break;
        }
        if (planned == 0)
            break;
        atomic_store(&S->gate.open, 0);
        atomic_store(&S->gate.timed_out, 0);
        CUDA_TRY(cudaLaunchHostFunc(S->stream, gate_hold, &S->gate), "the gate before a chunk");
        int enqueued = 0;
        int rc = enqueue_chunk(owner, planned, &enqueued, err, err_size);
        atomic_store_explicit(&S->gate.open, 1, memory_order_release);
        cudaError_t e = cudaStreamSynchronize(S->stream);
        if (rc != 0)
            return -1;
        if (e != cudaSuccess)
            return cuda_fail(err, err_size, "cudaStreamSynchronize", "after the timed calls", e);
        if (atomic_load(&S->gate.timed_out) && !S->gate_note_printed) {
            printf("note: enqueueing %d calls took over %.0f s, so the GPU ran part of them as "
                   "the CPU issued them; their times may include launch gaps\n",
                   planned, CUDA_GATE_MAX_S);
            S->gate_note_printed = true;
        }
        for (int j = 0; j < enqueued; j++) {
            float ms = 0.0f;
            CUDA_TRY(cudaEventElapsedTime(&ms, S->events[2 * j], S->events[2 * j + 1]), NULL);
            timed_side *t = owner[j];
            t->times[t->count++] = (double)ms * 1e-3;
            t->spent += (double)ms * 1e-3;
        }
    }
    for (int s = 0; s < count_sides; s++)
        sides[s].median_s = median_of(sides[s].times, sides[s].count);
    return 0;
}

typedef struct backend_call {
    const ug_plan *plan;
    ug_packed_weights *const *packed;
    size_t sets;
    const char *a;
    char *c;
    size_t a_stride, c_stride; /* bytes between sets */
    void *workspace;
    size_t workspace_bytes;
} backend_call;

static int call_backend(void *arg, size_t call, char *err, size_t err_size)
{
    const backend_call *b = arg;
    size_t i = call % b->sets;
    ug_status st = ug_plan_execute(b->plan, b->packed[i], b->a + i * b->a_stride,
                                   b->c + i * b->c_stride, NULL, b->workspace, b->workspace_bytes);
    return st == UG_OK ? 0 : bench_lib_fail(err, err_size, "ug_plan_execute", session.ctx, st);
}

typedef struct cublas_call {
    int m, n, k;
    void *const *dense;
    size_t sets;
    const char *a;
    char *c;
    size_t a_stride, c_stride;
} cublas_call;

static int call_cublas(void *arg, size_t call, char *err, size_t err_size)
{
    const cublas_call *s = arg;
    size_t i = call % s->sets;
    const float one = 1.0f, zero = 0.0f;
    /* row-major C [M][N] = A [M][K] . W [N][K]^T is column-major
     * C^T (N x M, ld N) = W^T^T (N x K: W read as K x N, ld K, transposed)
     *                     . A^T (K x M, ld K) */
    CUBLAS_TRY(cublasGemmEx(session.blas, CUBLAS_OP_T, CUBLAS_OP_N, s->n, s->m, s->k, &one,
                            s->dense[i], CUDA_R_16BF, s->k, s->a + i * s->a_stride, CUDA_R_16BF,
                            s->k, &zero, s->c + i * s->c_stride, CUDA_R_16BF, s->n,
                            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               NULL);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* One M                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct cuda_buffers {
    ug_plan *plan;
    void *workspace;         /* device */
    char *a, *c, *a16, *c16; /* device: sets of the backend's and cuBLAS's A and C */
    void *h_a, *h_c;         /* host, act type */
    uint16_t *h_a16, *h_c16; /* host, bf16 */
    double *times, *base_times; /* per-call times of the backend and of cuBLAS */
} cuda_buffers;

static void buffers_free(cuda_buffers *b)
{
    if (session.stream != NULL)
        cudaStreamSynchronize(session.stream);
    ug_plan_destroy(b->plan);
    void *dev[] = {b->workspace, b->a, b->c, b->a16, b->c16};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i] != NULL)
            cudaFree(dev[i]);
    free(b->h_a);
    free(b->h_c);
    free(b->h_a16);
    free(b->h_c16);
    free(b->times);
    free(b->base_times);
}

/* `sets` device copies of host[bytes], `stride` apart, in one allocation. */
static int upload_sets(char **dev, const void *host, size_t bytes, size_t stride, size_t sets,
                       const char *what, char *err, size_t err_size)
{
    void *p = NULL;
    if (dev_alloc(&p, stride * sets, what, err, err_size) != 0)
        return -1;
    *dev = p;
    for (size_t i = 0; i < sets; i++)
        if (host != NULL)
            CUDA_TRY(cudaMemcpy(*dev + i * stride, host, bytes, cudaMemcpyHostToDevice), what);
        else
            CUDA_TRY(cudaMemset(*dev + i * stride, 0, bytes), what);
    return 0;
}

static double rel_l2(const void *c, ug_dtype t, const uint16_t *ref, size_t count)
{
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < count; i++) {
        double r = (double)ug_bf16_to_f32(ref[i]);
        double d = hx_load(c, t, i) - r;
        diff += d * d;
        norm += r * r;
    }
    return norm > 0.0 ? sqrt(diff / norm) : sqrt(diff);
}

static int run_sides(const bench_config *cfg, const bench_machine *mach, int64_t m, bench_row *row,
                     cuda_buffers *b, char *err, size_t err_size)
{
    cuda_session *S = &session;
    cuda_layer *L = &layer;
    int64_t n = cfg->n, k = cfg->k;
    size_t esz = 2; /* f16 or bf16 */
    size_t a_count = (size_t)m * (size_t)k, c_count = (size_t)m * (size_t)n;
    size_t a_bytes = a_count * esz, c_bytes = c_count * esz;
    size_t a_stride = round_up(a_bytes, CUDA_SET_ALIGN),
           c_stride = round_up(c_bytes, CUDA_SET_ALIGN);

    b->h_a = malloc(a_bytes);
    b->h_c = malloc(c_bytes);
    b->h_a16 = malloc(a_count * 2);
    b->h_c16 = malloc(c_count * 2);
    const int base_reps = cfg->baseline_reps > 0 ? cfg->baseline_reps : cfg->reps;
    b->times = malloc((size_t)cfg->reps * sizeof *b->times);
    b->base_times = malloc((size_t)base_reps * sizeof *b->base_times);
    if (!b->h_a || !b->h_c || !b->h_a16 || !b->h_c16 || !b->times || !b->base_times) {
        snprintf(err, err_size, "out of host memory for A and C (%.1f MiB)",
                 mib(2 * (a_bytes + c_bytes)));
        return -1;
    }
    hx_rng rng = hx_rng_seed(cfg->seed ^ ((uint64_t)m * 0x9e3779b97f4a7c15ull));
    hx_fill(b->h_a, cfg->act, a_count, 1.0, &rng);
    for (size_t i = 0; i < a_count; i++)
        b->h_a16[i] = ug_f32_to_bf16((float)hx_load(b->h_a, cfg->act, i));

    /* Sets of (weights, A, C) whose bytes together exceed 2 x L2. */
    size_t sets = sets_for(L->weight_bytes + a_stride + c_stride, mach->l2_bytes, L->packed_count);
    size_t sets16 = sets_for(L->dense_bytes + a_stride + c_stride, mach->l2_bytes, L->dense_count);
    if (upload_sets(&b->a, b->h_a, a_bytes, a_stride, sets, "A sets", err, err_size) != 0 ||
        upload_sets(&b->c, NULL, c_bytes, c_stride, sets, "C sets", err, err_size) != 0 ||
        upload_sets(&b->a16, b->h_a16, a_bytes, a_stride, sets16, "bf16 A sets", err, err_size) !=
            0 ||
        upload_sets(&b->c16, NULL, c_bytes, c_stride, sets16, "bf16 C sets", err, err_size) != 0)
        return -1;
    /* cudaMemcpy from pageable memory and cudaMemset may still run on the
     * legacy stream, which the session's non-blocking stream does not wait for. */
    CUDA_TRY(cudaDeviceSynchronize(), "after uploading A and C");

    size_t ws_bytes = 0;
    int plan_rc = bench_plan(S->ctx, cfg, m, L->packed[0], &b->plan, &ws_bytes, err, err_size);
    if (plan_rc != 0)
        return plan_rc;
    if (ws_bytes && dev_alloc(&b->workspace, ws_bytes, "the plan's workspace", err, err_size) != 0)
        return -1;

    backend_call bc = {b->plan,  L->packed, sets,         b->a,    b->c,
                       a_stride, c_stride,  b->workspace, ws_bytes};
    cublas_call cc = {(int)m, (int)n, (int)k, L->dense, sets16, b->a16, b->c16, a_stride, c_stride};

    /* One call of each side on set 0, checked and compared before timing. */
    if (call_backend(&bc, 0, err, err_size) != 0)
        return -1;
    CUDA_TRY(cudaStreamSynchronize(S->stream), "after the first ug_plan_execute");
    CUDA_TRY(cudaMemcpy(b->h_c, b->c, c_bytes, cudaMemcpyDeviceToHost), "C of the backend");
    if (call_cublas(&cc, 0, err, err_size) != 0)
        return -1;
    CUDA_TRY(cudaStreamSynchronize(S->stream), "after the first cublasGemmEx");
    CUDA_TRY(cudaMemcpy(b->h_c16, b->c16, c_bytes, cudaMemcpyDeviceToHost), "C of cuBLAS");
    double rel = rel_l2(b->h_c, cfg->act, b->h_c16, c_count);
    double tol = 3e-2;
    if (!(rel <= tol))
        fprintf(stderr,
                "warning: m = %lld: the cuda backend's output differs from cuBLAS's by a "
                "relative L2 error of %.3g (expected <= %.0e)\n",
                (long long)m, rel, tol);

    timed_side sides[2] = {
        {.fn = call_backend, .arg = &bc, .rotation = sets, .reps = cfg->reps, .times = b->times},
        {.fn = call_cublas, .arg = &cc, .rotation = sets16, .reps = base_reps, .times = b->base_times}};
    if (cfg->timing == BENCH_TIMING_SIDES) {
        if (time_sides(&sides[0], 1, err, err_size) != 0 || time_sides(&sides[1], 1, err, err_size) != 0)
            return -1;
    } else if (time_sides(sides, 2, err, err_size) != 0) {
        return -1;
    }
    double median_s = sides[0].median_s, base_s = sides[1].median_s;
    row->reps = sides[0].count;

    double fewest = (double)L->weight_bytes + (double)a_bytes + (double)c_bytes;
    double floor_s = fewest / (mach->copy_gbps * 1e9);
    bench_row_fill(row, S->ctx, cfg, b->plan, m, L->weight_bytes, median_s, floor_s,
                   CUDA_BASELINE_NAME, base_s);
    return 0;
}

int bench_cuda_run_one(const bench_config *cfg, const bench_machine *mach, int64_t m,
                       bench_row *row, char *err, size_t err_size)
{
    if (cfg->act != UG_F16 && cfg->act != UG_BF16) {
        snprintf(err, err_size, "act = %s: the cuda backend takes float16 or bfloat16 activations",
                 ug_dtype_name(cfg->act));
        return -1;
    }
    if (!(mach->copy_gbps > 0.0) || mach->l2_bytes == 0) {
        snprintf(err, err_size, "the GPU's ceilings were not measured");
        return -1;
    }
    if (session_open(mach->device, cfg->threads, err, err_size) != 0)
        return -1;
    if (!layer_matches(&layer, cfg, mach) && layer_build(&layer, cfg, mach, err, err_size) != 0)
        return -1;
    memset(row, 0, sizeof *row);
    cuda_buffers b;
    memset(&b, 0, sizeof b);
    int rc = run_sides(cfg, mach, m, row, &b, err, err_size);
    buffers_free(&b);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* info                                                                       */
/* ------------------------------------------------------------------------ */

void bench_cuda_print_info(FILE *f)
{
    int runtime = 0, driver = 0, major = 0, minor = 0, patch = 0;
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver);
    cudaGetLastError();
    cublasGetProperty(MAJOR_VERSION, &major);
    cublasGetProperty(MINOR_VERSION, &minor);
    cublasGetProperty(PATCH_LEVEL, &patch);
    fprintf(f, "cuda (this command's bench): runtime %d.%d, ", runtime / 1000, runtime % 1000 / 10);
    if (driver > 0)
        fprintf(f, "driver supports %d.%d, ", driver / 1000, driver % 1000 / 10);
    else
        fprintf(f, "no usable driver, ");
    fprintf(f, "cuBLAS %d.%d.%d\n", major, minor, patch);
}
