/*
 * cpu_backend.c - the "cpu" backend: packing into the panel layout of cpu.h,
 * schedules, and execute, which runs one of two kernel families of the
 * context's instruction set over OpenMP threads:
 *
 *   decode   (small M) each thread streams a contiguous range of 16-row
 *            panels once, dequantizing in registers, up to 4 tokens per
 *            pass over a panel (further tokens re-read it from cache).
 *   prefill  (large M) each thread owns chunks of 256 output columns; per
 *            block of 256 k it dequantizes the chunk's weights once into an
 *            f32 panel (L2) and runs a register-blocked micro-kernel over all
 *            rows of A, accumulating in an f32 tile, then applies the
 *            epilogue. The contract is written down in docs/cpu.md.
 *
 * The schedule comes from the registry (src/dispatch/): a forced or tuned
 * name, else the heuristic's choice; its kernel set is the generated one of
 * the context's instruction set and the weights' class.
 *
 * Every output element is computed by one thread in a fixed order, so
 * results do not depend on the thread count. Scratch memory (converted
 * activations, panels, accumulators) is allocated per call.
 */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../dispatch/heuristic.h"
#include "cpu.h"

/* Prefill blocking: columns per chunk (a multiple of every np), k per
 * block (even: 4-bit codes come in pairs), rows of A per accumulator tile. */
#define CPU_NC 256
#define CPU_KC 256
#define CPU_MC 256
/* Floats between two dequantized panels: one panel plus a cache line, so
 * that the panels of a micro-tile do not fall into the same cache sets. */
#define CPU_B_STRIDE (CPU_KC * CPU_NR + 16)
/* Below this many multiply-adds one thread does the work. */
#define CPU_PARALLEL_MIN_MACS 2e6

/* ------------------------------------------------------------ pack, unpack */

static size_t round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

/* Stored code = canonical code + this: 4-bit codes are kept as unsigned
 * nibbles (signed ones + 8), 8-bit codes as signed bytes (unsigned ones
 * - 128), so that the 8-bit codes' sums seldom cancel (cpu.h). */
static int code_offset(const ug_layout *L)
{
    if (L->bits == 4)
        return L->is_signed ? 8 : 0;
    return L->is_signed ? 0 : -128;
}

/* A stored code or zero point read back as the integer it stands for. */
static int32_t stored_value(const ug_layout *L, uint8_t byte)
{
    return L->bits == 8 ? (int32_t)(int8_t)byte : (int32_t)byte;
}

static ug_status describe(ug_context *ctx, const ug_layout *L, cpu_weights *w)
{
    w->L = *L;
    w->panels = (L->n + CPU_NR - 1) / CPU_NR;
    size_t panel = 0;
    bool ok = true;
    if (!L->quantized) {
        ok = ug_mul_size((size_t)L->k * CPU_NR, ug_float_bytes(L->format.storage), &panel);
    } else {
        const ug_weight_format *f = &L->format;
        w->scale_size = ug_float_bytes(f->scale_type);
        w->block_codes = (size_t)L->group * CPU_NR * (size_t)L->bits / 8;
        w->block_bytes = w->block_codes + CPU_NR * w->scale_size;
        if (f->method == UG_METHOD_SCALE_BIAS)
            w->block_bytes += CPU_NR * w->scale_size;
        if (f->method == UG_METHOD_SCALE_ZERO)
            w->block_bytes += CPU_NR;
        w->zero_per_row = f->method == UG_METHOD_SCALE_ZERO;
        w->zero_const = (float)(f->method == UG_METHOD_SYMMETRIC ? L->mid + code_offset(L)
                                                                 : code_offset(L));
        ok = ug_mul_size(w->block_bytes, (size_t)L->groups_per_row, &panel);
    }
    size_t total;
    if (!ok || !ug_mul_size(panel, (size_t)w->panels, &total) || total > SIZE_MAX - 64)
        return ug_fail(ctx, UG_ERR_SIZE_OVERFLOW,
                       "ug_weights_pack: the cpu layout of n = %lld, k = %lld overflows size_t",
                       (long long)L->n, (long long)L->k);
    w->panel_bytes = panel;
    w->data = aligned_alloc(64, round_up(total, 64));
    if (w->data == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY,
                       "ug_weights_pack: out of host memory for %zu bytes of packed weights",
                       total);
    memset(w->data, 0, total);
    return UG_OK;
}

