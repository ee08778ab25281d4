/*
 * layers.c - finds the linear layers among a checkpoint's tensors by the
 * naming conventions of the tools that write them, and works out each
 * layer's shape (N out features, K in features), bits and group size from
 * the shapes of its tensors, the config beside the file and the caller's
 * options:
 *   <p>.qweight + .qzeros + .scales [+ .g_idx]   AWQ GEMM, AWQ GEMV or GPTQ,
 *                                                told apart by their shapes
 *   <p>.weight (U32) + .scales + .biases         MLX affine
 *   <p>.weight (F32/F16/BF16, 2-D)               dense
 *   any 2-D GGUF tensor                          by its ggml type
 * A layer that cannot be imported as it stands keeps the reason in
 * layer->problem, with the status import will fail with.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "io.h"

static void set_problem(io_layer *l, ug_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_problem(io_layer *l, ug_status status, const char *fmt, ...)
{
    char buf[UG_ERROR_CAPACITY];
    va_list args;
    va_start(args, fmt);
    vsnprintf(buf, sizeof buf, fmt, args);
    va_end(args);
    free(l->problem);
    l->problem = strdup(buf); /* NULL on no memory: the status still says why */
    l->problem_status = status;
}

static bool ends_with(const char *s, const char *suffix, size_t *prefix_len)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (n <= m || strcmp(s + n - m, suffix) != 0)
        return false;
    *prefix_len = n - m;
    return true;
}

/* Index of tensor "<prefix><suffix>", or -1. */
static int32_t companion(const ug_checkpoint *ckpt, const char *prefix, const char *suffix)
{
    char name[1024];
    if (snprintf(name, sizeof name, "%s%s", prefix, suffix) >= (int)sizeof name)
        return -1;
    return io_tensor_find(ckpt, name);
}

static bool is_float_type(io_type t)
{
    return t == IO_F32 || t == IO_F16 || t == IO_BF16;
}

static bool is_word_type(io_type t)
{
    return t == IO_I32 || t == IO_U32;
}

/* A group size the library takes: 32, 64, 128, or K (per channel). */
static bool library_group(int64_t g, int64_t k)
{
    return g == 32 || g == 64 || g == 128 || (g == k && g > 0);
}

static const io_tensor *tensor(const ug_checkpoint *ckpt, int32_t i)
{
    return i >= 0 ? &ckpt->tensors[i] : NULL;
}

static bool dims2(const io_tensor *t)
{
    return t != NULL && t->ndim == 2;
}

/* ---- MLX ------------------------------------------------------------------ */

