/*
 * cmd_run.c - `unigemm run --weights FILE --tensor NAME --input X.npy
 * --output Y.npy [--backend B] [...]`: one layer of a checkpoint end to
 * end. Opens the file, imports the layer, reads X [M, K] (float32 .npy),
 * computes Y = X . W^T (plus the layer's bias with --bias) [M, N] and writes
 * it as float32 .npy. An act-order GPTQ layer's permutation is applied to
 * X's columns here. The cuda backend takes bf16 activations: X is rounded
 * to bf16 for it (said on stderr). --check also runs the ref backend (the
 * oracle) on the same inputs and prints the difference.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "harness.h"
#include "npy.h"

typedef struct run_args {
    const char *weights, *tensor, *input, *output;
    ug_backend backend;
    ug_import_options import;
    int with_bias, check;
} run_args;

static int run_usage(const char *why)
{
    if (why != NULL)
        fprintf(stderr, "unigemm run: %s\n", why);
    fprintf(stderr,
            "usage: unigemm run --weights FILE --tensor NAME --input X.npy --output Y.npy\n"
            "                   [--backend auto|ref|cpu|cuda] [--bias] [--check]\n"
            "                   [--bits N] [--group-size G] [--gptq-version 1|2]\n");
    return 2;
}

static bool parse_int(const char *s, int32_t lo, int32_t hi, int32_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return false;
    *out = (int32_t)v;
    return true;
}

static int parse_args(int argc, char **argv, run_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char why[160];
        if (strcmp(o, "--bias") == 0) {
            a->with_bias = 1;
            continue;
        }
        if (strcmp(o, "--check") == 0) {
            a->check = 1;
            continue;
        }
        if (v == NULL) {
            snprintf(why, sizeof why, "'%s' needs a value", o);
            return run_usage(why);
        }
        i++;
        if (strcmp(o, "--weights") == 0)
            a->weights = v;
        else if (strcmp(o, "--tensor") == 0)
            a->tensor = v;
        else if (strcmp(o, "--input") == 0)
            a->input = v;
        else if (strcmp(o, "--output") == 0)
            a->output = v;
        else if (strcmp(o, "--backend") == 0) {
            if (ug_backend_parse(NULL, v, &a->backend) != UG_OK) {
                snprintf(why, sizeof why, "unknown backend '%s'", v);
                return run_usage(why);
            }
        } else if (strcmp(o, "--bits") == 0) {
            if (!parse_int(v, 1, 8, &a->import.bits))
                return run_usage("--bits takes 2, 3, 4, 5, 6 or 8");
        } else if (strcmp(o, "--group-size") == 0) {
            if (!parse_int(v, -1, 1 << 30, &a->import.group_size) || a->import.group_size == 0)
                return run_usage("--group-size takes 32, 64, 128 or -1");
        } else if (strcmp(o, "--gptq-version") == 0) {
            if (!parse_int(v, 1, 2, &a->import.gptq_version))
                return run_usage("--gptq-version takes 1 or 2");
        } else {
            snprintf(why, sizeof why, "unknown option '%s'", o);
            return run_usage(why);
        }
    }
    if (a->weights == NULL || a->tensor == NULL || a->input == NULL || a->output == NULL)
        return run_usage("--weights, --tensor, --input and --output are required");
    return 0;
}

/* Y = X' . W^T (+ bias) on ctx; X' is f32 or, for cuda, bf16. */
static bool run_layer(ug_context *ctx, const ug_weight_source *src, const void *x,
                      ug_dtype x_type, int64_t m, const void *bias, ug_dtype bias_type, float *y,
                      char *msg, size_t msg_size)
{
    ug_packed_weights *w = NULL;
    ug_plan *plan = NULL;
    ug_gemm_desc d = UG_GEMM_DESC_INIT;
    d.m = m;
    d.n = src->n;
    d.k = src->k;
    d.a_type = x_type;
    d.c_type = UG_F32;
    d.has_bias = bias != NULL;
    d.bias_type = bias != NULL ? bias_type : UG_F32;
    bool ok = false;
    ug_status st = ug_weights_pack(ctx, src, &w);
    if (st == UG_OK)
        st = ug_plan_create(ctx, &d, w, NULL, &plan);
    if (st != UG_OK)
        snprintf(msg, msg_size, "%s: %s", ug_status_str(st), ug_context_last_error(ctx));
    else
        ok = hx_execute(ctx, plan, w, &d, x, y, bias, msg, msg_size);
    if (ok && plan != NULL)
        fprintf(stderr, "unigemm run: %s backend, schedule %s\n",
                ug_backend_name(ug_context_backend(ctx)), ug_plan_schedule(plan));
    ug_plan_destroy(plan);
    ug_weights_destroy(w);
    return ok;
}

