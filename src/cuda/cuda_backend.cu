/*
 * cuda_backend.cu - the "cuda" backend's operation table (host side):
 *   - which devices it runs on (sm_90, the kernels are built for sm_90a);
 *   - pack: canonical source -> the layout of gpu_layout.cuh, built on the
 *     host and copied into one device allocation owned by the packed weights;
 *     unpack inverts it exactly;
 *   - plans: activations f16 or bf16; a schedule forced or tuned by name,
 *     else the heuristic's (src/dispatch/heuristic.c), found in the
 *     generated registry: the decode family for small M
 *     ("mma-t<tokens>-w<warps along K>-c<cluster CTAs along K>"), the
 *     wgmma family above ("wg-n<rows of W>-t<tokens>-s<cluster CTAs along
 *     K>"); the wgmma family reads A through a tensor map, so an A that is
 *     not 16-byte aligned or an lda that is not a multiple of 8 runs the
 *     plan's decode schedule instead (same results, slower);
 *   - execute: checks that A, C, bias and workspace are device memory of the
 *     context's device, then launches on the context's stream: no
 *     allocation, no synchronization, so a call can be captured in a CUDA
 *     graph. Cluster split-K partials meet in distributed shared memory;
 *     a wgmma plan whose tiles do not divide evenly over the SMs shares
 *     them by chunks (stream-K) and asks for a workspace of
 *     ug_gemm_plan_grid's size (partial sums and flags, the flags zeroed
 *     by a memset on the stream before each launch);
 *   - embedding lookup with the ids passed in kernel parameters.
 * Every CUDA failure becomes UG_ERR_DEVICE (or UG_ERR_OUT_OF_MEMORY) with
 * CUDA's own message. Calls switch to the context's device and back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

extern "C" {
#include "../core/internal.h"
#include "../dispatch/heuristic.h"
}
#include "kernels.cuh"

#define UG_CUDA_ALIGN 256

typedef struct cuda_weights {
    ug_gpu_layout gl;
    uint8_t *dev; /* one allocation: codes, scales, biases, zeros */
} cuda_weights;

enum { FAMILY_MMA, FAMILY_WG };

typedef struct cuda_plan {
    int family;
    ug_decode_fn decode;           /* FAMILY_MMA, and the wg fallback */
    int tn, kw, cs;
    ug_gemm_fn gemm;               /* FAMILY_WG */
    int wg_rows, wg_tn, wg_splits;
    int wg_share, wg_slots; /* CTAs sharing A tiles; CTAs or clusters run at once */
    int act_bf16;
    int sms, smem_optin;
} cuda_plan;

extern "C" const ug_backend_ops ug_cuda_ops;

/* ---- errors and the current device --------------------------------------- */

static ug_status cuda_fail(ug_context *ctx, cudaError_t err, const char *what)
{
    cudaGetLastError(); /* clear the runtime's slot for non-sticky errors */
    return ug_fail(ctx, err == cudaErrorMemoryAllocation ? UG_ERR_OUT_OF_MEMORY : UG_ERR_DEVICE,
                   "cuda: %s failed: %s (%s)", what, cudaGetErrorString(err),
                   cudaGetErrorName(err));
}

/* Make `device` current for the length of a call; restore the caller's. */
typedef struct device_scope {
    int prev;
    bool switched;
} device_scope;

static cudaError_t scope_enter(device_scope *s, int device)
{
    s->switched = false;
    cudaError_t err = cudaGetDevice(&s->prev);
    if (err != cudaSuccess)
        return err;
    if (s->prev != device) {
        err = cudaSetDevice(device);
        s->switched = err == cudaSuccess;
    }
    return err;
}

static void scope_leave(const device_scope *s)
{
    if (s->switched)
        cudaSetDevice(s->prev);
}

