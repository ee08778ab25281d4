/*
 * test_checkpoint.c - checkpoint files written here, in each tool's layout,
 * read back through ug_checkpoint_* exactly. Weights start as random
 * canonical sources; the writers of ckpt_writer.c (written from the tools'
 * own packing code, independently of the importers) turn them into MLX,
 * AutoAWQ GEMM/GEMV, GPTQ v1/v2 (act-order too) and GGUF tensors in
 * safetensors and GGUF files; the import must dequantize (tu_dequant, in
 * f64) to the same weights, column for column through k_perm, and keep the
 * arrays byte for byte where the format is unchanged. Also: layer listing,
 * config.json beside the file, ambiguity refused, an end-to-end GEMM of an
 * act-order layer, and the refusals of bad calls.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_writer.h"
#include "testutil.h"

typedef struct source {
    ug_weight_source src;
    uint8_t *codes, *zeros;
    void *scales, *biases;
} source;

static void source_free(source *s)
{
    free(s->codes);
    free(s->zeros);
    free(s->scales);
    free(s->biases);
}

/* A random canonical source of `fmt`, codes below code_limit (a narrower
 * bit width stored in a wider type), zeros below zero_limit. */
static source make_source(ug_context *ctx, ug_weight_format fmt, int64_t n, int64_t k,
                          unsigned code_limit, unsigned zero_limit, hx_rng *r)
{
    source s = {UG_WEIGHT_SOURCE_INIT, NULL, NULL, NULL, NULL};
    size_t cb, sb, bb, zb;
    assert_int_equal(ug_weight_source_sizes(ctx, &fmt, n, k, &cb, &sb, &bb, &zb), UG_OK);
    s.codes = calloc(cb, 1);
    s.scales = sb ? malloc(sb) : NULL;
    s.biases = bb ? malloc(bb) : NULL;
    s.zeros = zb ? malloc(zb) : NULL;
    bool four = fmt.storage == UG_U4 || fmt.storage == UG_I4;
    if (fmt.method == UG_METHOD_NONE) {
        hx_fill(s.codes, fmt.storage, (size_t)(n * k), 1.0, r);
    } else {
        for (int64_t row = 0; row < n; row++)
            for (int64_t i = 0; i < k; i++) {
                unsigned q = (unsigned)(hx_rng_next(r) % code_limit);
                uint8_t *b = s.codes + (size_t)row * (size_t)(four ? k / 2 : k);
                if (four)
                    b[i / 2] |= (uint8_t)(q << (4 * (i & 1)));
                else
                    b[i] = (uint8_t)q;
            }
        size_t groups = sb / ug_dtype_bits(fmt.scale_type) * 8;
        hx_fill(s.scales, fmt.scale_type, groups, 0.05, r);
        if (s.biases)
            hx_fill(s.biases, fmt.scale_type, groups, 0.5, r);
        for (size_t i = 0; i < zb; i++)
            s.zeros[i] = (uint8_t)(hx_rng_next(r) % zero_limit);
    }
    s.src.format = fmt;
    s.src.n = n;
    s.src.k = k;
    s.src.codes = s.codes;
    s.src.scales = s.scales;
    s.src.biases = s.biases;
    s.src.zeros = s.zeros;
    return s;
}

/* The imported layer dequantizes to `want` [N][K], file column k_perm[j]
 * holding imported column j. */
static void expect_weights(const ug_imported_layer *layer, const double *want, const char *what)
{
    const ug_weight_source *got = ug_imported_layer_source(layer);
    const int32_t *perm = ug_imported_layer_k_perm(layer);
    int64_t n = got->n, k = got->k;
    double *w = malloc((size_t)(n * k) * sizeof *w);
    tu_dequant(got, w);
    long bad = 0;
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < k; j++) {
            double a = w[r * k + j], b = want[r * k + (perm ? perm[j] : j)];
            if (!(a == b || (a != a && b != b)) && bad++ < 3)
                print_message("%s: w[%lld][%lld] = %.9g, want %.9g\n", what, (long long)r,
                              (long long)j, a, b);
        }
    free(w);
    TU_CHECK(bad == 0, "%s: %ld weights differ", what, bad);
}

/* Same arrays byte for byte (when the importer keeps the format). */
static void expect_same_source(ug_context *ctx, const ug_weight_source *got,
                               const ug_weight_source *want, const char *what)
{
    TU_CHECK(memcmp(&got->format, &want->format, sizeof got->format) == 0 && got->n == want->n &&
                 got->k == want->k,
             "%s: format or shape differs", what);
    size_t sizes[4];
    ug_weight_source_sizes(ctx, &want->format, want->n, want->k, &sizes[0], &sizes[1], &sizes[2],
                           &sizes[3]);
    const void *g[4] = {got->codes, got->scales, got->biases, got->zeros};
    const void *w[4] = {want->codes, want->scales, want->biases, want->zeros};
    static const char *names[4] = {"codes", "scales", "biases", "zeros"};
    for (int i = 0; i < 4; i++)
        TU_CHECK(sizes[i] == 0 || memcmp(g[i], w[i], sizes[i]) == 0, "%s: %s differ", what,
                 names[i]);
}

static double *dequant_of(const ug_weight_source *src)
{
    double *w = malloc((size_t)(src->n * src->k) * sizeof *w);
    tu_dequant(src, w);
    return w;
}

