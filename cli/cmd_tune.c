/*
 * cmd_tune.c - `unigemm tune --backend B [--shapes MxNxK,...] [--weights SPEC]...
 * [--act T] [--reps N] [--threads N] -o FILE`: for every shape and weight
 * format, times every schedule the backend offers (ug_schedule_name) with
 * bench_run_one, skipping those the library refuses for the shape (the
 * message says why), prints a progress line per schedule, then a table of
 * the default schedule (the library's heuristic) against the fastest one and
 * the gain, and writes a tuning table (docs/tuning.md) that it loads back
 * into a fresh context to prove it usable. UG_TUNING_FILE is ignored while
 * tuning, so that "default" means the heuristic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "harness.h"

#define TUNE_MAX_SHAPES 64
#define TUNE_MAX_FORMATS 16

typedef struct tune_shape {
    int64_t m, n, k;
} tune_shape;

typedef struct tune_args {
    const char *backend, *act, *out, *shapes;
    const char *weights[TUNE_MAX_FORMATS];
    int weight_count;
    long long reps, threads;
} tune_args;

static void tune_usage(FILE *f)
{
    fprintf(f,
            "usage: unigemm tune --backend B -o FILE [--shapes MxNxK,...] [--weights SPEC]...\n"
            "                    [--act T] [--reps N] [--threads N]\n"
            "  times every schedule of backend B (cpu, cuda) at each shape and weight format,\n"
            "  writes the fastest per shape to FILE (JSON), prints the gain over the default.\n"
            "  --shapes   M x N x K triples (default 1x4096x4096,16x4096x4096,256x4096x4096)\n"
            "  --weights  a format as for bench, repeatable (default uint4 g128 scale_zero,\n"
            "             scales of the activation type on cuda, float16 on cpu)\n"
            "  --act      activation type (default bfloat16 on cuda, float32 on cpu)\n"
            "  --reps     timed repetitions per schedule (default: bench's)\n"
            "Load the table with ug_context_load_tuning() or UG_TUNING_FILE=FILE.\n");
}

static int bad(const char *msg)
{
    fprintf(stderr, "unigemm tune: %s\n\n", msg);
    tune_usage(stderr);
    return 2;
}

/* One positive decimal integer up to INT32_MAX followed by `sep`; advances *p past both. */
static bool parse_dim(const char **p, char sep, int64_t *out)
{
    if (**p < '0' || **p > '9')
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(*p, &end, 10);
    if (errno || v < 1 || v > INT32_MAX || *end != sep)
        return false;
    *out = v;
    *p = end + (sep != '\0');
    return true;
}

static bool parse_shapes(const char *list, tune_shape *out, int *count, char *err, size_t size)
{
    *count = 0;
    const char *p = list;
    while (*p) {
        const char *start = p;
        tune_shape s;
        const char *comma = strchr(p, ',');
        char last = comma ? ',' : '\0';
        if (!parse_dim(&p, 'x', &s.m) || !parse_dim(&p, 'x', &s.n) || !parse_dim(&p, last, &s.k) ||
            (last == ',' && *p == '\0')) {
            snprintf(err, size, "--shapes: '%.40s' is not MxNxK with each in 1..%d", start,
                     INT32_MAX);
            return false;
        }
        if (*count == TUNE_MAX_SHAPES) {
            snprintf(err, size, "--shapes: more than %d shapes", TUNE_MAX_SHAPES);
            return false;
        }
        out[(*count)++] = s;
    }
    if (*count == 0) {
        snprintf(err, size, "--shapes is empty");
        return false;
    }
    return true;
}

static bool parse_args(int argc, char **argv, tune_args *a, char *err, size_t size)
{
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        if (i + 1 >= argc) {
            snprintf(err, size, "%s needs a value", name);
            return false;
        }
        const char *value = argv[++i];
        char *end;
        if (strcmp(name, "--backend") == 0)
            a->backend = value;
        else if (strcmp(name, "-o") == 0 || strcmp(name, "--output") == 0)
            a->out = value;
        else if (strcmp(name, "--shapes") == 0)
            a->shapes = value;
        else if (strcmp(name, "--act") == 0)
            a->act = value;
        else if (strcmp(name, "--weights") == 0) {
            if (a->weight_count == TUNE_MAX_FORMATS) {
                snprintf(err, size, "--weights given more than %d times", TUNE_MAX_FORMATS);
                return false;
            }
            a->weights[a->weight_count++] = value;
        } else if (strcmp(name, "--reps") == 0 || strcmp(name, "--threads") == 0) {
            errno = 0;
            long long v = strtoll(value, &end, 10);
            bool reps = strcmp(name, "--reps") == 0;
            if (errno || *end || v < (reps ? 1 : 0) || v > 4096) {
                snprintf(err, size, "%s '%s' is not an integer in %d..4096", name, value,
                         reps ? 1 : 0);
                return false;
            }
            *(reps ? &a->reps : &a->threads) = v;
        } else {
            snprintf(err, size, "unknown option '%s'", name);
            return false;
        }
    }
    if (a->backend == NULL || a->out == NULL) {
        snprintf(err, size, "%s is required", a->backend == NULL ? "--backend" : "-o");
        return false;
    }
    return true;
}