extern "C" const ug_backend_ops *ug_cuda_backend_ops(int32_t device, ug_status *status, char *why,
                                                     size_t why_size)
{
    char reason[256];
    int count = ug_cuda_device_count(reason, sizeof reason);
    if (count == 0) {
        *status = UG_ERR_BACKEND_UNAVAILABLE;
        snprintf(why, why_size, "backend cuda: %s", reason);
        return NULL;
    }
    if (device < 0 || device >= count) {
        *status = UG_ERR_INVALID_VALUE;
        snprintf(why, why_size, "backend cuda: options.device = %d, but %d device(s) exist",
                 (int)device, count);
        return NULL;
    }
    cudaDeviceProp prop;
    cudaError_t err = cudaGetDeviceProperties(&prop, device);
    if (err != cudaSuccess) {
        cudaGetLastError();
        *status = UG_ERR_DEVICE;
        snprintf(why, why_size, "backend cuda: cudaGetDeviceProperties(%d): %s", (int)device,
                 cudaGetErrorString(err));
        return NULL;
    }
    if (prop.major != 9 || prop.minor != 0) {
        *status = UG_ERR_UNSUPPORTED;
        snprintf(why, why_size,
                 "backend cuda: device %d (%s) is sm_%d%d; the kernels are built for sm_90a "
                 "(H100/H200)",
                 (int)device, prop.name, prop.major, prop.minor);
        return NULL;
    }
    *status = UG_OK;
    return &ug_cuda_ops;
}

static int kernel_float(ug_dtype t)
{
    return t == UG_F32 ? UG_KF32 : t == UG_F16 ? UG_KF16 : UG_KBF16;
}

/* ---- layout, pack, unpack ------------------------------------------------- */

static size_t align_up(size_t x)
{
    return (x + UG_CUDA_ALIGN - 1) / UG_CUDA_ALIGN * UG_CUDA_ALIGN;
}

static void gpu_layout_make(const ug_layout *L, ug_gpu_layout *G)
{
    memset(G, 0, sizeof *G);
    G->bits = L->bits;
    G->n = L->n;
    G->k = L->k;
    G->n_pad = (L->n + UG_GPU_N_ALIGN - 1) / UG_GPU_N_ALIGN * UG_GPU_N_ALIGN;
    G->k_pad = (L->k + UG_GPU_CHUNK_K - 1) / UG_GPU_CHUNK_K * UG_GPU_CHUNK_K;
    G->row_blocks = G->n_pad / UG_GPU_BLOCK_ROWS;
    G->chunks = G->k_pad / UG_GPU_CHUNK_K;
    G->chunk_bytes = 128 * (int64_t)G->bits;
    size_t per_group = 0;
    if (L->quantized) {
        if (L->format.group_size == UG_GROUP_PER_CHANNEL) {
            G->group_shift = -1;
            G->groups = 1;
        } else {
            G->group_shift = __builtin_ctz((unsigned)L->group);
            G->groups = G->k_pad >> G->group_shift;
        }
        G->scale_bytes = (int)ug_float_bytes(L->format.scale_type);
        per_group = (size_t)(G->groups * G->n_pad);
        if (G->scale_bytes == 2 && (G->group_shift < 0 || G->group_shift >= 6))
            G->rec_bytes = 4 * UG_GPU_BLOCK_ROWS;
    }
    G->unit_bytes = G->chunk_bytes + G->rec_bytes;
    const size_t codes = (size_t)(G->row_blocks * G->chunks * G->unit_bytes);
    G->codes_off = 0;
    G->scales_off = align_up(codes);
    G->biases_off = align_up(G->scales_off + per_group * G->scale_bytes);
    G->zeros_off =
        align_up(G->biases_off + (L->biases_bytes ? per_group * G->scale_bytes : 0));
    G->total_bytes = align_up(G->zeros_off + (L->zeros_bytes ? per_group : 0));
}

/* The value every biased code is reduced by when there are no zero points:
 * 2^(bits-1) for symmetric, and for signed codes of scale_bias (stored as
 * q + 2^(bits-1)); 0 for unsigned scale_bias. */