static void resolve_mlx(ug_checkpoint *ckpt, io_layer *l, int32_t bits, int32_t group)
{
    const io_tensor *w = tensor(ckpt, l->main), *s = tensor(ckpt, l->scales),
                    *b = tensor(ckpt, l->biases);
    if (s == NULL || b == NULL) {
        set_problem(l, UG_ERR_MISSING_TENSOR, "layer '%s': MLX codes without '%s.%s'", l->name,
                    l->name, s == NULL ? "scales" : "biases");
        return;
    }
    if (!dims2(w) || !dims2(s) || !dims2(b) || s->shape[0] != w->shape[0] ||
        b->shape[0] != s->shape[0] || b->shape[1] != s->shape[1] || s->shape[1] == 0) {
        set_problem(l, UG_ERR_FILE_SHAPE,
                    "layer '%s': MLX weight, scales and biases must be [N, K*bits/32], [N, K/G], "
                    "[N, K/G] with one N",
                    l->name);
        return;
    }
    if (!is_float_type(s->type) || !is_float_type(b->type)) {
        const io_tensor *bad = is_float_type(s->type) ? b : s;
        set_problem(l, UG_ERR_FILE_DTYPE, "layer '%s': '%s' is %s, not F16/BF16/F32", l->name,
                    bad->name, io_type_info_of(bad->type)->name);
        return;
    }
    if (ckpt->config.mlx_mode[0] != '\0' && strcmp(ckpt->config.mlx_mode, "affine") != 0) {
        set_problem(l, UG_ERR_UNSUPPORTED,
                    "layer '%s': MLX mode '%s' is not affine; only affine is imported", l->name,
                    ckpt->config.mlx_mode);
        return;
    }
    int32_t cfg_bits = ckpt->config.bits, cfg_group = ckpt->config.group_size;
    io_config_mlx_layer(&ckpt->config, l->name, &cfg_bits, &cfg_group);
    if (bits == 0)
        bits = cfg_bits;
    if (group == 0)
        group = cfg_group;
    int64_t words = w->shape[1], groups = s->shape[1];
    static const int32_t all_bits[] = {2, 3, 4, 5, 6, 8};
    static const int32_t all_groups[] = {32, 64, 128};
    int found = 0;
    char options[256] = "";
    for (size_t i = 0; i < sizeof all_bits / sizeof *all_bits; i++) {
        int32_t b_try = all_bits[i];
        if (bits != 0 && b_try != bits)
            continue;
        if ((words * 32) % b_try != 0)
            continue;
        int64_t k = words * 32 / b_try;
        if (k % groups != 0)
            continue;
        int64_t g = k / groups;
        bool group_ok = false;
        for (size_t j = 0; j < sizeof all_groups / sizeof *all_groups; j++)
            group_ok |= g == all_groups[j];
        if (group != 0 ? g != group : !group_ok)
            continue;
        if (found++ == 0) {
            l->bits = b_try;
            l->group_size = (int32_t)g;
            l->k = k;
        }
        size_t used = strlen(options);
        snprintf(options + used, sizeof options - used, "%s%d-bit g%lld", found > 1 ? ", " : "",
                 b_try, (long long)g);
    }
    l->n = w->shape[0];
    if (found == 1) {
        if (l->bits != 2 && l->bits != 3 && l->bits != 4 && l->bits != 5 && l->bits != 6 &&
            l->bits != 8)
            set_problem(l, UG_ERR_UNSUPPORTED, "layer '%s': %d-bit MLX codes", l->name, l->bits);
        return;
    }
    l->bits = 0;
    l->group_size = 0;
    l->k = 0;
    if (found == 0 && bits != 0 && bits != 2 && bits != 3 && bits != 4 && bits != 5 &&
        bits != 6 && bits != 8)
        set_problem(l, UG_ERR_UNSUPPORTED,
                    "layer '%s': %d-bit MLX codes (2, 3, 4, 5, 6 and 8 are read)", l->name, bits);
    else if (found == 0)
        set_problem(l, UG_ERR_FILE_SHAPE,
                    "layer '%s': %lld code words and %lld groups per row fit no MLX bit width "
                    "and group size%s",
                    l->name, (long long)words, (long long)groups,
                    bits || group ? " with the given bits/group_size" : "");
    else
        set_problem(l, UG_ERR_AMBIGUOUS,
                    "layer '%s': %lld code words and %lld groups per row fit %s; no config.json "
                    "says which: pass bits and group_size",
                    l->name, (long long)words, (long long)groups, options);
}

/* ---- AWQ and GPTQ ----------------------------------------------------------- */

/* AutoAWQ GEMV's zeros width: groups per row in words of 8, rounded up to a
 * multiple that depends on the group size; -1 for a group size it refuses. */
static int64_t awq_gemv_zeros_width(int64_t k, int64_t g)
{
    int64_t mult = g >= 128 ? 1 : g == 64 ? 2 : g == 32 ? 4 : 0;
    if (mult == 0)
        return -1; /* AutoAWQ refuses other group sizes */
    int64_t width = (k / g + 7) / 8;
    return (width + mult - 1) / mult * mult;
}

typedef struct packed_fit {
    io_source source;
    int32_t bits, group;
    int64_t n, k;
    char why[160]; /* why it does not fit, when it does not */
} packed_fit;