/* One measured (shape, format): the default and the fastest schedule. */
typedef struct tune_result {
    tune_shape shape;
    ug_weight_format format;
    char best[48], deflt[48];
    double best_us, default_us;
} tune_result;

static void entry_format(json_t *e, const ug_weight_format *f)
{
    json_object_set_new(e, "storage", json_string(ug_dtype_name(f->storage)));
    json_object_set_new(e, "method", json_string(ug_method_name(f->method)));
    json_object_set_new(e, "group_size", json_integer(f->group_size));
    json_object_set_new(e, "scale_type", json_string(ug_dtype_name(f->scale_type)));
}

static int write_table(const char *path, ug_backend backend, const char *device, ug_dtype act,
                       const tune_result *r, int count)
{
    json_t *root = json_object();
    json_object_set_new(root, "unigemm_tuning", json_integer(1));
    json_object_set_new(root, "library_version", json_string(ug_version()));
    json_object_set_new(root, "backend", json_string(ug_backend_name(backend)));
    json_object_set_new(root, "device", json_string(device));
    json_t *entries = json_array();
    for (int i = 0; i < count; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "m", json_integer(r[i].shape.m));
        json_object_set_new(e, "n", json_integer(r[i].shape.n));
        json_object_set_new(e, "k", json_integer(r[i].shape.k));
        json_object_set_new(e, "a_type", json_string(ug_dtype_name(act)));
        entry_format(e, &r[i].format);
        json_object_set_new(e, "schedule", json_string(r[i].best));
        json_object_set_new(e, "median_us", json_real(r[i].best_us));
        json_object_set_new(e, "default_schedule", json_string(r[i].deflt));
        json_object_set_new(e, "default_median_us", json_real(r[i].default_us));
        json_array_append_new(entries, e);
    }
    json_object_set_new(root, "entries", entries);
    int rc = json_dump_file(root, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return rc;
}