static int code_offset(const ug_layout *L)
{
    int half = L->bits == 4 ? 8 : 128;
    if (L->format.method == UG_METHOD_SYMMETRIC)
        return half;
    return L->is_signed ? half : 0;
}

static void pack_host(const ug_layout *L, const ug_gpu_layout *G, const ug_weight_source *src,
                      uint8_t *dst)
{
    const uint8_t *codes = (const uint8_t *)src->codes;
    int shift;
    if (L->bits == 4) {
        uint8_t flip = L->is_signed ? 0x8 : 0x0;
        for (int64_t n = 0; n < L->n; n++)
            for (int64_t k = 0; k < L->k; k++) {
                uint8_t q = (uint8_t)(((codes[(n * L->k + k) >> 1] >> ((k & 1) * 4)) & 0xF) ^ flip);
                int64_t at = ug_gpu_code_offset(G, n, k, &shift);
                dst[at] |= (uint8_t)(q << shift);
            }
    } else {
        int esz = L->bits / 8;
        uint8_t flip = L->quantized && L->is_signed ? 0x80 : 0x00;
        for (int64_t n = 0; n < L->n; n++)
            for (int64_t k = 0; k < L->k; k++) {
                int64_t at = ug_gpu_code_offset(G, n, k, &shift);
                memcpy(dst + at, codes + (n * L->k + k) * esz, (size_t)esz);
                if (esz == 1)
                    dst[at] ^= flip;
            }
    }
    if (!L->quantized)
        return;
    int64_t gpr = L->groups_per_row;
    size_t ssz = (size_t)G->scale_bytes;
    for (int64_t n = 0; n < L->n; n++)
        for (int64_t gi = 0; gi < gpr; gi++) {
            size_t from = (size_t)(n * gpr + gi), to = (size_t)(gi * G->n_pad + n);
            memcpy(dst + G->scales_off + to * ssz, (const uint8_t *)src->scales + from * ssz, ssz);
            if (L->biases_bytes)
                memcpy(dst + G->biases_off + to * ssz, (const uint8_t *)src->biases + from * ssz,
                       ssz);
            if (L->zeros_bytes) {
                int z = L->is_signed ? ((const int8_t *)src->zeros)[from]
                                     : ((const uint8_t *)src->zeros)[from];
                dst[G->zeros_off + to] = (uint8_t)(z + (L->is_signed ? code_offset(L) : 0));
            }
        }
    if (G->rec_bytes == 0)
        return;
    /* each chunk's record, from the arrays just written (padded rows: zero
     * scales, as there) */
    for (int64_t nb = 0; nb < G->row_blocks; nb++)
        for (int64_t c = 0; c < G->chunks; c++) {
            const int64_t gi = G->group_shift < 0 ? 0 : (c * UG_GPU_CHUNK_K) >> G->group_shift;
            uint8_t *rec = dst + (nb * G->chunks + c) * G->unit_bytes + G->chunk_bytes;
            for (int r = 0; r < UG_GPU_BLOCK_ROWS; r++) {
                const size_t at = (size_t)(gi * G->n_pad + nb * UG_GPU_BLOCK_ROWS + r);
                uint16_t scale, high;
                memcpy(&scale, dst + G->scales_off + at * 2, 2);
                if (L->biases_bytes)
                    memcpy(&high, dst + G->biases_off + at * 2, 2);
                else
                    high = (uint16_t)(L->zeros_bytes ? dst[G->zeros_off + at] : code_offset(L));
                const uint32_t word = scale | (uint32_t)high << 16;
                memcpy(rec + 4 * r, &word, 4);
            }
        }
}