static bool fit_awq_gemm(const io_tensor *q, const io_tensor *z, const io_tensor *s,
                         packed_fit *f)
{
    f->source = IO_SRC_AWQ_GEMM;
    int64_t k = q->shape[0], n = s->shape[1], groups = s->shape[0];
    if (q->shape[1] * 8 != n || z->shape[0] != groups || z->shape[1] != q->shape[1] ||
        groups == 0 || k % groups != 0) {
        snprintf(f->why, sizeof f->why,
                 "AWQ GEMM wants qweight [K, N/8], qzeros [K/G, N/8], scales [K/G, N]");
        return false;
    }
    f->bits = 4;
    f->n = n;
    f->k = k;
    f->group = (int32_t)(k / groups);
    return true;
}

static bool fit_awq_gemv(const io_tensor *q, const io_tensor *z, const io_tensor *s,
                         int32_t group, packed_fit *f)
{
    f->source = IO_SRC_AWQ_GEMV;
    int64_t n = q->shape[0], k = q->shape[1] * 8;
    if (s->shape[0] != n || z->shape[0] != n || s->shape[1] != z->shape[1] * 8 || k == 0) {
        snprintf(f->why, sizeof f->why,
                 "AWQ GEMV wants qweight [N, K/8], qzeros [N, W], scales [N, 8*W]");
        return false;
    }
    int fits = 0;
    static const int64_t groups[] = {32, 64, 128, 0};
    for (int i = 0; i < 4; i++) {
        /* AutoAWQ's GEMV packer refuses per-channel groups: take G = K only
         * when the caller or the config asks for it. */
        int64_t g = groups[i] ? groups[i] : k;
        if (group == 0 ? groups[i] == 0 : g != group && !(group == -1 && g == k))
            continue;
        if (k % g != 0)
            continue;
        if (awq_gemv_zeros_width(k, g) != z->shape[1])
            continue;
        if (fits++ == 0)
            f->group = (int32_t)g;
        if (g == k)
            break;
    }
    if (fits != 1) {
        snprintf(f->why, sizeof f->why,
                 fits ? "AWQ GEMV zeros width %lld fits several group sizes; pass group_size"
                      : "AWQ GEMV zeros width %lld fits no group size",
                 (long long)z->shape[1]);
        return false;
    }
    f->bits = 4;
    f->n = n;
    f->k = k;
    return true;
}

static bool fit_gptq(const io_tensor *q, const io_tensor *z, const io_tensor *s,
                     const io_tensor *g_idx, packed_fit *f)
{
    f->source = IO_SRC_GPTQ;
    int64_t n = s->shape[1], groups = s->shape[0];
    if (q->shape[1] != n || z->shape[0] != groups || n == 0 || groups == 0 ||
        (z->shape[1] * 32) % n != 0) {
        snprintf(f->why, sizeof f->why,
                 "GPTQ wants qweight [K*b/32, N], qzeros [groups, N*b/32], scales [groups, N]");
        return false;
    }
    int64_t bits = z->shape[1] * 32 / n;
    if (bits != 2 && bits != 3 && bits != 4 && bits != 8) {
        snprintf(f->why, sizeof f->why, "GPTQ qzeros [%lld, %lld] for N = %lld mean %lld bits",
                 (long long)z->shape[0], (long long)z->shape[1], (long long)n, (long long)bits);
        return false;
    }
    int64_t k = q->shape[0] * 32 / bits;
    if ((q->shape[0] * 32) % bits != 0 || (g_idx != NULL && g_idx->shape[0] != k) ||
        (g_idx != NULL && g_idx->ndim != 1)) {
        snprintf(f->why, sizeof f->why, "GPTQ qweight rows and g_idx disagree on K");
        return false;
    }
    f->bits = (int32_t)bits;
    f->n = n;
    f->k = k;
    f->group = k % groups == 0 ? (int32_t)(k / groups) : 0;
    return true;
}