int cmd_tune(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            tune_usage(stdout);
            return 0;
        }
    tune_args a = {0};
    char err[1024], why[1024];
    if (!parse_args(argc, argv, &a, err, sizeof err))
        return bad(err);
    ug_backend backend;
    if (ug_backend_parse(NULL, a.backend, &backend) != UG_OK ||
        (backend != UG_BACKEND_CPU && backend != UG_BACKEND_CUDA)) {
        snprintf(err, sizeof err, "--backend '%s': tune runs on cpu or cuda", a.backend);
        return bad(err);
    }
    bool gpu = backend == UG_BACKEND_CUDA;
    tune_shape shapes[TUNE_MAX_SHAPES];
    int shape_count;
    if (!parse_shapes(a.shapes ? a.shapes : "1x4096x4096,16x4096x4096,256x4096x4096", shapes,
                      &shape_count, err, sizeof err))
        return bad(err);
    ug_dtype act = gpu ? UG_BF16 : UG_F32;
    if (a.act != NULL && (ug_dtype_parse(NULL, a.act, &act) != UG_OK ||
                          !(act == UG_F32 || act == UG_F16 || act == UG_BF16))) {
        snprintf(err, sizeof err, "--act '%s' is not one of float32, float16, bfloat16", a.act);
        return bad(err);
    }
    ug_weight_format formats[TUNE_MAX_FORMATS];
    int format_count = a.weight_count ? a.weight_count : 1;
    for (int i = 0; i < format_count; i++) {
        const char *spec = a.weight_count ? a.weights[i]
                           : act == UG_BF16 ? "uint4,group=128,method=scale_zero,scale=bfloat16"
                                            : "uint4,group=128,method=scale_zero,scale=float16";
        if (!hx_format_parse(spec, &formats[i], why, sizeof why)) {
            snprintf(err, sizeof err, "--weights '%.96s': %.900s", spec, why);
            return bad(err);
        }
    }

    /* "default" must mean the heuristic, not a table loaded from the environment */
    unsetenv("UG_TUNING_FILE");
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = backend;
    opt.num_threads = (int32_t)a.threads;
    ug_context *ctx = NULL;
    ug_status st = ug_context_create(&opt, &ctx, why, sizeof why);
    if (st != UG_OK) {
        fprintf(stderr, "unigemm tune: --backend %s: %s: %s\n", a.backend, ug_status_str(st), why);
        return 1;
    }
    char device[256];
    snprintf(device, sizeof device, "%s", ug_context_device_id(ctx));

    bench_config cfg = {.backend = backend,
                        .threads = ug_context_num_threads(ctx),
                        .act = act,
                        .reps = a.reps ? (int)a.reps : gpu ? BENCH_CUDA_DEFAULT_REPS : 5,
                        .seed = 1,
                        /* the baseline runs once per schedule (its result checks
                         * the schedule's); only the schedules' times matter here */
                        .baseline_reps = 1};
    ug_context_destroy(ctx);
    bench_machine mach;
    if (gpu ? bench_cuda_measure_machine(0, &mach, err, sizeof err) != 0
            : bench_measure_machine(cfg.threads, &mach) != 0) {
        fprintf(stderr, "unigemm tune: measuring the machine: %.900s\n", gpu ? err : "failed");
        return 1;
    }
    const int32_t schedules = ug_schedule_count(backend);
    const int total = shape_count * format_count * (schedules + 1);
    printf("unigemm %s tune: backend %s on %s, act %s, %d shape(s) x %d format(s) x %d "
           "schedules, %d reps each\n",
           ug_version(), ug_backend_name(backend), device, ug_dtype_name(act), shape_count,
           format_count, (int)schedules, cfg.reps);
    fflush(stdout);

    tune_result results[TUNE_MAX_SHAPES * TUNE_MAX_FORMATS];
    int count = 0, step = 0;
    double start = hx_now();
    for (int f = 0; f < format_count; f++)
        for (int s = 0; s < shape_count; s++) {
            tune_result *r = &results[count];
            memset(r, 0, sizeof *r);
            r->shape = shapes[s];
            r->format = formats[f];
            r->best_us = -1.0;
            cfg.weights = formats[f];
            cfg.n = shapes[s].n;
            cfg.k = shapes[s].k;
            char fmt[96];
            hx_format_str(&formats[f], fmt, sizeof fmt);
            double forced_default_us = -1.0; /* the default's schedule, timed when forced */
            for (int32_t i = -1; i < schedules; i++) {
                cfg.schedule = i < 0 ? NULL : ug_schedule_name(backend, i);
                bench_row row;
                int rc = bench_run_one(&cfg, &mach, shapes[s].m, &row, err, sizeof err);
                step++;
                fprintf(stderr, "[%d/%d] %lldx%lldx%lld %s %s: ", step, total,
                        (long long)shapes[s].m, (long long)shapes[s].n, (long long)shapes[s].k,
                        fmt, cfg.schedule ? cfg.schedule : "(default)");
                if (rc == BENCH_REFUSED) {
                    fprintf(stderr, "refused (%s)\n", err);
                    if (i < 0) /* the library's own choice refused: a bug to report */
                        return 1;
                    continue;
                }
                if (rc != 0) {
                    fprintf(stderr, "failed\nunigemm tune: %s\n", err);
                    return 1;
                }
                fprintf(stderr, "%.2f us\n", row.median_us);
                if (i < 0) {
                    snprintf(r->deflt, sizeof r->deflt, "%s", row.schedule);
                    r->default_us = row.median_us;
                    continue;
                }
                if (strcmp(row.schedule, r->deflt) == 0)
                    forced_default_us = row.median_us;
                if (r->best_us < 0 || row.median_us < r->best_us) {
                    snprintf(r->best, sizeof r->best, "%s", row.schedule);
                    r->best_us = row.median_us;
                }
            }
            /* compare like with like: both sides timed as forced schedules */
            if (forced_default_us > 0)
                r->default_us = forced_default_us;
            if (r->best_us < 0) {
                fprintf(stderr, "unigemm tune: no schedule ran %s at %lldx%lldx%lld\n", fmt,
                        (long long)shapes[s].m, (long long)shapes[s].n, (long long)shapes[s].k);
                return 1;
            }
            count++;
        }

    printf("%-22s %-48s %-22s %10s %-22s %10s %6s\n", "shape (MxNxK)", "weights", "default",
           "us", "tuned", "us", "gain");
    for (int i = 0; i < count; i++) {
        char shape[48], fmt[96];
        snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)results[i].shape.m,
                 (long long)results[i].shape.n, (long long)results[i].shape.k);
        hx_format_str(&results[i].format, fmt, sizeof fmt);
        printf("%-22s %-48s %-22s %10.2f %-22s %10.2f %5.2fx\n", shape, fmt, results[i].deflt,
               results[i].default_us, results[i].best, results[i].best_us,
               results[i].default_us / results[i].best_us);
    }
    if (write_table(a.out, backend, device, act, results, count) != 0) {
        fprintf(stderr, "unigemm tune: cannot write %s\n", a.out);
        return 1;
    }
    /* prove the table loads where it was made */
    st = ug_context_create(&opt, &ctx, why, sizeof why);
    if (st == UG_OK) {
        st = ug_context_load_tuning(ctx, a.out);
        if (st != UG_OK)
            snprintf(why, sizeof why, "%s", ug_context_last_error(ctx));
        ug_context_destroy(ctx);
    }
    if (st != UG_OK) {
        fprintf(stderr, "unigemm tune: the table written to %s does not load: %s\n", a.out, why);
        return 1;
    }
    printf("wrote %s (%d entries) in %.1f s; load it with UG_TUNING_FILE=%s or "
           "ug_context_load_tuning()\n",
           a.out, count, hx_now() - start, a.out);
    return 0;
}