static ug_status cuda_weights_pack(ug_context *ctx, const ug_weight_source *src,
                                   ug_packed_weights *w)
{
    cuda_weights *cw = (cuda_weights *)calloc(1, sizeof *cw);
    if (cw == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "ug_weights_pack: out of host memory");
    gpu_layout_make(&w->layout, &cw->gl);
    uint8_t *host = (uint8_t *)calloc(1, cw->gl.total_bytes);
    if (host == NULL) {
        free(cw);
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY,
                       "ug_weights_pack: out of host memory (%zu bytes of staging)",
                       cw->gl.total_bytes);
    }
    pack_host(&w->layout, &cw->gl, src, host);
    device_scope scope;
    cudaError_t err = scope_enter(&scope, ctx->device);
    const char *what = "cudaSetDevice";
    if (err == cudaSuccess) {
        what = "cudaMalloc of the packed weights";
        err = cudaMalloc((void **)&cw->dev, cw->gl.total_bytes);
    }
    if (err == cudaSuccess) {
        what = "cudaMemcpyAsync of the packed weights";
        cudaStream_t stream = (cudaStream_t)ctx->stream;
        err = cudaMemcpyAsync(cw->dev, host, cw->gl.total_bytes, cudaMemcpyHostToDevice, stream);
        if (err == cudaSuccess) {
            what = "cudaStreamSynchronize after packing";
            err = cudaStreamSynchronize(stream);
        }
    }
    free(host);
    if (err != cudaSuccess) {
        ug_status st = cuda_fail(ctx, err, what);
        if (cw->dev)
            cudaFree(cw->dev);
        scope_leave(&scope);
        free(cw);
        return st;
    }
    scope_leave(&scope);
    w->data = cw;
    return UG_OK;
}

static void cuda_weights_free(ug_packed_weights *w)
{
    cuda_weights *cw = (cuda_weights *)w->data;
    if (cw == NULL)
        return;
    device_scope scope;
    if (scope_enter(&scope, w->device) == cudaSuccess) {
        cudaFree(cw->dev);
        scope_leave(&scope);
    }
    cudaGetLastError();
    free(cw);
}

static void unpack_host(const ug_layout *L, const ug_gpu_layout *G, const uint8_t *src,
                        uint8_t *codes, uint8_t *scales, uint8_t *biases, uint8_t *zeros)
{
    int shift;
    if (L->bits == 4) {
        uint8_t flip = L->is_signed ? 0x8 : 0x0;
        memset(codes, 0, L->codes_bytes);
        for (int64_t n = 0; n < L->n; n++)
            for (int64_t k = 0; k < L->k; k++) {
                int64_t at = ug_gpu_code_offset(G, n, k, &shift);
                uint8_t q = (uint8_t)(((src[at] >> shift) & 0xF) ^ flip);
                codes[(n * L->k + k) >> 1] |= (uint8_t)(q << ((k & 1) * 4));
            }
    } else {
        int esz = L->bits / 8;
        uint8_t flip = L->quantized && L->is_signed ? 0x80 : 0x00;
        for (int64_t n = 0; n < L->n; n++)
            for (int64_t k = 0; k < L->k; k++) {
                int64_t at = ug_gpu_code_offset(G, n, k, &shift);
                uint8_t *to = codes + (n * L->k + k) * esz;
                memcpy(to, src + at, (size_t)esz);
                if (esz == 1)
                    *to ^= flip;
            }
    }
    if (!L->quantized)
        return;
    int64_t gpr = L->groups_per_row;
    size_t ssz = (size_t)G->scale_bytes;
    for (int64_t n = 0; n < L->n; n++)
        for (int64_t gi = 0; gi < gpr; gi++) {
            size_t to = (size_t)(n * gpr + gi), from = (size_t)(gi * G->n_pad + n);
            memcpy(scales + to * ssz, src + G->scales_off + from * ssz, ssz);
            if (biases)
                memcpy(biases + to * ssz, src + G->biases_off + from * ssz, ssz);
            if (zeros)
                zeros[to] = (uint8_t)(src[G->zeros_off + from] -
                                      (L->is_signed ? code_offset(L) : 0));
        }
}

