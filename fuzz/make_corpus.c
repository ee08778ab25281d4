/*
 * make_corpus.c - writes the seed corpus of the checkpoint fuzz targets:
 * small valid files of every layout the importers read, made with the
 * tests' writers (tests/ckpt_writer.c).
 *   make_fuzz_corpus DIR   writes DIR/safetensors/ and DIR/gguf/
 * The committed corpus in fuzz/corpus was made by it (seed 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt_writer.h"

static uint64_t state = 1;

static uint32_t next(void)
{
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(state >> 33);
}

static void *random_bytes(size_t n)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)next();
    return p;
}

/* f16 scales in [0.01, 0.02) and biases in [-0.5, 0.5). */
static uint16_t *halfs(size_t n, float lo, float span)
{
    uint16_t *p = malloc(n * 2);
    for (size_t i = 0; i < n; i++)
        p[i] = ug_f32_to_f16(lo + span * (float)(next() % 1000) / 1000.0f);
    return p;
}

static int write_seed(const char *dir, const char *name, uint8_t *image, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = image == NULL || tw_write_file(path, image, size);
    free(image);
    if (rc)
        fprintf(stderr, "make_fuzz_corpus: cannot write %s\n", path);
    return rc;
}

static int seed_safetensors(const char *dir, const char *name, const tw_tensor *t, int count)
{
    size_t size = 0;
    uint8_t *image = tw_safetensors_image(t, count, NULL, &size);
    return write_seed(dir, name, image, size);
}

static int seed_gguf(const char *dir, const char *name, const tw_tensor *t, int count,
                     uint32_t alignment)
{
    size_t size = 0;
    uint8_t *image = tw_gguf_image(t, count, alignment, &size);
    return write_seed(dir, name, image, size);
}

/* A canonical 4-bit source [n][k] with group g: random codes, f16 scales,
 * zeros (scale_zero) or biases (scale_bias). */
static ug_weight_source source4(ug_method method, int64_t n, int64_t k, int32_t g)
{
    ug_weight_source s = UG_WEIGHT_SOURCE_INIT;
    size_t groups = (size_t)(n * (k / g));
    s.format = (ug_weight_format){UG_U4, method, g, UG_F16};
    s.n = n;
    s.k = k;
    s.codes = random_bytes((size_t)(n * k / 2));
    s.scales = halfs(groups, 0.01f, 0.01f);
    if (method == UG_METHOD_SCALE_BIAS)
        s.biases = halfs(groups, -0.5f, 1.0f);
    if (method == UG_METHOD_SCALE_ZERO) {
        uint8_t *z = malloc(groups);
        for (size_t i = 0; i < groups; i++)
            z[i] = (uint8_t)(1 + next() % 15);
        s.zeros = z;
    }
    return s;
}

