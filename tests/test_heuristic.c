/*
 * test_heuristic.c - the default heuristics (src/dispatch/heuristic.c)
 * replayed against the measurements they were derived from, which are
 * recorded in bench/results/ (docs/heuristics.md):
 *   - cuda (sm_90, 132 SMs): h200-schedules.csv times every wgmma schedule
 *     and the decode family's choices at M = 16..4096 on two shapes, uint4
 *     and bf16 weights, h200-schedules-dense-small-m.csv both families at
 *     M = 8 and 12 with bf16 weights; at every (weights, M, N, K) the schedule the
 *     heuristic picks must have been measured and be within 5 % of the
 *     fastest measured there;
 *   - cpu: the decode and prefill families forced over M on each
 *     instruction set (cpu-sweep-*.csv: avx2; xeon-h200-host/: avx512;
 *     cpu-portable-sweep.csv: portable); the family picked must be within
 *     5 % of the faster one at every M.
 * This file is built from the dispatch sources themselves (not the shared
 * library, which exports none of them); it needs no device. The folder of
 * the results is its first argument.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dispatch/heuristic.h"

#define TOLERANCE 1.05
#define MAX_ROWS 2048
#define MAX_FIELDS 24

static const char *results_dir;

typedef struct row {
    char weights[96], schedule[48];
    int64_t m, n, k;
    double us;
} row;

/* Split one CSV line (fields may be quoted, holding commas) in place. */
static int split(char *line, char **fields)
{
    int n = 0;
    char *p = line;
    while (n < MAX_FIELDS) {
        if (*p == '"') {
            fields[n++] = ++p;
            while (*p && *p != '"')
                p++;
            if (*p)
                *p++ = '\0';
        } else {
            fields[n++] = p;
            while (*p && *p != ',' && *p != '\n')
                p++;
        }
        if (*p != ',') {
            *p = '\0';
            break;
        }
        *p++ = '\0';
    }
    return n;
}

/* Rows of a bench CSV; `schedule` names them when the file has no schedule
 * column. Returns the count; fails the test when the file cannot be read. */
static int read_rows(const char *file, const char *schedule, row *rows)
{
    char path[512], line[1024], *f[MAX_FIELDS];
    snprintf(path, sizeof path, "%s/%s", results_dir, file);
    FILE *in = fopen(path, "r");
    if (in == NULL)
        fail_msg("cannot read %s", path);
    int col_w = -1, col_m = -1, col_n = -1, col_k = -1, col_s = -1, col_us = -1;
    if (fgets(line, sizeof line, in) == NULL)
        fail_msg("%s is empty", path);
    int nf = split(line, f);
    for (int i = 0; i < nf; i++) {
        int *at = strcmp(f[i], "weights") == 0     ? &col_w
                  : strcmp(f[i], "m") == 0         ? &col_m
                  : strcmp(f[i], "n") == 0         ? &col_n
                  : strcmp(f[i], "k") == 0         ? &col_k
                  : strcmp(f[i], "schedule") == 0  ? &col_s
                  : strcmp(f[i], "median_us") == 0 ? &col_us
                                                   : NULL;
        if (at)
            *at = i;
    }
    if (col_w < 0 || col_m < 0 || col_n < 0 || col_k < 0 || col_us < 0 ||
        (col_s < 0 && schedule == NULL))
        fail_msg("%s lacks a column this test reads", path);
    int count = 0;
    while (fgets(line, sizeof line, in) && count < MAX_ROWS) {
        nf = split(line, f);
        if (nf <= col_us)
            continue;
        row *r = &rows[count++];
        snprintf(r->weights, sizeof r->weights, "%s", f[col_w]);
        snprintf(r->schedule, sizeof r->schedule, "%s", col_s >= 0 ? f[col_s] : schedule);
        r->m = atoll(f[col_m]);
        r->n = atoll(f[col_n]);
        r->k = atoll(f[col_k]);
        r->us = atof(f[col_us]);
    }
    fclose(in);
    return count;
}