static ug_status cuda_weights_unpack(ug_context *ctx, const ug_packed_weights *w, void *codes,
                                     void *scales, void *biases, void *zeros)
{
    const cuda_weights *cw = (const cuda_weights *)w->data;
    uint8_t *host = (uint8_t *)malloc(cw->gl.total_bytes);
    if (host == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY,
                       "ug_weights_unpack: out of host memory (%zu bytes of staging)",
                       cw->gl.total_bytes);
    device_scope scope;
    cudaError_t err = scope_enter(&scope, ctx->device);
    const char *what = "cudaSetDevice";
    if (err == cudaSuccess) {
        cudaStream_t stream = (cudaStream_t)ctx->stream;
        what = "cudaMemcpyAsync of the packed weights";
        err = cudaMemcpyAsync(host, cw->dev, cw->gl.total_bytes, cudaMemcpyDeviceToHost, stream);
        if (err == cudaSuccess) {
            what = "cudaStreamSynchronize after unpacking";
            err = cudaStreamSynchronize(stream);
        }
        scope_leave(&scope);
    }
    if (err != cudaSuccess) {
        free(host);
        return cuda_fail(ctx, err, what);
    }
    unpack_host(&w->layout, &cw->gl, host, (uint8_t *)codes, (uint8_t *)scales,
                (uint8_t *)biases, (uint8_t *)zeros);
    free(host);
    return UG_OK;
}

/* ---- plans ---------------------------------------------------------------- */

/* The decode kernel for (schedule s, activations, format) into cp. */
static ug_status plan_decode(ug_context *ctx, const ug_schedule_info *s, ug_dtype act,
                             const ug_weight_format *f, cuda_plan *cp)
{
    const ug_kernel_info *k;
    ug_status st = ug_registry_kernel(ctx, s, act, f, &k, NULL, 0);
    if (st != UG_OK)
        return st;
    cp->decode = ug_cuda_decode_impl(k->impl);
    cp->tn = s->tokens;
    cp->kw = s->warps;
    cp->cs = s->cluster;
    return UG_OK;
}