/* Whether g_idx is anything other than k / G (GPTQ's act-order). */
static bool gptq_act_order(const io_tensor *g_idx, int64_t group)
{
    if (g_idx == NULL || group <= 0)
        return false;
    size_t esize = g_idx->type == IO_I64 ? 8 : 4;
    for (int64_t k = 0; k < g_idx->shape[0]; k++) {
        const uint8_t *p = g_idx->data + (size_t)k * esize;
        int64_t v = esize == 8 ? (int64_t)io_le64(p) : (int64_t)(int32_t)io_le32(p);
        if (v != k / group)
            return true;
    }
    return false;
}

static void resolve_packed(ug_checkpoint *ckpt, io_layer *l, int32_t group)
{
    const io_tensor *q = tensor(ckpt, l->main), *z = tensor(ckpt, l->zeros),
                    *s = tensor(ckpt, l->scales), *g = tensor(ckpt, l->g_idx);
    if (z == NULL || s == NULL) {
        set_problem(l, UG_ERR_MISSING_TENSOR, "layer '%s': qweight without '%s.%s'", l->name,
                    l->name, z == NULL ? "qzeros" : "scales");
        return;
    }
    if (!is_word_type(q->type) || !is_word_type(z->type)) {
        set_problem(l, UG_ERR_FILE_DTYPE, "layer '%s': %s is %s, not I32", l->name,
                    is_word_type(q->type) ? "qzeros" : "qweight",
                    io_type_info_of(is_word_type(q->type) ? z->type : q->type)->name);
        return;
    }
    if (!is_float_type(s->type)) {
        set_problem(l, UG_ERR_FILE_DTYPE, "layer '%s': scales are %s, not F16/BF16/F32",
                    l->name, io_type_info_of(s->type)->name);
        return;
    }
    if (g != NULL && g->type != IO_I32 && g->type != IO_I64) {
        set_problem(l, UG_ERR_FILE_DTYPE, "layer '%s': g_idx is %s, not I32", l->name,
                    io_type_info_of(g->type)->name);
        return;
    }
    if (!dims2(q) || !dims2(z) || !dims2(s)) {
        set_problem(l, UG_ERR_FILE_SHAPE, "layer '%s': qweight, qzeros and scales must be 2-D",
                    l->name);
        return;
    }
    /* Try every layout; the config settles a tie, g_idx means GPTQ. */
    packed_fit fits[3] = {{0}};
    bool ok[3] = {fit_awq_gemm(q, z, s, &fits[0]), fit_awq_gemv(q, z, s, group, &fits[1]),
                  fit_gptq(q, z, s, g, &fits[2])};
    const char *method = ckpt->config.quant_method;
    if (g != NULL || strcmp(method, "gptq") == 0)
        ok[0] = ok[1] = false;
    if (strcmp(method, "awq") == 0) {
        ok[2] = false;
        if (strcmp(ckpt->config.awq_version, "gemm") == 0)
            ok[1] = false;
        if (strcmp(ckpt->config.awq_version, "gemv") == 0)
            ok[0] = false;
    }
    int count = ok[0] + ok[1] + ok[2];
    if (count != 1) {
        if (count == 0)
            set_problem(l, UG_ERR_FILE_SHAPE,
                        "layer '%s': qweight %lldx%lld, qzeros %lldx%lld, scales %lldx%lld fit "
                        "no known layout (%s; %s; %s)",
                        l->name, (long long)q->shape[0], (long long)q->shape[1],
                        (long long)z->shape[0], (long long)z->shape[1], (long long)s->shape[0],
                        (long long)s->shape[1], fits[0].why, fits[1].why, fits[2].why);
        else
            set_problem(l, UG_ERR_AMBIGUOUS,
                        "layer '%s': the shapes fit more than one of AWQ GEMM, AWQ GEMV and "
                        "GPTQ, and no config says which (quant_method, version)",
                        l->name);
        return;
    }
    const packed_fit *f = ok[0] ? &fits[0] : ok[1] ? &fits[1] : &fits[2];
    l->source = f->source;
    snprintf(l->source_name, sizeof l->source_name, "%s",
             ok[0] ? "awq-gemm" : ok[1] ? "awq-gemv" : "gptq");
    l->bits = f->bits;
    l->n = f->n;
    l->k = f->k;
    l->group_size = f->group;
    if (f->source == IO_SRC_GPTQ) {
        if (f->bits == 3) {
            set_problem(l, UG_ERR_UNSUPPORTED,
                        "layer '%s': 3-bit GPTQ (codes straddling words) is not imported",
                        l->name);
            return;
        }
        if (f->group == 0) {
            set_problem(l, UG_ERR_UNSUPPORTED,
                        "layer '%s': K = %lld is not a whole number of its %lld groups", l->name,
                        (long long)f->k, (long long)s->shape[0]);
            return;
        }
        l->act_order = gptq_act_order(g, f->group);
    }
    if (!library_group(l->group_size, l->k))
        set_problem(l, UG_ERR_UNSUPPORTED,
                    "layer '%s': group size %d (the library takes 32, 64, 128 or K)", l->name,
                    l->group_size);
}