/* Where row n's entries of group g sit: its block and its lane. */
static uint8_t *block_of(const cpu_weights *w, int64_t n, int64_t g)
{
    return (uint8_t *)cpu_block(w, n / CPU_NR, g);
}

static void pack_row(cpu_weights *w, const ug_weight_source *src, int64_t n)
{
    const ug_layout *L = &w->L;
    const int r = (int)(n % CPU_NR);
    if (!L->quantized) {
        size_t esz = ug_float_bytes(L->format.storage);
        const uint8_t *row = (const uint8_t *)src->codes + (size_t)n * (size_t)L->k * esz;
        uint8_t *panel = (uint8_t *)cpu_panel(w, n / CPU_NR);
        for (int64_t k = 0; k < L->k; k++)
            memcpy(panel + ((size_t)k * CPU_NR + (size_t)r) * esz, row + (size_t)k * esz, esz);
        return;
    }
    const uint8_t *row = (const uint8_t *)src->codes + (size_t)n * (size_t)L->k * L->bits / 8;
    const int off = code_offset(L);
    const size_t ssz = w->scale_size;
    for (int64_t g = 0; g < L->groups_per_row; g++) {
        uint8_t *blk = block_of(w, n, g);
        for (int64_t kk = 0; kk < L->group; kk++) {
            int32_t q = ug_code_at(row, L->bits, L->is_signed, g * L->group + kk) + off;
            if (L->bits == 4)
                blk[(kk / 2) * CPU_NR + r] |= (uint8_t)(q << (4 * (kk & 1)));
            else
                blk[kk * CPU_NR + r] = (uint8_t)q;
        }
        const size_t gi = (size_t)(n * L->groups_per_row + g);
        uint8_t *p = blk + w->block_codes;
        memcpy(p + r * ssz, (const uint8_t *)src->scales + gi * ssz, ssz);
        p += CPU_NR * ssz;
        if (L->format.method == UG_METHOD_SCALE_BIAS)
            memcpy(p + r * ssz, (const uint8_t *)src->biases + gi * ssz, ssz);
        if (L->format.method == UG_METHOD_SCALE_ZERO) {
            const void *zeros = src->zeros;
            int32_t z = L->is_signed ? ((const int8_t *)zeros)[gi] : ((const uint8_t *)zeros)[gi];
            p[r] = (uint8_t)(z + off);
        }
    }
}

static void free_cpu(cpu_weights *w)
{
    if (w) {
        free(w->data);
        free(w);
    }
}

static ug_status cpu_weights_pack(ug_context *ctx, const ug_weight_source *src,
                                  ug_packed_weights *pw)
{
    cpu_weights *w = calloc(1, sizeof *w);
    if (w == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "ug_weights_pack: out of host memory");
    ug_status st = describe(ctx, &pw->layout, w);
    if (st != UG_OK) {
        free_cpu(w);
        return st;
    }
#pragma omp parallel for num_threads(ctx->num_threads) schedule(static) \
    if (pw->layout.n * pw->layout.k >= (1 << 20))
    for (int64_t p = 0; p < w->panels; p++)
        for (int64_t n = p * CPU_NR; n < (p + 1) * CPU_NR && n < w->L.n; n++)
            pack_row(w, src, n);
    pw->data = w;
    return UG_OK;
}

static void cpu_weights_free(ug_packed_weights *pw)
{
    free_cpu(pw->data);
}