static ug_status cuda_plan_init(ug_context *ctx, ug_plan *plan, const char *forced)
{
    const ug_gemm_desc *d = &plan->desc;
    const ug_weight_format *f = &plan->layout.format;
    if (d->a_type != UG_F16 && d->a_type != UG_BF16)
        return ug_fail(ctx, UG_ERR_UNSUPPORTED,
                       "backend cuda: a_type = %s is unsupported (activations are float16 or "
                       "bfloat16 on the GPU; convert float32 activations first)",
                       ug_dtype_name(d->a_type));
    ug_gpu_layout G;
    gpu_layout_make(&plan->layout, &G);
    if ((G.n + 63) / 64 > 65535)
        return ug_fail(ctx, UG_ERR_UNSUPPORTED,
                       "backend cuda: n = %lld exceeds the decode kernels' %d rows",
                       (long long)d->n, 65535 * 64);
    cuda_plan *cp = (cuda_plan *)calloc(1, sizeof *cp);
    if (cp == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "ug_plan_create: out of host memory");
    cudaError_t err = cudaDeviceGetAttribute(&cp->sms, cudaDevAttrMultiProcessorCount, ctx->device);
    if (err == cudaSuccess)
        err = cudaDeviceGetAttribute(&cp->smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                     ctx->device);
    if (err != cudaSuccess) {
        free(cp);
        return cuda_fail(ctx, err, "cudaDeviceGetAttribute");
    }
    ug_cuda_class dev = {cp->sms};
    const ug_schedule_info *s;
    if (forced != NULL) {
        s = ug_registry_schedule(UG_BACKEND_CUDA, forced);
        if (s == NULL) {
            free(cp);
            return ug_registry_unknown_schedule(ctx, UG_BACKEND_CUDA, forced);
        }
    } else {
        s = ug_heuristic_cuda(&dev, d->m, d->n, d->k, f);
    }
    /* every plan has a decode kernel: its own schedule's, or, for a wgmma
     * schedule, the heuristic's decode schedule, run when A does not meet
     * TMA's alignment rules */
    const ug_schedule_info *dec =
        s != NULL && s->family == UG_FAMILY_CUDA_MMA ? s : ug_heuristic_cuda_decode(&dev, d->m, d->n, d->k);
    ug_status st = dec == NULL ? ug_fail(ctx, UG_ERR_UNSUPPORTED,
                                         "backend cuda has no decode schedule in this build")
                               : plan_decode(ctx, dec, d->a_type, f, cp);
    if (st == UG_OK && s != NULL && s->family == UG_FAMILY_CUDA_WG) {
        const ug_kernel_info *k;
        st = ug_registry_kernel(ctx, s, d->a_type, f, &k, NULL, 0);
        const bool records =
            ug_gemm_uses_records(G.rec_bytes > 0, kernel_float(f->scale_type), d->a_type == UG_F16);
        if (st == UG_OK && ug_gemm_stages(G.bits, s->rows, s->tokens, s->cluster, G.unit_bytes,
                                          records, cp->smem_optin) == 0)
            st = ug_fail(ctx, UG_ERR_UNSUPPORTED,
                         "schedule %s does not fit in the %d bytes of shared memory a block may "
                         "use on device %d (%d-bit weights)",
                         s->name, cp->smem_optin, (int)ctx->device, G.bits);
        if (st == UG_OK && G.chunks < s->cluster)
            st = ug_fail(ctx, UG_ERR_UNSUPPORTED,
                         "schedule %s splits K over %d CTAs, but k = %lld has only %lld chunk(s) "
                         "of 64",
                         s->name, s->cluster, (long long)d->k, (long long)G.chunks);
        if (st == UG_OK) {
            cp->family = FAMILY_WG;
            cp->gemm = ug_cuda_gemm_impl(k->impl);
            cp->wg_rows = s->rows;
            cp->wg_tn = s->tokens;
            cp->wg_splits = s->cluster;
            cp->wg_share = s->a_share;
            device_scope scope;
            cudaError_t e = scope_enter(&scope, ctx->device);
            if (e == cudaSuccess) {
                e = ug_gemm_slots(cp->gemm.staged, s->a_share, cp->sms, cp->smem_optin,
                                  &cp->wg_slots);
                scope_leave(&scope);
            }
            if (e != cudaSuccess)
                st = cuda_fail(ctx, e, "sizing the wgmma kernel's grid of clusters");
        }
    }
    if (st != UG_OK) {
        free(cp);
        return st;
    }
    cp->act_bf16 = d->a_type == UG_BF16;
    plan->backend_plan = cp;
    plan->schedule = s != NULL ? s->name : dec->name;
    plan->workspace_bytes = 0;
    if (cp->family == FAMILY_WG) {
        ug_gemm_grid grid;
        ug_gemm_plan_grid(cp->wg_rows, cp->wg_tn, d->m, d->n, G.chunks, cp->wg_splits,
                          cp->wg_share, cp->wg_slots, &grid);
        plan->workspace_bytes = grid.workspace;
    }
    return UG_OK;
}

static void cuda_plan_free(ug_plan *plan)
{
    free(plan->backend_plan);
}

/* ---- execute -------------------------------------------------------------- */

/* `p` must be memory the context's device can read and write. */
static ug_status check_device_pointer(ug_context *ctx, const void *p, const char *what)
{
    cudaPointerAttributes attr;
    cudaError_t err = cudaPointerGetAttributes(&attr, p);
    if (err != cudaSuccess)
        return cuda_fail(ctx, err, "cudaPointerGetAttributes");
    if (attr.type == cudaMemoryTypeUnregistered)
        return ug_fail(ctx, UG_ERR_INVALID_VALUE,
                       "%s = %p is ordinary host memory; backend cuda reads and writes device "
                       "memory (cudaMalloc, cudaMallocManaged or pinned host memory)",
                       what, p);
    if (attr.type == cudaMemoryTypeDevice && attr.device != ctx->device)
        return ug_fail(ctx, UG_ERR_MISMATCH,
                       "%s = %p lives on device %d, the context runs on device %d", what, p,
                       attr.device, (int)ctx->device);
    return UG_OK;
}