/* ---- dense and GGUF --------------------------------------------------------- */

static void resolve_gguf(ug_checkpoint *ckpt, io_layer *l)
{
    const io_tensor *t = tensor(ckpt, l->main);
    l->n = t->shape[0];
    l->k = t->shape[1];
    switch (t->type) {
    case IO_Q4_0:
    case IO_Q4_1:
    case IO_Q4_K:
        l->bits = 4;
        l->group_size = 32;
        break;
    case IO_Q8_0:
        l->bits = 8;
        l->group_size = 32;
        break;
    default:
        set_problem(l, UG_ERR_UNSUPPORTED,
                    "layer '%s': GGUF type %s is not imported (Q4_0, Q4_1, Q8_0, Q4_K, F32, F16 "
                    "and BF16 are)",
                    l->name, io_type_info_of(t->type)->name);
    }
}

void io_resolve_layer(ug_checkpoint *ckpt, io_layer *l, int32_t bits, int32_t group_size)
{
    free(l->problem);
    l->problem = NULL;
    l->problem_status = UG_OK;
    l->act_order = false;
    switch (l->source) {
    case IO_SRC_DENSE: {
        const io_tensor *t = tensor(ckpt, l->main);
        l->n = t->shape[0];
        l->k = t->shape[1];
        l->bits = (int32_t)io_type_info_of(t->type)->block_bytes * 8;
        l->group_size = 0;
        break;
    }
    case IO_SRC_MLX:
        resolve_mlx(ckpt, l, bits, group_size);
        break;
    case IO_SRC_AWQ_GEMM:
    case IO_SRC_AWQ_GEMV:
    case IO_SRC_GPTQ:
        resolve_packed(ckpt, l, group_size);
        break;
    case IO_SRC_GGUF:
        resolve_gguf(ckpt, l);
        break;
    }
    if (l->problem == NULL && l->bias >= 0) {
        const io_tensor *b = tensor(ckpt, l->bias);
        if (b->ndim != 1 || b->shape[0] != l->n)
            set_problem(l, UG_ERR_FILE_SHAPE, "layer '%s': bias has %lld elements, N is %lld",
                        l->name, (long long)(b->ndim == 1 ? b->shape[0] : -1), (long long)l->n);
    }
}

/* ---- finding the layers ----------------------------------------------------- */