/* Stored code of row n at k (q') and the block it sits in. */
static int32_t stored_code(const cpu_weights *w, int64_t n, int64_t k, const uint8_t **blk)
{
    const ug_layout *L = &w->L;
    const int64_t g = k / L->group, kk = k % L->group;
    *blk = block_of(w, n, g);
    const int r = (int)(n % CPU_NR);
    if (L->bits == 4)
        return ((*blk)[(kk / 2) * CPU_NR + r] >> (4 * (kk & 1))) & 15;
    return stored_value(L, (*blk)[kk * CPU_NR + r]);
}

static ug_status cpu_weights_unpack(ug_context *ctx, const ug_packed_weights *pw, void *codes,
                                    void *scales, void *biases, void *zeros)
{
    (void)ctx;
    const cpu_weights *w = pw->data;
    const ug_layout *L = &w->L;
    if (!L->quantized) {
        size_t esz = ug_float_bytes(L->format.storage);
        for (int64_t n = 0; n < L->n; n++)
            for (int64_t k = 0; k < L->k; k++)
                memcpy((uint8_t *)codes + ((size_t)n * (size_t)L->k + (size_t)k) * esz,
                       cpu_panel(w, n / CPU_NR) + ((size_t)k * CPU_NR + (size_t)(n % CPU_NR)) * esz,
                       esz);
        return UG_OK;
    }
    const int off = code_offset(L);
    const size_t ssz = w->scale_size;
    memset(codes, 0, L->codes_bytes);
    for (int64_t n = 0; n < L->n; n++) {
        uint8_t *row = (uint8_t *)codes + (size_t)n * (size_t)L->k * L->bits / 8;
        const int r = (int)(n % CPU_NR);
        for (int64_t k = 0; k < L->k; k++) {
            const uint8_t *blk;
            int32_t q = stored_code(w, n, k, &blk) - off;
            if (L->bits == 4)
                row[k / 2] |= (uint8_t)((q & 15) << (4 * (k & 1)));
            else
                row[k] = (uint8_t)q;
        }
        for (int64_t g = 0; g < L->groups_per_row; g++) {
            const uint8_t *p = cpu_block(w, n / CPU_NR, g) + w->block_codes;
            const size_t gi = (size_t)(n * L->groups_per_row + g);
            memcpy((uint8_t *)scales + gi * ssz, p + r * ssz, ssz);
            p += CPU_NR * ssz;
            if (L->format.method == UG_METHOD_SCALE_BIAS)
                memcpy((uint8_t *)biases + gi * ssz, p + r * ssz, ssz);
            if (L->format.method == UG_METHOD_SCALE_ZERO)
                ((uint8_t *)zeros)[gi] = (uint8_t)(stored_value(L, p[r]) - off);
        }
    }
    return UG_OK;
}

/* Weight (n, k) dequantized exactly, in f64 (the oracle's formula). */
static double weight_at(const cpu_weights *w, int64_t n, int64_t k)
{
    const ug_layout *L = &w->L;
    const int r = (int)(n % CPU_NR);
    if (!L->quantized)
        return ug_load_float(cpu_panel(w, n / CPU_NR), L->format.storage,
                             k * CPU_NR + (int64_t)r);
    const uint8_t *blk;
    int32_t q = stored_code(w, n, k, &blk);
    const uint8_t *p = blk + w->block_codes;
    const ug_dtype st = L->format.scale_type;
    double s = ug_load_float(p, st, r), b = 0.0, z = w->zero_const;
    p += CPU_NR * w->scale_size;
    if (L->format.method == UG_METHOD_SCALE_BIAS)
        b = ug_load_float(p, st, r);
    if (w->zero_per_row)
        z = stored_value(L, p[r]);
    return s * ((double)q - z) + b;
}