static ug_status cuda_execute(const ug_plan *plan, const ug_packed_weights *w, const void *a,
                              void *c, const void *bias, void *workspace)
{
    ug_context *ctx = plan->ctx;
    const ug_gemm_desc *d = &plan->desc;
    const cuda_plan *cp = (const cuda_plan *)plan->backend_plan;
    const cuda_weights *cw = (const cuda_weights *)w->data;
    const ug_gpu_layout *G = &cw->gl;
    const ug_layout *L = &w->layout;

    ug_status st = check_device_pointer(ctx, a, "ug_plan_execute: a");
    if (st == UG_OK)
        st = check_device_pointer(ctx, c, "ug_plan_execute: c");
    if (st == UG_OK && d->has_bias)
        st = check_device_pointer(ctx, bias, "ug_plan_execute: bias");
    if (st == UG_OK && plan->workspace_bytes > 0)
        st = check_device_pointer(ctx, workspace, "ug_plan_execute: workspace");
    if (st == UG_OK && plan->workspace_bytes > 0 && (uintptr_t)workspace % 16 != 0)
        st = ug_fail(ctx, UG_ERR_INVALID_VALUE,
                     "ug_plan_execute: workspace at %p is not 16-byte aligned (the wgmma kernel's "
                     "partial sums need it)",
                     workspace);
    if (st != UG_OK)
        return st;

    ug_kernel_weights kw;
    memset(&kw, 0, sizeof kw);
    kw.codes = cw->dev + G->codes_off;
    if (L->quantized) {
        kw.scales = cw->dev + G->scales_off;
        kw.biases = L->biases_bytes ? cw->dev + G->biases_off : NULL;
        kw.zeros = L->zeros_bytes ? cw->dev + G->zeros_off : NULL;
        kw.scale_type = kernel_float(L->format.scale_type);
        kw.code_offset = code_offset(L);
        kw.group_shift = G->group_shift;
    } else {
        kw.weight_type = kernel_float(L->format.storage);
    }
    kw.chunks = G->chunks;
    kw.unit_bytes = G->unit_bytes;
    kw.records = G->rec_bytes > 0;
    kw.n_pad = G->n_pad;
    kw.bits = G->bits;
    ug_kernel_output out;
    out.c = c;
    out.ldc = d->ldc;
    out.n = d->n;
    out.c_type = kernel_float(d->c_type);
    out.bias = d->has_bias ? bias : NULL;
    out.bias_type = kernel_float(d->bias_type);
    out.alpha = d->alpha;
    out.beta = d->beta;

    device_scope scope;
    cudaError_t err = scope_enter(&scope, ctx->device);
    if (err != cudaSuccess)
        return cuda_fail(ctx, err, "cudaSetDevice");
    cudaStream_t stream = (cudaStream_t)ctx->stream;
    bool tma_ok = (uintptr_t)a % 16 == 0 && d->lda % 8 == 0;
    if (cp->family == FAMILY_WG && tma_ok) {
        ug_gemm_params g;
        memset(&g, 0, sizeof g);
        g.w = kw;
        g.m = d->m;
        g.k = d->k;
        g.out = out;
        g.splits = cp->wg_splits;
        g.a_share = cp->wg_share;
        err = ug_gemm_launch(cp->gemm, &g, a, d->lda, cp->wg_rows, cp->wg_tn, cp->act_bf16,
                             cp->wg_slots, cp->smem_optin, workspace, stream);
        scope_leave(&scope);
        if (err != cudaSuccess)
            return cuda_fail(ctx, err, "launching the wgmma kernel");
        return UG_OK;
    }
    ug_decode_params p;
    memset(&p, 0, sizeof p);
    p.w = kw;
    p.a = a;
    p.lda = d->lda;
    p.m = d->m;
    p.k = d->k;
    p.a_pairs_aligned = ((uintptr_t)a % 4 == 0) && (d->lda % 2 == 0);
    p.out = out;
    p.kw = cp->kw;
    p.cs = cp->cs;
    int64_t per_launch = (int64_t)65535 * cp->tn;
    for (p.token_base = 0; p.token_base < d->m && err == cudaSuccess;
         p.token_base += per_launch)
        err = ug_decode_launch(cp->decode, &p, cp->tn, stream);
    scope_leave(&scope);
    if (err != cudaSuccess)
        return cuda_fail(ctx, err, "launching the decode kernel");
    return UG_OK;
}