/* The weight format of a bench spec, as far as the heuristics read it. */
static ug_weight_format format_of(const char *spec)
{
    char storage[16];
    snprintf(storage, sizeof storage, "%.*s", (int)strcspn(spec, ","), spec);
    ug_weight_format f = {UG_DTYPE_NONE, UG_METHOD_NONE, 0, UG_DTYPE_NONE};
    if (ug_dtype_parse(NULL, storage, &f.storage) != UG_OK)
        fail_msg("weights '%s': unknown storage", spec);
    if (ug_dtype_bits(f.storage) <= 8) {
        f.method = UG_METHOD_SCALE_ZERO;
        f.group_size = 128;
        f.scale_type = UG_BF16;
    }
    return f;
}

/* Fastest median at (weights, m, n, k), and the median of `schedule` there
 * (< 0 when it was not measured). */
static double best_at(const row *rows, int count, const row *at, const char *schedule,
                      double *picked)
{
    double best = -1.0;
    *picked = -1.0;
    for (int i = 0; i < count; i++) {
        const row *r = &rows[i];
        if (r->m != at->m || r->n != at->n || r->k != at->k || strcmp(r->weights, at->weights))
            continue;
        if (best < 0 || r->us < best)
            best = r->us;
        if (strcmp(r->schedule, schedule) == 0 && (*picked < 0 || r->us < *picked))
            *picked = r->us;
    }
    return best;
}

static void test_cuda_heuristic_matches_h200_measurements(void **state)
{
    (void)state;
    static row rows[2 * MAX_ROWS];
    int count = read_rows("h200-schedules.csv", NULL, rows);
    count += read_rows("h200-schedules-dense-small-m.csv", NULL, rows + count);
    const ug_cuda_class h200 = {132};
    int points = 0, failures = 0;
    double worst = 1.0;
    for (int i = 0; i < count; i++) {
        bool first = true; /* judge each point once */
        for (int j = 0; j < i && first; j++)
            first = !(rows[j].m == rows[i].m && rows[j].n == rows[i].n &&
                      rows[j].k == rows[i].k && strcmp(rows[j].weights, rows[i].weights) == 0);
        if (!first)
            continue;
        ug_weight_format f = format_of(rows[i].weights);
        const ug_schedule_info *s = ug_heuristic_cuda(&h200, rows[i].m, rows[i].n, rows[i].k, &f);
        assert_non_null(s);
        double picked, best = best_at(rows, count, &rows[i], s->name, &picked);
        points++;
        if (picked < 0 || picked > TOLERANCE * best) {
            failures++;
            printf("cuda %s M=%lld N=%lld K=%lld: picks %s (%s us), fastest measured %.3f us\n",
                   rows[i].weights, (long long)rows[i].m, (long long)rows[i].n,
                   (long long)rows[i].k, s->name, picked < 0 ? "not measured" : "", best);
            if (picked > 0)
                printf("    ratio %.3f\n", picked / best);
        } else if (picked / best > worst) {
            worst = picked / best;
        }
    }
    printf("cuda: %d points, worst accepted ratio %.3f\n", points, worst);
    assert_true(points >= 32);
    assert_int_equal(failures, 0);
}