static ug_status cpu_embedding(ug_context *ctx, const ug_packed_weights *table, const int32_t *ids,
                               int64_t count, ug_dtype out_type, void *out, int64_t ldo)
{
    (void)ctx;
    const cpu_weights *w = table->data;
    for (int64_t i = 0; i < count; i++)
        for (int64_t k = 0; k < w->L.k; k++)
            ug_store_float(out, out_type, i * ldo + k, weight_at(w, ids[i], k));
    return UG_OK;
}

/* -------------------------------------------------------------- schedules */

/* What a plan runs: its schedule's family and the kernel set of its
 * instruction set and weight class. */
typedef struct cpu_plan {
    bool prefill;
    const cpu_kernels *kern;
} cpu_plan;

static ug_status cpu_plan_init(ug_context *ctx, ug_plan *plan, const char *forced)
{
    const ug_gemm_desc *d = &plan->desc;
    const ug_schedule_info *s;
    if (forced != NULL) {
        s = ug_registry_schedule(UG_BACKEND_CPU, forced);
        if (s == NULL)
            return ug_registry_unknown_schedule(ctx, UG_BACKEND_CPU, forced);
        if (s->isa > (int)ctx->cpu_isa)
            return ug_fail(ctx, UG_ERR_UNSUPPORTED,
                           "schedule '%s' needs %s; this context runs %s", forced,
                           ug_cpu_isa_name((ug_cpu_isa)s->isa), ug_cpu_isa_name(ctx->cpu_isa));
    } else {
        s = ug_heuristic_cpu(ctx->cpu_isa, d->m, d->n, d->k, &plan->layout.format);
        if (s == NULL)
            return ug_fail(ctx, UG_ERR_UNSUPPORTED,
                           "backend cpu has no schedule for %s or a lower instruction set in this "
                           "build (spec/kernels.toml, UG_SPEC_RESTRICT=%s)",
                           ug_cpu_isa_name(ctx->cpu_isa), ug_spec_restriction);
    }
    const ug_kernel_info *k;
    ug_status st = ug_registry_kernel(ctx, s, d->a_type, &plan->layout.format, &k, NULL, 0);
    if (st != UG_OK)
        return st;
    const cpu_kernels *kern = k->impl < ug_cpu_impl_count ? ug_cpu_impls[k->impl] : NULL;
    if (kern == NULL)
        return ug_fail(ctx, UG_ERR_UNSUPPORTED,
                       "schedule '%s' needs %s kernels, which this architecture does not compile",
                       s->name, ug_cpu_isa_name((ug_cpu_isa)s->isa));
    cpu_plan *cp = malloc(sizeof *cp);
    if (cp == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "ug_plan_create: out of host memory");
    cp->prefill = s->family == UG_FAMILY_CPU_PREFILL;
    cp->kern = kern;
    plan->schedule = s->name;
    plan->workspace_bytes = 0;
    plan->backend_plan = cp;
    return UG_OK;
}

static void cpu_plan_free(ug_plan *plan)
{
    free(plan->backend_plan);
}

static void cpu_device_id(const ug_context *ctx, char *buf, size_t size)
{
    ug_cpu_device_id(ctx->cpu_isa, buf, size);
}

/* ---------------------------------------------------------------- execute */

/* C[m][n0 .. n0 + cols) = alpha * acc + bias + beta * C, rounded once. */
static void epilogue(const ug_gemm_desc *d, void *c, const void *bias, int64_t m, int64_t n0,
                     int64_t cols, const float *acc)
{
    if (d->c_type == UG_F32 && (!d->has_bias || d->bias_type == UG_F32)) {
        float *out = (float *)c + m * d->ldc + n0;
        const float *b = d->has_bias ? (const float *)bias + n0 : NULL;
        for (int64_t j = 0; j < cols; j++) {
            double v = (double)d->alpha * acc[j];
            if (b)
                v += b[j];
            if (d->beta != 0.0f)
                v += (double)d->beta * out[j];
            out[j] = (float)v;
        }
        return;
    }
    for (int64_t j = 0; j < cols; j++) {
        const int64_t n = n0 + j, at = m * d->ldc + n;
        double v = (double)d->alpha * acc[j];
        if (d->has_bias)
            v += ug_load_float(bias, d->bias_type, n);
        if (d->beta != 0.0f)
            v += (double)d->beta * ug_load_float(c, d->c_type, at);
        ug_store_float(c, d->c_type, at, v);
    }
}