/* ---- embedding ------------------------------------------------------------ */

static ug_status cuda_embedding(ug_context *ctx, const ug_packed_weights *table,
                                const int32_t *ids, int64_t count, ug_dtype out_type, void *out,
                                int64_t ldo)
{
    ug_status st = check_device_pointer(ctx, out, "ug_embedding_lookup: out");
    if (st != UG_OK)
        return st;
    const cuda_weights *cw = (const cuda_weights *)table->data;
    const ug_layout *L = &table->layout;
    ug_embed_params *p = (ug_embed_params *)calloc(1, sizeof *p);
    if (p == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "ug_embedding_lookup: out of host memory");
    p->codes = cw->dev + cw->gl.codes_off;
    p->layout = cw->gl;
    if (L->quantized) {
        p->scales = cw->dev + cw->gl.scales_off;
        p->biases = L->biases_bytes ? cw->dev + cw->gl.biases_off : NULL;
        p->zeros = L->zeros_bytes ? cw->dev + cw->gl.zeros_off : NULL;
        p->scale_type = kernel_float(L->format.scale_type);
        p->code_offset = code_offset(L);
    } else {
        p->weight_type = kernel_float(L->format.storage);
    }
    p->ldo = ldo;
    p->out_type = kernel_float(out_type);
    size_t esz = ug_float_bytes(out_type);
    device_scope scope;
    cudaError_t err = scope_enter(&scope, ctx->device);
    for (int64_t first = 0; first < count && err == cudaSuccess;
         first += UG_EMBED_IDS_PER_LAUNCH) {
        int64_t left = count - first;
        p->count = (int)(left < UG_EMBED_IDS_PER_LAUNCH ? left : UG_EMBED_IDS_PER_LAUNCH);
        memcpy(p->ids, ids + first, (size_t)p->count * sizeof *ids);
        p->out = (uint8_t *)out + (size_t)first * (size_t)ldo * esz;
        err = ug_embed_launch(p, (cudaStream_t)ctx->stream);
    }
    scope_leave(&scope);
    free(p);
    if (err != cudaSuccess)
        return cuda_fail(ctx, err, "launching the embedding kernel");
    return UG_OK;
}

/* "cuda NVIDIA H200 (sm_90, 132 SMs)": the device as tuning tables name it. */
static void cuda_device_id(const ug_context *ctx, char *buf, size_t size)
{
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, ctx->device) != cudaSuccess) {
        cudaGetLastError();
        snprintf(buf, size, "cuda device %d (properties unavailable)", (int)ctx->device);
        return;
    }
    snprintf(buf, size, "cuda %s (sm_%d%d, %d SMs)", prop.name, prop.major, prop.minor,
             prop.multiProcessorCount);
}

/* Positional: name, weights_pack, weights_free, weights_unpack, plan_init,
 * plan_free, execute, embedding, device_id (the order of ug_backend_ops). */
extern "C" const ug_backend_ops ug_cuda_ops = {
    "cuda",         cuda_weights_pack, cuda_weights_free, cuda_weights_unpack, cuda_plan_init,
    cuda_plan_free, cuda_execute,      cuda_embedding,    cuda_device_id,
};