static void source_free(ug_weight_source *s)
{
    free((void *)s->codes);
    free((void *)s->scales);
    free((void *)s->biases);
    free((void *)s->zeros);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_fuzz_corpus DIR\n");
        return 2;
    }
    char st[512], gg[512];
    snprintf(st, sizeof st, "%s/safetensors", argv[1]);
    snprintf(gg, sizeof gg, "%s/gguf", argv[1]);
    mkdir(argv[1], 0755);
    mkdir(st, 0755);
    mkdir(gg, 0755);
    int bad = 0;
    int64_t n = 8, k = 64;

    /* MLX 4-bit g32, with a dense layer and a bias beside it. */
    ug_weight_source mlx = source4(UG_METHOD_SCALE_BIAS, n, k, 32);
    uint32_t *w;
    int64_t cols;
    tw_mlx_pack(&mlx, 4, &w, &cols);
    uint16_t *dense = halfs((size_t)(n * k), -1.0f, 2.0f), *bias = halfs((size_t)n, -1, 2);
    tw_tensor m[5] = {
        {"l.weight", "U32", 0, 2, {n, cols}, w, (size_t)(n * cols) * 4},
        {"l.scales", "F16", 0, 2, {n, k / 32}, mlx.scales, (size_t)(n * k / 32) * 2},
        {"l.biases", "F16", 0, 2, {n, k / 32}, mlx.biases, (size_t)(n * k / 32) * 2},
        {"d.weight", "F16", 0, 2, {n, k}, dense, (size_t)(n * k) * 2},
        {"d.bias", "F16", 0, 1, {n}, bias, (size_t)n * 2},
    };
    bad |= seed_safetensors(st, "mlx_dense.safetensors", m, 5);
    free(w);

    /* AWQ GEMM and GEMV, g32. */
    ug_weight_source awq = source4(UG_METHOD_SCALE_ZERO, n, k, 32);
    int32_t *qw, *qz, *gi;
    uint16_t *sc;
    tw_awq_gemm_pack(&awq, &qw, &qz, &sc);
    tw_tensor a[3] = {
        {"a.qweight", "I32", 0, 2, {k, n / 8}, qw, (size_t)(k * n / 8) * 4},
        {"a.qzeros", "I32", 0, 2, {k / 32, n / 8}, qz, (size_t)(k / 32 * n / 8) * 4},
        {"a.scales", "F16", 0, 2, {k / 32, n}, sc, (size_t)(k / 32 * n) * 2},
    };
    bad |= seed_safetensors(st, "awq_gemm.safetensors", a, 3);
    free(qw);
    free(qz);
    free(sc);
    int64_t zw, sw;
    tw_awq_gemv_pack(&awq, &qw, &qz, &zw, &sc, &sw);
    tw_tensor v[3] = {
        {"v.qweight", "I32", 0, 2, {n, k / 8}, qw, (size_t)(n * k / 8) * 4},
        {"v.qzeros", "I32", 0, 2, {n, zw}, qz, (size_t)(n * zw) * 4},
        {"v.scales", "F16", 0, 2, {n, sw}, sc, (size_t)(n * sw) * 2},
    };
    bad |= seed_safetensors(st, "awq_gemv.safetensors", v, 3);
    free(qw);
    free(qz);
    free(sc);

    /* GPTQ v1 act-order, 4-bit g32. */
    int32_t perm[64];
    for (int i = 0; i < 64; i++)
        perm[i] = i;
    for (int i = 63; i > 0; i--) {
        int j = (int)(next() % (uint32_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    tw_gptq_pack(&awq, 4, 1, perm, &qw, &qz, &sc, &gi);
    tw_tensor g[4] = {
        {"g.qweight", "I32", 0, 2, {k / 8, n}, qw, (size_t)(k / 8 * n) * 4},
        {"g.qzeros", "I32", 0, 2, {k / 32, n / 8}, qz, (size_t)(k / 32 * n / 8) * 4},
        {"g.scales", "F16", 0, 2, {k / 32, n}, sc, (size_t)(k / 32 * n) * 2},
        {"g.g_idx", "I32", 0, 1, {k}, gi, (size_t)k * 4},
    };
    bad |= seed_safetensors(st, "gptq_act_order.safetensors", g, 4);
    free(qw);
    free(qz);
    free(sc);
    free(gi);

    /* GGUF: Q4_0, Q4_1, Q8_0, Q4_K and F16 layers and a 1-D tensor. */
    int64_t kk = 256, nn = 2;
    ug_weight_source q40 = source4(UG_METHOD_SYMMETRIC, nn, kk, 32);
    ug_weight_source q41 = source4(UG_METHOD_SCALE_BIAS, nn, kk, 32);
    ug_weight_source q80 = UG_WEIGHT_SOURCE_INIT;
    q80.format = (ug_weight_format){UG_I8, UG_METHOD_SYMMETRIC, 32, UG_F16};
    q80.n = nn;
    q80.k = kk;
    q80.codes = random_bytes((size_t)(nn * kk));
    q80.scales = halfs((size_t)(nn * kk / 32), 0.01f, 0.01f);
    uint8_t *b40, *b41, *b80, *bk;
    size_t s40, s41, s80, sk;
    tw_gguf_q4_0(&q40, &b40, &s40);
    tw_gguf_q4_1(&q41, &b41, &s41);
    tw_gguf_q8_0(&q80, &b80, &s80);
    uint8_t *kc = random_bytes((size_t)(nn * kk / 2)), *ksc = malloc(16), *km = malloc(16);
    for (int i = 0; i < 16; i++) {
        ksc[i] = (uint8_t)(next() % 64);
        km[i] = (uint8_t)(next() % 64);
    }
    uint16_t *kd = halfs(2, 0.001f, 0.01f), *kdm = halfs(2, 0.0f, 0.01f);
    tw_gguf_q4_k(nn, kk, kc, kd, kdm, ksc, km, &bk, &sk);
    uint16_t *f16 = halfs((size_t)(nn * kk), -1.0f, 2.0f);
    tw_tensor q[6] = {
        {"blk.0.attn_q.weight", NULL, TW_GGML_Q4_0, 2, {nn, kk}, b40, s40},
        {"blk.0.attn_k.weight", NULL, TW_GGML_Q4_1, 2, {nn, kk}, b41, s41},
        {"blk.0.attn_v.weight", NULL, TW_GGML_Q8_0, 2, {nn, kk}, b80, s80},
        {"blk.0.ffn_up.weight", NULL, TW_GGML_Q4_K, 2, {nn, kk}, bk, sk},
        {"output.weight", NULL, TW_GGML_F16, 2, {nn, kk}, f16, (size_t)(nn * kk) * 2},
        {"blk.0.attn_norm.weight", NULL, TW_GGML_F16, 1, {kk}, f16, (size_t)kk * 2},
    };
    bad |= seed_gguf(gg, "quantized.gguf", q, 6, 32);
    bad |= seed_gguf(gg, "q4_k_align64.gguf", &q[3], 1, 64);

    free(b40);
    free(b41);
    free(b80);
    free(bk);
    free(kc);
    free(ksc);
    free(km);
    free(kd);
    free(kdm);
    free(f16);
    free(dense);
    free(bias);
    source_free(&mlx);
    source_free(&awq);
    source_free(&q40);
    source_free(&q41);
    source_free(&q80);
    return bad;
}