static ug_checkpoint *open_image(ug_context *ctx, const uint8_t *image, size_t size)
{
    ug_checkpoint *ck = NULL;
    ug_status st = ug_checkpoint_open_memory(ctx, image, size, &ck);
    TU_CHECK(st == UG_OK, "open: %s", ug_context_last_error(ctx));
    return ck;
}

static ug_imported_layer *import(ug_context *ctx, ug_checkpoint *ck, const char *name,
                                 const ug_import_options *opt)
{
    ug_imported_layer *l = NULL;
    ug_status st = ug_checkpoint_import(ck, name, opt, &l);
    TU_CHECK(st == UG_OK, "import %s: %s", name, ug_context_last_error(ctx));
    return l;
}

/* ---- MLX -------------------------------------------------------------------- */

static void test_mlx_every_width(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    static const int widths[] = {2, 3, 4, 5, 6, 8};
    static const int32_t groups[] = {32, 64, 128};
    static const ug_dtype scale_types[] = {UG_F16, UG_BF16, UG_F32};
    for (size_t wi = 0; wi < 6; wi++)
        for (size_t gi = 0; gi < 3; gi++) {
            int bits = widths[wi];
            int32_t g = groups[gi];
            int64_t n = 7, k = 2 * g;
            ug_weight_format fmt = {bits <= 4 ? UG_U4 : UG_U8, UG_METHOD_SCALE_BIAS, g,
                                    scale_types[(wi + gi) % 3]};
            source s = make_source(ctx, fmt, n, k, 1u << bits, 1, &r);
            uint32_t *weight;
            int64_t cols;
            assert_int_equal(tw_mlx_pack(&s.src, bits, &weight, &cols), 0);
            const char *dt = fmt.scale_type == UG_F16 ? "F16" : fmt.scale_type == UG_BF16 ? "BF16"
                                                                                      : "F32";
            size_t sbytes = (size_t)(n * (k / g)) * tu_float_bytes(fmt.scale_type);
            tw_tensor t[3] = {
                {"model.layers.0.mlp.up_proj.weight", "U32", 0, 2, {n, cols}, weight,
                 (size_t)(n * cols) * 4},
                {"model.layers.0.mlp.up_proj.scales", dt, 0, 2, {n, k / g}, s.scales, sbytes},
                {"model.layers.0.mlp.up_proj.biases", dt, 0, 2, {n, k / g}, s.biases, sbytes},
            };
            size_t size;
            uint8_t *image = tw_safetensors_image(t, 3, NULL, &size);
            ug_checkpoint *ck = open_image(ctx, image, size);
            ug_import_options opt = UG_IMPORT_OPTIONS_INIT;
            opt.bits = bits;
            opt.group_size = g;
            ug_imported_layer *l = import(ctx, ck, "model.layers.0.mlp.up_proj", &opt);
            char what[64];
            snprintf(what, sizeof what, "mlx %d-bit g%d", bits, g);
            expect_same_source(ctx, ug_imported_layer_source(l), &s.src, what);
            double *want = dequant_of(&s.src);
            expect_weights(l, want, what);
            free(want);
            ug_imported_layer_free(l);
            ug_checkpoint_close(ck);
            free(image);
            free(weight);
            source_free(&s);
        }
    ug_context_destroy(ctx);
}

/* Without a config, shapes that fit several (bits, group) pairs are refused
 * with UG_ERR_AMBIGUOUS naming them; config.json beside the file settles it,
 * per layer too. */