static int team_size(const ug_plan *plan, int64_t units)
{
    const ug_gemm_desc *d = &plan->desc;
    if ((double)d->m * (double)d->n * (double)d->k < CPU_PARALLEL_MIN_MACS)
        return 1;
    return plan->ctx->num_threads < units ? plan->ctx->num_threads : (int)units;
}

static ug_status out_of_memory(const ug_plan *plan, size_t bytes)
{
    return ug_fail(plan->ctx, UG_ERR_OUT_OF_MEMORY,
                   "ug_plan_execute: out of host memory for %zu bytes of cpu scratch", bytes);
}

static ug_status run_decode(const ug_plan *plan, const cpu_kernels *kern, const cpu_weights *w,
                            const void *a, void *c, const void *bias)
{
    const ug_gemm_desc *d = &plan->desc;
    const int64_t M = d->m, K = d->k, ng = w->L.groups_per_row;
    /* activations as f32 (f32 ones are read in place), group sums of x */
    const bool convert = d->a_type != UG_F32;
    size_t floats = (convert ? (size_t)(M * K) : 0) + (size_t)(M * ng);
    float *scratch = floats ? malloc(floats * sizeof(float)) : NULL;
    if (floats && scratch == NULL)
        return out_of_memory(plan, floats * sizeof(float));
    const float *x = a;
    int64_t ldx = d->lda;
    if (convert) {
        for (int64_t m = 0; m < M; m++)
            for (int64_t k = 0; k < K; k++)
                scratch[m * K + k] = (float)ug_load_float(a, d->a_type, m * d->lda + k);
        x = scratch;
        ldx = K;
    }
    float *xsum = ng ? scratch + (convert ? M * K : 0) : NULL;
    for (int64_t m = 0; m < M && ng; m++)
        for (int64_t g = 0; g < ng; g++) {
            float s = 0.0f;
            for (int64_t k = g * w->L.group; k < (g + 1) * w->L.group; k++)
                s += x[m * ldx + k];
            xsum[m * ng + g] = s;
        }
    const int threads = team_size(plan, w->panels);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t p = 0; p < w->panels; p++) {
        float out[CPU_DECODE_MT * CPU_NR];
        const int64_t n0 = p * CPU_NR, cols = d->n - n0 < CPU_NR ? d->n - n0 : CPU_NR;
        for (int64_t m0 = 0; m0 < M; m0 += CPU_DECODE_MT) {
            cpu_decode_args args = {
                .w = w,
                .panel = p,
                .mt = M - m0 < CPU_DECODE_MT ? (int)(M - m0) : CPU_DECODE_MT,
                .x = x + m0 * ldx,
                .ldx = ldx,
                .xsum = xsum ? xsum + m0 * ng : NULL,
                .out = out,
            };
            kern->decode(&args);
            for (int t = 0; t < args.mt; t++)
                epilogue(d, c, bias, m0 + t, n0, cols, out + t * CPU_NR);
        }
    }
    free(scratch);
    return UG_OK;
}