static ug_status add_layer(ug_checkpoint *ckpt, const char *name, size_t name_len,
                           io_source source, int32_t main)
{
    io_layer *l = &ckpt->layers[ckpt->layer_count];
    memset(l, 0, sizeof *l);
    l->name = strndup(name, name_len);
    if (l->name == NULL)
        return ug_fail(ckpt->ctx, UG_ERR_OUT_OF_MEMORY, "checkpoint: no memory for a layer name");
    ckpt->layer_count++;
    l->source = source;
    l->main = main;
    l->scales = l->biases = l->zeros = l->g_idx = l->bias = -1;
    const io_tensor *t = &ckpt->tensors[main];
    if (source == IO_SRC_GGUF || (source == IO_SRC_DENSE && strcmp(ckpt->kind, "gguf") == 0)) {
        snprintf(l->source_name, sizeof l->source_name, "%s", "dense");
        if (source == IO_SRC_GGUF) {
            const char *type = io_type_info_of(t->type)->name;
            size_t i = 0;
            i += (size_t)snprintf(l->source_name, sizeof l->source_name, "gguf-");
            for (; *type && i + 1 < sizeof l->source_name; type++, i++)
                l->source_name[i] = (char)(*type >= 'A' && *type <= 'Z' ? *type + 32 : *type);
            l->source_name[i] = '\0';
        }
    } else {
        const char *prefix = l->name;
        l->scales = companion(ckpt, prefix, ".scales");
        if (source == IO_SRC_MLX)
            l->biases = companion(ckpt, prefix, ".biases");
        if (source == IO_SRC_GPTQ) {
            l->zeros = companion(ckpt, prefix, ".qzeros");
            l->g_idx = companion(ckpt, prefix, ".g_idx");
        }
        l->bias = companion(ckpt, prefix, ".bias");
        if (l->bias >= 0 && !is_float_type(ckpt->tensors[l->bias].type))
            l->bias = -1;
        snprintf(l->source_name, sizeof l->source_name, "%s",
                 source == IO_SRC_MLX ? "mlx" : source == IO_SRC_DENSE ? "dense" : "awq-or-gptq");
    }
    int32_t parts[] = {l->main, l->scales, l->biases, l->zeros, l->g_idx};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        if (parts[i] >= 0)
            l->bytes += ckpt->tensors[parts[i]].bytes;
    io_resolve_layer(ckpt, l, 0, 0);
    return UG_OK;
}

ug_status io_find_layers(ug_checkpoint *ckpt)
{
    ckpt->layers = calloc(ckpt->tensor_count ? ckpt->tensor_count : 1, sizeof *ckpt->layers);
    if (ckpt->layers == NULL)
        return ug_fail(ckpt->ctx, UG_ERR_OUT_OF_MEMORY, "checkpoint: no memory for the layers");
    bool gguf = strcmp(ckpt->kind, "gguf") == 0;
    ug_status st = UG_OK;
    for (size_t i = 0; i < ckpt->tensor_count && st == UG_OK; i++) {
        const io_tensor *t = &ckpt->tensors[i];
        size_t len;
        if (gguf) {
            if (t->ndim != 2)
                continue;
            if (is_float_type(t->type))
                st = add_layer(ckpt, t->name, strlen(t->name), IO_SRC_DENSE, (int32_t)i);
            else if (io_type_info_of(t->type)->block > 1)
                st = add_layer(ckpt, t->name, strlen(t->name), IO_SRC_GGUF, (int32_t)i);
        } else if (ends_with(t->name, ".qweight", &len)) {
            /* The layout (AWQ or GPTQ) is settled in resolve_packed. */
            st = add_layer(ckpt, t->name, len, IO_SRC_GPTQ, (int32_t)i);
        } else if (ends_with(t->name, ".weight", &len)) {
            if (t->type == IO_U32)
                st = add_layer(ckpt, t->name, len, IO_SRC_MLX, (int32_t)i);
            else if (is_float_type(t->type) && t->ndim == 2)
                st = add_layer(ckpt, t->name, len, IO_SRC_DENSE, (int32_t)i);
        }
    }
    return st;
}