static void test_mlx_config_settles_bits(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    int64_t n = 5, k = 256;
    ug_weight_format fmt4 = {UG_U4, UG_METHOD_SCALE_BIAS, 64, UG_F16};
    ug_weight_format fmt8 = {UG_U8, UG_METHOD_SCALE_BIAS, 32, UG_F16};
    source a = make_source(ctx, fmt4, n, k, 16, 1, &r);
    source b = make_source(ctx, fmt8, n, k / 2, 256, 1, &r); /* same tensor shapes as a */
    uint32_t *wa, *wb;
    int64_t ca, cb;
    assert_int_equal(tw_mlx_pack(&a.src, 4, &wa, &ca), 0);
    assert_int_equal(tw_mlx_pack(&b.src, 8, &wb, &cb), 0);
    assert_int_equal(ca, cb);
    size_t sb = (size_t)(n * 4) * 2;
    tw_tensor t[6] = {
        {"a.weight", "U32", 0, 2, {n, ca}, wa, (size_t)(n * ca) * 4},
        {"a.scales", "F16", 0, 2, {n, 4}, a.scales, sb},
        {"a.biases", "F16", 0, 2, {n, 4}, a.biases, sb},
        {"b.weight", "U32", 0, 2, {n, cb}, wb, (size_t)(n * cb) * 4},
        {"b.scales", "F16", 0, 2, {n, 4}, b.scales, sb},
        {"b.biases", "F16", 0, 2, {n, 4}, b.biases, sb},
    };
    size_t size;
    uint8_t *image = tw_safetensors_image(t, 6, NULL, &size);
    ug_checkpoint *ck = open_image(ctx, image, size);
    ug_layer_info info;
    assert_int_equal(ug_checkpoint_layer_count(ck), 2);
    assert_int_equal(ug_checkpoint_layer(ck, 0, &info), UG_OK);
    TU_CHECK(info.problem != NULL && strstr(info.problem, "4-bit g64") &&
                 strstr(info.problem, "8-bit g32"),
             "ambiguous layer listed without the choices: %s", info.problem ? info.problem : "");
    ug_imported_layer *l = TU_NOT_NULL;
    TU_EXPECT_ERROR(ctx, ug_checkpoint_import(ck, "a", NULL, &l), UG_ERR_AMBIGUOUS, "bits");
    assert_null(l);
    ug_checkpoint_close(ck);

    char dir[] = "/tmp/ug_ckpt_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], cfg[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    assert_int_equal(tw_write_file(path, image, size), 0);
    const char *json = "{\"model_type\": \"llama\", \"quantization\": {\"group_size\": 64, "
                       "\"bits\": 4, \"b\": {\"group_size\": 32, \"bits\": 8}}}";
    assert_int_equal(tw_write_file(cfg, (const uint8_t *)json, strlen(json)), 0);
    assert_int_equal(ug_checkpoint_open(ctx, path, &ck), UG_OK);
    ug_imported_layer *la = import(ctx, ck, "a.weight", NULL);
    ug_imported_layer *lb = import(ctx, ck, "b", NULL);
    expect_same_source(ctx, ug_imported_layer_source(la), &a.src, "mlx a (config)");
    expect_same_source(ctx, ug_imported_layer_source(lb), &b.src, "mlx b (per-layer config)");
    ug_imported_layer_free(la);
    ug_imported_layer_free(lb);
    ug_checkpoint_close(ck);

    /* A config that is not JSON is an error naming it. */
    assert_int_equal(tw_write_file(cfg, (const uint8_t *)"{\"bits\": 4,", 11), 0);
    ck = TU_NOT_NULL;
    TU_EXPECT_ERROR(ctx, ug_checkpoint_open(ctx, path, &ck), UG_ERR_FILE_FORMAT, "config.json");
    assert_null(ck);
    unlink(cfg);
    unlink(path);
    rmdir(dir);
    free(image);
    free(wa);
    free(wb);
    source_free(&a);
    source_free(&b);
    ug_context_destroy(ctx);
}

/* ---- AWQ ------------------------------------------------------------------- */

static void check_awq(ug_context *ctx, bool gemv, int32_t g, bool symmetric, hx_rng *r)
{
    int64_t n = 24, k = g == UG_GROUP_PER_CHANNEL ? 256 : 3 * g;
    int64_t gs = g == UG_GROUP_PER_CHANNEL ? k : g, groups = k / gs;
    ug_weight_format fmt = {UG_U4, UG_METHOD_SCALE_ZERO, g, UG_F16};
    source s = make_source(ctx, fmt, n, k, 16, 16, r);
    if (symmetric)
        memset(s.zeros, 8, (size_t)(n * groups));
    int32_t *qw, *qz;
    uint16_t *sc;
    int64_t zw = groups, sw = groups;
    tw_tensor t[3];
    if (gemv) {
        assert_int_equal(tw_awq_gemv_pack(&s.src, &qw, &qz, &zw, &sc, &sw), 0);
        t[0] = (tw_tensor){"l.qweight", "I32", 0, 2, {n, k / 8}, qw, (size_t)(n * k / 8) * 4};
        t[1] = (tw_tensor){"l.qzeros", "I32", 0, 2, {n, zw}, qz, (size_t)(n * zw) * 4};
        t[2] = (tw_tensor){"l.scales", "F16", 0, 2, {n, sw}, sc, (size_t)(n * sw) * 2};
    } else {
        assert_int_equal(tw_awq_gemm_pack(&s.src, &qw, &qz, &sc), 0);
        t[0] = (tw_tensor){"l.qweight", "I32", 0, 2, {k, n / 8}, qw, (size_t)(k * n / 8) * 4};
        t[1] = (tw_tensor){"l.qzeros", "I32", 0, 2, {groups, n / 8}, qz,
                           (size_t)(groups * n / 8) * 4};
        t[2] = (tw_tensor){"l.scales", "F16", 0, 2, {groups, n}, sc, (size_t)(groups * n) * 2};
    }
    size_t size;
    uint8_t *image = tw_safetensors_image(t, 3, NULL, &size);
    ug_checkpoint *ck = open_image(ctx, image, size);
    ug_layer_info info;
    assert_int_equal(ug_checkpoint_layer(ck, 0, &info), UG_OK);
    char what[64];
    snprintf(what, sizeof what, "awq-%s g%d%s", gemv ? "gemv" : "gemm", g,
             symmetric ? " symmetric" : "");
    bool listed_ambiguous = gemv && g == UG_GROUP_PER_CHANNEL;
    TU_CHECK(listed_ambiguous || (strcmp(info.source, gemv ? "awq-gemv" : "awq-gemm") == 0 &&
                                  info.n == n && info.k == k && info.bits == 4 &&
                                  info.group_size == gs),
             "%s: listed as %s %lldx%lld bits %d group %d (%s)", what, info.source,
             (long long)info.n, (long long)info.k, info.bits, info.group_size,
             info.problem ? info.problem : "");
    /* GEMV per channel (which AutoAWQ's packer refuses but a loader may
     * meet) is read as such only when the config or the options say so: up
     * to K = 1024 its padded widths equal g128's. */
    ug_import_options opt = UG_IMPORT_OPTIONS_INIT;
    opt.group_size = gemv && g == UG_GROUP_PER_CHANNEL ? UG_GROUP_PER_CHANNEL : 0;
    ug_imported_layer *l = import(ctx, ck, "l", &opt);
    const ug_weight_source *got = ug_imported_layer_source(l);
    TU_CHECK(got->format.method == (symmetric ? UG_METHOD_SYMMETRIC : UG_METHOD_SCALE_ZERO),
             "%s: method %s", what, ug_method_name(got->format.method));
    if (!symmetric)
        expect_same_source(ctx, got, &s.src, what);
    double *want = dequant_of(&s.src);
    expect_weights(l, want, what);
    free(want);
    ug_imported_layer_free(l);
    ug_checkpoint_close(ck);
    free(image);
    free(qw);
    free(qz);
    free(sc);
    source_free(&s);
}