/* The decode and prefill sweeps of one instruction set. */
static void check_cpu(ug_cpu_isa isa, const char *decode_file, const char *prefill_file,
                      const char *both_file, int *points, int *failures)
{
    static row rows[2 * MAX_ROWS];
    int count = 0;
    const ug_weight_format f = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_F16};
    const ug_schedule_info *dec = NULL, *pre = NULL;
    for (int i = 0; i < ug_schedule_count_all; i++)
        if (ug_schedules[i].backend == UG_BACKEND_CPU && ug_schedules[i].isa == (int)isa) {
            if (ug_schedules[i].family == UG_FAMILY_CPU_DECODE)
                dec = &ug_schedules[i];
            else
                pre = &ug_schedules[i];
        }
    assert_non_null(dec);
    assert_non_null(pre);
    if (both_file) {
        count = read_rows(both_file, NULL, rows);
    } else {
        count = read_rows(decode_file, dec->name, rows);
        count += read_rows(prefill_file, pre->name, rows + count);
    }
    for (int i = 0; i < count; i++) {
        if (strcmp(rows[i].schedule, dec->name) != 0)
            continue;
        const ug_schedule_info *s = ug_heuristic_cpu(isa, rows[i].m, rows[i].n, rows[i].k, &f);
        double picked, best = best_at(rows, count, &rows[i], s->name, &picked);
        (*points)++;
        if (picked < 0 || picked > TOLERANCE * best) {
            (*failures)++;
            printf("cpu %s M=%lld: picks %s (%.1f us), fastest %.1f us\n",
                   ug_cpu_isa_name(isa), (long long)rows[i].m, s->name, picked, best);
        }
    }
}

static void test_cpu_heuristic_matches_sweeps(void **state)
{
    (void)state;
    int points = 0, failures = 0;
    check_cpu(UG_CPU_ISA_AVX2, "cpu-sweep-decode.csv", "cpu-sweep-prefill.csv", NULL, &points,
              &failures);
    check_cpu(UG_CPU_ISA_AVX512, "xeon-h200-host/cpu-sweep-decode.csv",
              "xeon-h200-host/cpu-sweep-prefill.csv", NULL, &points, &failures);
    check_cpu(UG_CPU_ISA_PORTABLE, NULL, NULL, "cpu-portable-sweep.csv", &points, &failures);
    printf("cpu: %d points\n", points);
    assert_true(points >= 20);
    assert_int_equal(failures, 0);
}

/* The generated registry holds the whole default spec: every cuda tile has
 * a kernel for both activation types and all seven weight storage types,
 * every cpu tile for three activation types and seven storage types (the
 * shared library's own test, test_registry, sees cuda only in CUDA builds). */
static void test_registry_table_is_complete(void **state)
{
    (void)state;
    if (ug_spec_restriction[0])
        skip();
    static const ug_dtype storages[7] = {UG_U4, UG_I4, UG_U8, UG_I8, UG_F32, UG_F16, UG_BF16};
    int cuda_tiles = 0, cpu_tiles = 0;
    for (int i = 0; i < ug_schedule_count_all; i++) {
        const ug_schedule_info *s = &ug_schedules[i];
        bool first = true;
        for (int j = 0; j < i; j++)
            first = first && ug_schedules[j].tile != s->tile;
        if (!first)
            continue;
        bool cuda = s->backend == UG_BACKEND_CUDA;
        cuda_tiles += cuda;
        cpu_tiles += !cuda;
        for (ug_dtype act = UG_F32; act <= UG_BF16; act++)
            for (int w = 0; w < 7; w++) {
                if (cuda && act == UG_F32)
                    continue;
                ug_weight_format f = {storages[w], ug_dtype_bits(storages[w]) <= 8 ? UG_METHOD_SYMMETRIC : UG_METHOD_NONE,
                                      ug_dtype_bits(storages[w]) <= 8 ? 64 : 0,
                                      ug_dtype_bits(storages[w]) <= 8 ? UG_F16 : UG_DTYPE_NONE};
                const ug_kernel_info *k;
                char why[512];
                ug_status st = ug_registry_kernel(NULL, s, act, &f, &k, why, sizeof why);
                if (st != UG_OK)
                    fail_msg("%s: %s", s->name, why);
            }
    }
    assert_int_equal(cuda_tiles, 11); /* 4 decode token tiles + 7 wgmma tiles */
    assert_int_equal(cpu_tiles, 6);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_heuristic RESULTS_DIR (bench/results)\n");
        return 2;
    }
    results_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cuda_heuristic_matches_h200_measurements),
        cmocka_unit_test(test_cpu_heuristic_matches_sweeps),
        cmocka_unit_test(test_registry_table_is_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