static ug_status run_prefill(const ug_plan *plan, const cpu_kernels *kern, const cpu_weights *w,
                             const void *a, void *c, const void *bias)
{
    const ug_gemm_desc *d = &plan->desc;
    const int64_t M = d->m, K = d->k, MR = kern->mr, NP = kern->np;
    const int64_t panels_per_chunk = CPU_NC / CPU_NR;
    const int64_t chunks = (w->panels + panels_per_chunk - 1) / panels_per_chunk;
    const int64_t mcb = (CPU_MC + MR - 1) / MR * MR;
    const int64_t acc_rows = (M < mcb ? (M + MR - 1) / MR * MR : mcb);
    const size_t esz = ug_float_bytes(d->a_type);
    /* per thread: dequantized panels, a packed sliver of A, the accumulators */
    const size_t b_floats = (size_t)(CPU_NC / CPU_NR) * CPU_B_STRIDE, a_floats = (size_t)CPU_KC * (size_t)MR;
    const size_t per_thread = b_floats + a_floats + (size_t)acc_rows * CPU_NC;
    const int threads = team_size(plan, chunks);
    const size_t bytes = per_thread * sizeof(float) * (size_t)threads;
    float *scratch = aligned_alloc(64, round_up(bytes, 64));
    if (scratch == NULL)
        return out_of_memory(plan, bytes);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t ch = 0; ch < chunks; ch++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *bp = scratch + (size_t)tid * per_thread, *ap = bp + b_floats, *acc = ap + a_floats;
        const int64_t p0 = ch * panels_per_chunk;
        const int64_t np = w->panels - p0 < panels_per_chunk ? w->panels - p0 : panels_per_chunk;
        const int64_t np_pad = (np + NP - 1) / NP * NP;
        const int64_t n0 = p0 * CPU_NR, cols = d->n - n0 < CPU_NC ? d->n - n0 : CPU_NC;
        for (int64_t m0 = 0; m0 < M; m0 += mcb) {
            const int64_t mc = M - m0 < mcb ? M - m0 : mcb;
            for (int64_t k0 = 0; k0 < K; k0 += CPU_KC) {
                const int64_t kc = K - k0 < CPU_KC ? K - k0 : CPU_KC;
                const float *panel[CPU_NC / CPU_NR];
                for (int64_t pi = 0; pi < np_pad; pi++) {
                    float *dst = bp + (size_t)pi * CPU_B_STRIDE;
                    panel[pi] = dst;
                    if (pi < np)
                        kern->dequant(w, p0 + pi, k0, kc, dst);
                    else
                        memset(dst, 0, (size_t)kc * CPU_NR * sizeof(float));
                }
                for (int64_t mt = 0; mt < mc; mt += MR) {
                    const int rows = mc - mt < MR ? (int)(mc - mt) : (int)MR;
                    kern->pack_a((const uint8_t *)a + (size_t)((m0 + mt) * d->lda) * esz,
                                 d->a_type, d->lda, rows, k0, kc, ap);
                    for (int64_t pi = 0; pi < np_pad; pi += NP) {
                        const float *b[4];
                        for (int64_t j = 0; j < NP; j++)
                            b[j] = panel[pi + j];
                        kern->micro(kc, ap, b, acc + mt * CPU_NC + pi * CPU_NR, CPU_NC, k0 > 0);
                    }
                }
            }
            for (int64_t m = 0; m < mc; m++)
                epilogue(d, c, bias, m0 + m, n0, cols, acc + m * CPU_NC);
        }
    }
    free(scratch);
    return UG_OK;
}

static ug_status cpu_execute(const ug_plan *plan, const ug_packed_weights *pw, const void *a,
                             void *c, const void *bias, void *workspace)
{
    (void)workspace;
    const cpu_plan *cp = plan->backend_plan;
    if (cp->prefill)
        return run_prefill(plan, cp->kern, pw->data, a, c, bias);
    return run_decode(plan, cp->kern, pw->data, a, c, bias);
}

const ug_backend_ops ug_cpu_ops = {
    .name = "cpu",
    .weights_pack = cpu_weights_pack,
    .weights_free = cpu_weights_free,
    .weights_unpack = cpu_weights_unpack,
    .plan_init = cpu_plan_init,
    .plan_free = cpu_plan_free,
    .execute = cpu_execute,
    .embedding = cpu_embedding,
    .device_id = cpu_device_id,
};