static void test_awq_gemm_and_gemv(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    static const int32_t groups[] = {32, 64, 128, UG_GROUP_PER_CHANNEL};
    for (int gemv = 0; gemv < 2; gemv++)
        for (int gi = 0; gi < 4; gi++)
            for (int sym = 0; sym < 2; sym++)
                check_awq(ctx, gemv, groups[gi], sym, &r);
    ug_context_destroy(ctx);
}

/* ---- GPTQ ------------------------------------------------------------------ */

/* A random permutation of 0..k-1. */
static int32_t *random_perm(int64_t k, hx_rng *r)
{
    int32_t *p = malloc((size_t)k * sizeof *p);
    for (int64_t i = 0; i < k; i++)
        p[i] = (int32_t)i;
    for (int64_t i = k - 1; i > 0; i--) {
        int64_t j = (int64_t)(hx_rng_next(r) % (uint64_t)(i + 1));
        int32_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    return p;
}

typedef struct gptq_case {
    int bits, version;
    int32_t group;
    bool act_order, symmetric, zero_past_range;
} gptq_case;

static void check_gptq(ug_context *ctx, gptq_case c, hx_rng *r)
{
    int64_t n = 19, k = c.group == UG_GROUP_PER_CHANNEL ? 256 : 2 * c.group;
    int64_t gs = c.group == UG_GROUP_PER_CHANNEL ? k : c.group, groups = k / gs;
    /* N must fill the qzeros words: a multiple of 32 / bits. */
    n = (n + 32 / c.bits - 1) / (32 / c.bits) * (32 / c.bits);
    ug_dtype storage = c.bits <= 4 ? UG_U4 : UG_U8;
    ug_weight_format fmt = {storage, UG_METHOD_SCALE_ZERO, c.group, UG_F16};
    unsigned limit = 1u << c.bits;
    /* v1 cannot store a zero of 0 (it would read back as 2^bits). */
    source s = make_source(ctx, fmt, n, k, limit, limit, r);
    for (int64_t i = 0; i < n * groups; i++) {
        if (c.version == 1 && s.zeros[i] == 0)
            s.zeros[i] = 1;
        if (c.symmetric)
            s.zeros[i] = (uint8_t)(limit / 2);
    }
    int32_t *perm = c.act_order ? random_perm(k, r) : NULL;
    /* The weights the file means, for a zero of 2^bits in one group
     * (possible in v1 only): computed here as s * (q - 2^bits). */
    double *want = dequant_of(&s.src);
    int32_t *qw, *qz, *gi;
    uint16_t *sc;
    if (c.zero_past_range) {
        int64_t row = 3, grp = groups - 1;
        for (int64_t j = grp * gs; j < (grp + 1) * gs; j++) {
            double scale = tu_load(s.scales, UG_F16, (size_t)(row * groups + grp));
            int32_t q = tu_code(s.codes + row * (storage == UG_U4 ? k / 2 : k),
                                storage == UG_U4 ? 4 : 8, false, j);
            want[row * k + j] = scale * (q - (double)limit);
        }
        /* v1 stores z - 1 within the field: a zero of 0 is written as all
         * ones, which AutoGPTQ's own dequant reads back as 2^bits. */
        s.zeros[row * groups + grp] = 0;
    }
    /* want is in canonical order; the expectation is in file order. */
    double *want_file = malloc((size_t)(n * k) * sizeof *want_file);
    for (int64_t row = 0; row < n; row++)
        for (int64_t j = 0; j < k; j++)
            want_file[row * k + (perm ? perm[j] : j)] = want[row * k + j];
    assert_int_equal(tw_gptq_pack(&s.src, c.bits, c.version, perm, &qw, &qz, &sc, &gi), 0);
    int64_t per = 32 / c.bits;
    tw_tensor t[4] = {
        {"m.q_proj.qweight", "I32", 0, 2, {k / per, n}, qw, (size_t)(k / per * n) * 4},
        {"m.q_proj.qzeros", "I32", 0, 2, {groups, n / per}, qz, (size_t)(groups * n / per) * 4},
        {"m.q_proj.scales", "F16", 0, 2, {groups, n}, sc, (size_t)(groups * n) * 2},
        {"m.q_proj.g_idx", "I32", 0, 1, {k}, gi, (size_t)k * 4},
    };
    size_t size;
    uint8_t *image = tw_safetensors_image(t, 4, NULL, &size);
    ug_checkpoint *ck = open_image(ctx, image, size);
    char what[96];
    snprintf(what, sizeof what, "gptq v%d %d-bit g%d%s%s%s", c.version, c.bits, c.group,
             c.act_order ? " act-order" : "", c.symmetric ? " sym" : "",
             c.zero_past_range ? " zero 2^bits" : "");
    /* With one group every order is act-order's: the file's columns are
     * then read as they stand. */
    bool act_order = c.act_order && groups > 1;
    ug_layer_info info;
    assert_int_equal(ug_checkpoint_layer(ck, 0, &info), UG_OK);
    TU_CHECK(strcmp(info.source, "gptq") == 0 && info.bits == c.bits && info.n == n &&
                 info.k == k && info.act_order == act_order && info.group_size == gs,
             "%s: listed as %s bits %d %lldx%lld act-order %d (%s)", what, info.source,
             info.bits, (long long)info.n, (long long)info.k, info.act_order,
             info.problem ? info.problem : "");
    ug_import_options opt = UG_IMPORT_OPTIONS_INIT;
    opt.gptq_version = c.version;
    ug_imported_layer *l = import(ctx, ck, "m.q_proj.qweight", &opt);
    const ug_weight_source *got = ug_imported_layer_source(l);
    ug_method method = c.zero_past_range                     ? UG_METHOD_SCALE_BIAS
                       : c.symmetric && c.bits == (storage == UG_U4 ? 4 : 8) ? UG_METHOD_SYMMETRIC
                                                                               : UG_METHOD_SCALE_ZERO;
    TU_CHECK(got->format.method == method, "%s: method %s", what,
             ug_method_name(got->format.method));
    TU_CHECK(act_order == (ug_imported_layer_k_perm(l) != NULL), "%s: k_perm %s", what,
             act_order ? "missing" : "present");
    /* Act-order: k_perm lists every file column once, group by group (the
     * order within a group is free, so the arrays are compared through the
     * weights only). */
    const int32_t *kp = ug_imported_layer_k_perm(l);
    if (kp != NULL) {
        char *seen = calloc((size_t)k, 1);
        bool ok = true;
        for (int64_t j = 0; j < k; j++) {
            ok &= kp[j] >= 0 && kp[j] < k && !seen[kp[j]] && gi[kp[j]] == j / gs;
            if (kp[j] >= 0 && kp[j] < k)
                seen[kp[j]] = 1;
        }
        free(seen);
        TU_CHECK(ok, "%s: k_perm is not a permutation sorting K by g_idx", what);
    }
    if (method == UG_METHOD_SCALE_ZERO && perm == NULL)
        expect_same_source(ctx, got, &s.src, what);
    expect_weights(l, want_file, what);
    /* The same file read as the other version gives other zero points. */
    if (!c.zero_past_range && !c.symmetric) {
        opt.gptq_version = 3 - c.version;
        ug_imported_layer *other = import(ctx, ck, "m.q_proj", &opt);
        const ug_weight_source *o = ug_imported_layer_source(other);
        TU_CHECK(o->zeros == NULL || memcmp(o->zeros, got->zeros, (size_t)(n * groups)) != 0,
                 "%s: v1 and v2 read the same zero points", what);
        ug_imported_layer_free(other);
    }
    ug_imported_layer_free(l);
    ug_checkpoint_close(ck);
    free(image);
    free(qw);
    free(qz);
    free(sc);
    free(gi);
    free(perm);
    free(want);
    free(want_file);
    source_free(&s);
}

static void test_gptq_versions_bits_act_order(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    static const int bits[] = {2, 4, 8};
    static const int32_t groups[] = {32, 128, UG_GROUP_PER_CHANNEL};
    for (int bi = 0; bi < 3; bi++)
        for (int gi = 0; gi < 3; gi++)
            for (int v = 1; v <= 2; v++)
                for (int act = 0; act < 2; act++)
                    for (int sym = 0; sym < 2; sym++)
                        check_gptq(ctx,
                                   (gptq_case){bits[bi], v, groups[gi], act, sym, false},
                                   &r);
    /* v1's all-ones field: zero 2^bits, imported as scale_bias f32. */
    check_gptq(ctx, (gptq_case){4, 1, 32, true, false, true}, &r);
    check_gptq(ctx, (gptq_case){8, 1, 64, false, false, true}, &r);
    ug_context_destroy(ctx);
}

/* GPTQModel's v2 files say so in quantize_config.json (checkpoint_format):
 * read from beside the file, the true zeros come back without options. */
static void test_gptq_version_from_config(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    int64_t n = 16, k = 64, groups = 2;
    source s = make_source(ctx, (ug_weight_format){UG_U4, UG_METHOD_SCALE_ZERO, 32, UG_F16}, n,
                           k, 16, 16, &r);
    int32_t *qw, *qz, *gi;
    uint16_t *sc;
    assert_int_equal(tw_gptq_pack(&s.src, 4, 2, NULL, &qw, &qz, &sc, &gi), 0);
    tw_tensor t[3] = {
        {"q.qweight", "I32", 0, 2, {k / 8, n}, qw, (size_t)(k / 8 * n) * 4},
        {"q.qzeros", "I32", 0, 2, {groups, n / 8}, qz, (size_t)(groups * n / 8) * 4},
        {"q.scales", "F16", 0, 2, {groups, n}, sc, (size_t)(groups * n) * 2},
    };
    size_t size;
    uint8_t *image = tw_safetensors_image(t, 3, NULL, &size);
    char dir[] = "/tmp/ug_gptq_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], cfg[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(cfg, sizeof cfg, "%s/quantize_config.json", dir);
    const char *json = "{\"bits\": 4, \"group_size\": 32, \"sym\": false, "
                       "\"checkpoint_format\": \"gptq_v2\"}";
    assert_int_equal(tw_write_file(path, image, size), 0);
    assert_int_equal(tw_write_file(cfg, (const uint8_t *)json, strlen(json)), 0);
    ug_checkpoint *ck;
    assert_int_equal(ug_checkpoint_open(ctx, path, &ck), UG_OK);
    ug_imported_layer *l = import(ctx, ck, "q", NULL);
    expect_same_source(ctx, ug_imported_layer_source(l), &s.src, "gptq v2 from its config");
    ug_imported_layer_free(l);
    ug_checkpoint_close(ck);
    unlink(cfg);
    unlink(path);
    rmdir(dir);
    free(image);
    free(qw);
    free(qz);
    free(sc);
    free(gi);
    source_free(&s);
    ug_context_destroy(ctx);
}

/* ---- GGUF ------------------------------------------------------------------ */

static void test_gguf_types(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    int64_t n = 5, k = 512;
    source q40 = make_source(ctx, (ug_weight_format){UG_U4, UG_METHOD_SYMMETRIC, 32, UG_F16}, n,
                             k, 16, 1, &r);
    source q41 = make_source(ctx, (ug_weight_format){UG_U4, UG_METHOD_SCALE_BIAS, 32, UG_F16}, n,
                             k, 16, 1, &r);
    source q80 = make_source(ctx, (ug_weight_format){UG_I8, UG_METHOD_SYMMETRIC, 32, UG_F16}, n,
                             k, 256, 1, &r);
    source f16 = make_source(ctx, (ug_weight_format){UG_F16, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
                             n, k, 1, 1, &r);
    source bf16 = make_source(ctx, (ug_weight_format){UG_BF16, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
                              n, k, 1, 1, &r);
    source f32 = make_source(ctx, (ug_weight_format){UG_F32, UG_METHOD_NONE, 0, UG_DTYPE_NONE},
                             n, k, 1, 1, &r);
    /* Q4_K from its own parameters. */
    size_t supers = (size_t)(n * k / 256), subs = (size_t)(n * k / 32);
    uint8_t *kcodes = malloc((size_t)(n * k / 2)), *ksc = malloc(subs), *km = malloc(subs);
    uint16_t *kd = malloc(supers * 2), *kdmin = malloc(supers * 2);
    for (size_t i = 0; i < (size_t)(n * k / 2); i++)
        kcodes[i] = (uint8_t)hx_rng_next(&r);
    for (size_t i = 0; i < subs; i++) {
        ksc[i] = (uint8_t)(hx_rng_next(&r) % 64);
        km[i] = (uint8_t)(hx_rng_next(&r) % 64);
    }
    for (size_t i = 0; i < supers; i++) {
        kd[i] = ug_f32_to_f16((float)(0.001 + 0.01 * hx_rng_uniform(&r)));
        kdmin[i] = ug_f32_to_f16((float)(0.01 * hx_rng_uniform(&r)));
    }
    uint8_t *b40, *b41, *b80, *bk;
    size_t s40, s41, s80, sk;
    assert_int_equal(tw_gguf_q4_0(&q40.src, &b40, &s40), 0);
    assert_int_equal(tw_gguf_q4_1(&q41.src, &b41, &s41), 0);
    assert_int_equal(tw_gguf_q8_0(&q80.src, &b80, &s80), 0);
    assert_int_equal(tw_gguf_q4_k(n, k, kcodes, kd, kdmin, ksc, km, &bk, &sk), 0);
    tw_tensor t[8] = {
        {"blk.0.attn_q.weight", NULL, 2, 2, {n, k}, b40, s40},
        {"blk.0.attn_k.weight", NULL, 3, 2, {n, k}, b41, s41},
        {"blk.0.attn_v.weight", NULL, 8, 2, {n, k}, b80, s80},
        {"blk.0.ffn_up.weight", NULL, 12, 2, {n, k}, bk, sk},
        {"blk.0.ffn_down.weight", NULL, 1, 2, {n, k}, f16.codes, (size_t)(n * k) * 2},
        {"blk.0.ffn_gate.weight", NULL, 30, 2, {n, k}, bf16.codes, (size_t)(n * k) * 2},
        {"output.weight", NULL, 0, 2, {n, k}, f32.codes, (size_t)(n * k) * 4},
        {"blk.0.attn_norm.weight", NULL, 0, 1, {k}, f32.codes, (size_t)k * 4},
    };
    size_t size;
    uint8_t *image = tw_gguf_image(t, 8, 64, &size);
    ug_checkpoint *ck = open_image(ctx, image, size);
    assert_string_equal(ug_checkpoint_kind(ck), "gguf");
    assert_int_equal(ug_checkpoint_tensor_count(ck), 8);
    assert_int_equal(ug_checkpoint_layer_count(ck), 7); /* the 1-D norm is no layer */
    ug_tensor_info ti;
    assert_int_equal(ug_checkpoint_tensor(ck, 3, &ti), UG_OK);
    TU_CHECK(strcmp(ti.dtype, "Q4_K") == 0 && ti.ndim == 2 && ti.shape[0] == n &&
                 ti.shape[1] == k && ti.bytes == sk && ti.offset % 64 == 0,
             "tensor 3 listed as %s [%lld, %lld] %llu bytes at %llu", ti.dtype,
             (long long)ti.shape[0], (long long)ti.shape[1], (unsigned long long)ti.bytes,
             (unsigned long long)ti.offset);
    const source *plain[] = {&q40, &q41, &q80, NULL, &f16, &bf16, &f32};
    for (int i = 0; i < 7; i++) {
        ug_layer_info info;
        ug_checkpoint_layer(ck, (size_t)i, &info);
        TU_CHECK(info.problem == NULL && info.n == n && info.k == k, "%s: %s", t[i].name,
                 info.problem ? info.problem : "wrong shape");
        ug_imported_layer *l = import(ctx, ck, t[i].name, NULL);
        if (plain[i] != NULL) {
            expect_same_source(ctx, ug_imported_layer_source(l), &plain[i]->src, t[i].name);
            double *want = dequant_of(&plain[i]->src);
            expect_weights(l, want, t[i].name);
            free(want);
        } else {
            /* w = d*sc*q - dmin*m, in f64 from the parameters. */
            double *want = malloc((size_t)(n * k) * sizeof *want);
            for (int64_t row = 0; row < n; row++)
                for (int64_t j = 0; j < k; j++) {
                    size_t sup = (size_t)(row * (k / 256) + j / 256);
                    size_t sub = (size_t)(row * (k / 32) + j / 32);
                    int32_t q = tu_code(kcodes + row * (k / 2), 4, false, j);
                    want[row * k + j] = tu_f16_value(kd[sup]) * ksc[sub] * q -
                                        tu_f16_value(kdmin[sup]) * km[sub];
                }
            expect_weights(l, want, "Q4_K");
            free(want);
        }
        ug_imported_layer_free(l);
    }
    ug_checkpoint_close(ck);
    free(image);
    free(b40);
    free(b41);
    free(b80);
    free(bk);
    free(kcodes);
    free(ksc);
    free(km);
    free(kd);
    free(kdmin);
    source *all[] = {&q40, &q41, &q80, &f16, &bf16, &f32};
    for (int i = 0; i < 6; i++)
        source_free(all[i]);
    ug_context_destroy(ctx);
}

/* ---- end to end -------------------------------------------------------------- */

/* An act-order GPTQ layer with a bias, imported, packed on the cpu backend
 * and run with X's columns permuted by k_perm: Y matches X . W_file^T + bias
 * computed here in f64 from the file-order weights. */
static void test_act_order_gemm_end_to_end(void **state)
{
    (void)state;
    hx_rng r = tu_rng(__func__);
    ug_context *ref = tu_context(UG_BACKEND_REF, 1), *cpu = tu_context(UG_BACKEND_CPU, 2);
    int64_t n = 40, k = 256, m = 3, groups = 2;
    ug_weight_format fmt = {UG_U4, UG_METHOD_SCALE_ZERO, 128, UG_F16};
    source s = make_source(ref, fmt, n, k, 16, 15, &r);
    for (int64_t i = 0; i < n * groups; i++)
        s.zeros[i]++; /* 1..15: storable in v1 */
    int32_t *perm = random_perm(k, &r);
    int32_t *qw, *qz, *gi;
    uint16_t *sc;
    assert_int_equal(tw_gptq_pack(&s.src, 4, 1, perm, &qw, &qz, &sc, &gi), 0);
    float bias[40];
    for (int i = 0; i < n; i++)
        bias[i] = (float)(hx_rng_uniform(&r) - 0.5);
    tw_tensor t[5] = {
        {"p.qweight", "I32", 0, 2, {k / 8, n}, qw, (size_t)(k / 8 * n) * 4},
        {"p.qzeros", "I32", 0, 2, {groups, n / 8}, qz, (size_t)(groups * n / 8) * 4},
        {"p.scales", "F16", 0, 2, {groups, n}, sc, (size_t)(groups * n) * 2},
        {"p.g_idx", "I32", 0, 1, {k}, gi, (size_t)k * 4},
        {"p.bias", "F32", 0, 1, {n}, bias, sizeof bias},
    };
    size_t size;
    uint8_t *image = tw_safetensors_image(t, 5, NULL, &size);
    ug_checkpoint *ck = open_image(cpu, image, size);
    ug_imported_layer *l = import(cpu, ck, "p", NULL);
    ug_dtype bt;
    const void *lb = ug_imported_layer_bias(l, &bt);
    TU_CHECK(lb != NULL && bt == UG_F32 && memcmp(lb, bias, sizeof bias) == 0,
             "the layer's bias was not imported");
    const int32_t *kp = ug_imported_layer_k_perm(l);
    assert_non_null(kp);

    double *w = dequant_of(&s.src), *w_file = malloc((size_t)(n * k) * sizeof *w_file);
    for (int64_t row = 0; row < n; row++)
        for (int64_t j = 0; j < k; j++)
            w_file[row * k + perm[j]] = w[row * k + j];
    float *x = malloc((size_t)(m * k) * sizeof *x), *xp = malloc((size_t)(m * k) * sizeof *xp);
    float y[3 * 40];
    hx_fill(x, UG_F32, (size_t)(m * k), 1.0, &r);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++)
            xp[i * k + j] = x[i * k + kp[j]];
    ug_packed_weights *pw;
    ug_plan *plan;
    ug_gemm_desc d = UG_GEMM_DESC_INIT;
    d.m = m;
    d.n = n;
    d.k = k;
    d.has_bias = 1;
    d.bias_type = UG_F32;
    assert_int_equal(ug_weights_pack(cpu, ug_imported_layer_source(l), &pw), UG_OK);
    assert_int_equal(ug_plan_create(cpu, &d, pw, NULL, &plan), UG_OK);
    assert_int_equal(ug_plan_execute(plan, pw, xp, y, bias, NULL, 0), UG_OK);
    double worst = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double want = bias[j], scale = 0;
            for (int64_t kk = 0; kk < k; kk++) {
                want += (double)x[i * k + kk] * w_file[j * k + kk];
                scale += fabs((double)x[i * k + kk] * w_file[j * k + kk]);
            }
            double err = fabs(y[i * n + j] - want) / (scale + 1e-30);
            worst = err > worst ? err : worst;
        }
    TU_CHECK(worst < 1e-5, "act-order GEMM: worst error %.3g of the products' size", worst);
    ug_plan_destroy(plan);
    ug_weights_destroy(pw);
    ug_imported_layer_free(l);
    ug_checkpoint_close(ck);
    free(image);
    free(qw);
    free(qz);
    free(sc);
    free(gi);
    free(perm);
    free(w);
    free(w_file);
    free(x);
    free(xp);
    source_free(&s);
    ug_context_destroy(ref);
    ug_context_destroy(cpu);
}

/* ---- bad calls ------------------------------------------------------------- */

static void test_bad_calls(void **state)
{
    (void)state;
    ug_context *ctx = tu_context(UG_BACKEND_REF, 1);
    float w[4] = {1, 2, 3, 4};
    tw_tensor t[1] = {{"x.weight", "F32", 0, 2, {2, 2}, w, sizeof w}};
    size_t size;
    uint8_t *image = tw_safetensors_image(t, 1, NULL, &size);
    ug_checkpoint *ck = TU_NOT_NULL;
    TU_EXPECT_ERROR(ctx, ug_checkpoint_open(ctx, "/nonexistent/model.safetensors", &ck),
                    UG_ERR_FILE_IO, "/nonexistent/model.safetensors");
    assert_null(ck);
    TU_EXPECT_ERROR(ctx, ug_checkpoint_open(ctx, "/tmp", &ck), UG_ERR_FILE_IO, "regular");
    TU_EXPECT_ERROR(ctx, ug_checkpoint_open(ctx, NULL, &ck), UG_ERR_NULL_ARGUMENT, "path");
    assert_int_equal(ug_checkpoint_open_memory(NULL, image, size, &ck), UG_ERR_NULL_ARGUMENT);
    ck = open_image(ctx, image, size);
    ug_imported_layer *l = TU_NOT_NULL;
    TU_EXPECT_ERROR(ctx, ug_checkpoint_import(ck, "y", NULL, &l), UG_ERR_MISSING_TENSOR, "'y'");
    assert_null(l);
    ug_import_options opt = UG_IMPORT_OPTIONS_INIT;
    opt.struct_version = 99;
    TU_EXPECT_ERROR(ctx, ug_checkpoint_import(ck, "x", &opt, &l), UG_ERR_STRUCT_VERSION, "99");
    opt = (ug_import_options)UG_IMPORT_OPTIONS_INIT;
    opt.gptq_version = 7;
    TU_EXPECT_ERROR(ctx, ug_checkpoint_import(ck, "x", &opt, &l), UG_ERR_INVALID_VALUE,
                    "gptq_version");
    ug_tensor_info ti;
    TU_EXPECT_ERROR(ctx, ug_checkpoint_tensor(ck, 1, &ti), UG_ERR_INVALID_VALUE, "index 1");
    l = import(ctx, ck, "x", NULL);
    const ug_weight_source *src = ug_imported_layer_source(l);
    TU_CHECK(src->format.storage == UG_F32 && src->n == 2 && src->k == 2 &&
                 memcmp(src->codes, w, sizeof w) == 0,
             "dense f32 layer not imported as it is");
    ug_imported_layer_free(l);
    ug_checkpoint_close(ck);
    ug_checkpoint_close(NULL);
    ug_imported_layer_free(NULL);
    free(image);
    ug_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlx_every_width),
        cmocka_unit_test(test_mlx_config_settles_bits),
        cmocka_unit_test(test_awq_gemm_and_gemv),
        cmocka_unit_test(test_gptq_versions_bits_act_order),
        cmocka_unit_test(test_gptq_version_from_config),
        cmocka_unit_test(test_gguf_types),
        cmocka_unit_test(test_act_order_gemm_end_to_end),
        cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