static int run(const run_args *a, ug_context *ctx)
{
    int rc = 1;
    char msg[640];
    ug_checkpoint *ckpt = NULL;
    ug_imported_layer *layer = NULL;
    float *x = NULL, *xp = NULL, *y = NULL, *ref = NULL;
    uint16_t *x16 = NULL;
    int64_t m, k;
    ug_status st = ug_checkpoint_open(ctx, a->weights, &ckpt);
    if (st == UG_OK)
        st = ug_checkpoint_import(ckpt, a->tensor, &a->import, &layer);
    if (st != UG_OK) {
        fprintf(stderr, "unigemm run: %s: %s\n", ug_status_str(st), ug_context_last_error(ctx));
        goto done;
    }
    const ug_weight_source *src = ug_imported_layer_source(layer);
    if (npy_read_f32(a->input, &m, &k, &x, msg, sizeof msg) != 0) {
        fprintf(stderr, "unigemm run: %s\n", msg);
        goto done;
    }
    if (k != src->k) {
        fprintf(stderr,
                "unigemm run: %s has %lld columns but layer '%s' has K = %lld in features\n",
                a->input, (long long)k, a->tensor, (long long)src->k);
        goto done;
    }
    ug_dtype bias_type = UG_DTYPE_NONE;
    const void *bias = a->with_bias ? ug_imported_layer_bias(layer, &bias_type) : NULL;
    if (a->with_bias && bias == NULL) {
        fprintf(stderr, "unigemm run: --bias, but layer '%s' has no bias tensor\n", a->tensor);
        goto done;
    }
    /* Act-order: column j of the imported weights is column k_perm[j] of W. */
    const int32_t *perm = ug_imported_layer_k_perm(layer);
    size_t elems = (size_t)m * (size_t)k, out_elems = (size_t)m * (size_t)src->n;
    xp = x;
    if (perm != NULL) {
        xp = malloc((elems ? elems : 1) * sizeof *xp);
        if (xp == NULL)
            goto oom;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < k; j++)
                xp[i * k + j] = x[i * k + perm[j]];
    }
    const void *xin = xp;
    ug_dtype x_type = UG_F32;
    if (ug_context_backend(ctx) == UG_BACKEND_CUDA) {
        x16 = malloc((elems ? elems : 1) * sizeof *x16);
        if (x16 == NULL)
            goto oom;
        for (size_t i = 0; i < elems; i++)
            x16[i] = ug_f32_to_bf16(xp[i]);
        xin = x16;
        x_type = UG_BF16;
        fprintf(stderr, "unigemm run: the cuda backend takes bf16 activations: X rounded to "
                        "bf16\n");
    }
    y = malloc((out_elems ? out_elems : 1) * sizeof *y);
    if (y == NULL)
        goto oom;
    double t0 = hx_now();
    if (!run_layer(ctx, src, xin, x_type, m, bias, bias_type, y, msg, sizeof msg)) {
        fprintf(stderr, "unigemm run: %s\n", msg);
        goto done;
    }
    double ms = (hx_now() - t0) * 1e3;
    if (npy_write_f32(a->output, y, m, src->n, msg, sizeof msg) != 0) {
        fprintf(stderr, "unigemm run: %s\n", msg);
        goto done;
    }
    char fmt[96];
    hx_format_str(&src->format, fmt, sizeof fmt);
    printf("%s: layer '%s' as %s, N=%lld K=%lld%s; Y [%lld, %lld] written to %s (%.2f ms with "
           "packing)\n",
           a->weights, a->tensor, fmt, (long long)src->n, (long long)src->k,
           perm != NULL ? ", act-order columns permuted" : "", (long long)m, (long long)src->n,
           a->output, ms);
    if (a->check) {
        ug_context_options o = UG_CONTEXT_OPTIONS_INIT;
        o.backend = UG_BACKEND_REF;
        ug_context *oracle;
        ref = malloc((out_elems ? out_elems : 1) * sizeof *ref);
        if (ref == NULL)
            goto oom;
        if (ug_context_create(&o, &oracle, msg, sizeof msg) != UG_OK) {
            fprintf(stderr, "unigemm run: %s\n", msg);
            goto done;
        }
        bool ok = run_layer(oracle, src, xin, x_type, m, bias, bias_type, ref, msg, sizeof msg);
        ug_context_destroy(oracle);
        if (!ok) {
            fprintf(stderr, "unigemm run: check: %s\n", msg);
            goto done;
        }
        double num = 0, den = 0, max_err = 0, max_ref = 0;
        for (size_t i = 0; i < out_elems; i++) {
            double e = fabs((double)y[i] - ref[i]);
            num += e * e;
            den += (double)ref[i] * ref[i];
            max_err = e > max_err ? e : max_err;
            max_ref = fabs(ref[i]) > max_ref ? fabs(ref[i]) : max_ref;
        }
        printf("check against the ref backend: relative L2 error %.3g, max error %.3g (max |Y| "
               "%.3g)\n",
               den > 0 ? sqrt(num / den) : sqrt(num), max_err, max_ref);
    }
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "unigemm run: out of memory\n");
done:
    if (xp != x)
        free(xp);
    free(x);
    free(x16);
    free(y);
    free(ref);
    ug_imported_layer_free(layer);
    ug_checkpoint_close(ckpt);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    run_args a = {.backend = UG_BACKEND_AUTO};
    ug_import_options def = UG_IMPORT_OPTIONS_INIT;
    a.import = def;
    int bad = parse_args(argc, argv, &a);
    if (bad)
        return bad;
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = a.backend;
    ug_context *ctx;
    char err[256];
    if (ug_context_create(&opt, &ctx, err, sizeof err) != UG_OK) {
        fprintf(stderr, "unigemm run: %s\n", err);
        return 1;
    }
    int rc = run(&a, ctx);
    ug_context_destroy(ctx);
    return rc;
}
