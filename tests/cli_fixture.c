/*
 * cli_fixture.c - files for the CLI tests of `unigemm inspect` and
 * `unigemm run`, and the check of what run wrote.
 *   cli_fixture write DIR
 *       DIR/gptq.safetensors  an act-order GPTQ v1 layer "model.q_proj",
 *                             4-bit g32, N = 40, K = 128, with a bias
 *       DIR/x.npy             X [3, 128]; DIR/x_wrong_k.npy X [3, 100]
 *       DIR/y_want.npy        X . W^T + bias in f64 from the file-order
 *                             weights (tu_dequant of the source the file was
 *                             written from)
 *       DIR/truncated.safetensors  the layer file cut in its header
 *   cli_fixture compare GOT.npy WANT.npy TOL
 *       exit 0 when max |got - want| <= TOL * max |want|, shapes equal
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_writer.h"
#include "npy.h"
#include "testutil.h"

enum { N = 40, K = 128, M = 3, G = 32 };

static int write_files(const char *dir)
{
    hx_rng r = hx_rng_seed(11);
    uint8_t codes[N * K / 2], zeros[N * K / G];
    uint16_t scales[N * K / G];
    for (size_t i = 0; i < sizeof codes; i++)
        codes[i] = (uint8_t)hx_rng_next(&r);
    for (size_t i = 0; i < N * K / G; i++) {
        zeros[i] = (uint8_t)(1 + hx_rng_next(&r) % 15);
        scales[i] = ug_f32_to_f16((float)(0.01 + 0.02 * hx_rng_uniform(&r)));
    }
    ug_weight_source src = UG_WEIGHT_SOURCE_INIT;
    src.format = (ug_weight_format){UG_U4, UG_METHOD_SCALE_ZERO, G, UG_F16};
    src.n = N;
    src.k = K;
    src.codes = codes;
    src.scales = scales;
    src.zeros = zeros;
    int32_t perm[K];
    for (int i = 0; i < K; i++)
        perm[i] = i;
    for (int i = K - 1; i > 0; i--) {
        int j = (int)(hx_rng_next(&r) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int32_t *qw, *qz, *gi;
    uint16_t *sc;
    if (tw_gptq_pack(&src, 4, 1, perm, &qw, &qz, &sc, &gi) != 0)
        return 1;
    float bias[N], x[M * K], y[M * N];
    for (int i = 0; i < N; i++)
        bias[i] = (float)(hx_rng_uniform(&r) - 0.5);
    for (int i = 0; i < M * K; i++)
        x[i] = (float)hx_rng_normal(&r);
    static double w[N * K], w_file[N * K];
    tu_dequant(&src, w);
    for (int n = 0; n < N; n++)
        for (int j = 0; j < K; j++)
            w_file[n * K + perm[j]] = w[n * K + j];
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double acc = bias[n];
            for (int k = 0; k < K; k++)
                acc += (double)x[m * K + k] * w_file[n * K + k];
            y[m * N + n] = (float)acc;
        }
    tw_tensor t[5] = {
        {"model.q_proj.qweight", "I32", 0, 2, {K / 8, N}, qw, (size_t)(K / 8 * N) * 4},
        {"model.q_proj.qzeros", "I32", 0, 2, {K / G, N / 8}, qz, (size_t)(K / G * N / 8) * 4},
        {"model.q_proj.scales", "F16", 0, 2, {K / G, N}, sc, (size_t)(K / G * N) * 2},
        {"model.q_proj.g_idx", "I32", 0, 1, {K}, gi, (size_t)K * 4},
        {"model.q_proj.bias", "F32", 0, 1, {N}, bias, sizeof bias},
    };
    size_t size = 0;
    uint8_t *image = tw_safetensors_image(t, 5, NULL, &size);
    char path[512], err[256];
    int bad = image == NULL;
    snprintf(path, sizeof path, "%s/gptq.safetensors", dir);
    bad |= image == NULL || tw_write_file(path, image, size);
    snprintf(path, sizeof path, "%s/truncated.safetensors", dir);
    bad |= image == NULL || tw_write_file(path, image, 40);
    snprintf(path, sizeof path, "%s/x.npy", dir);
    bad |= npy_write_f32(path, x, M, K, err, sizeof err);
    snprintf(path, sizeof path, "%s/x_wrong_k.npy", dir);
    bad |= npy_write_f32(path, x, M, 100, err, sizeof err);
    snprintf(path, sizeof path, "%s/y_want.npy", dir);
    bad |= npy_write_f32(path, y, M, N, err, sizeof err);
    free(image);
    free(qw);
    free(qz);
    free(sc);
    free(gi);
    if (bad)
        fprintf(stderr, "cli_fixture: cannot write the files in %s\n", dir);
    return bad;
}

static int compare(const char *got_path, const char *want_path, double tol)
{
    char err[512];
    int64_t gr, gc, wr, wc;
    float *got = NULL, *want = NULL;
    if (npy_read_f32(got_path, &gr, &gc, &got, err, sizeof err) != 0 ||
        npy_read_f32(want_path, &wr, &wc, &want, err, sizeof err) != 0) {
        fprintf(stderr, "cli_fixture: %s\n", err);
        free(got);
        return 1;
    }
    int rc = 0;
    if (gr != wr || gc != wc) {
        fprintf(stderr, "cli_fixture: %s is %lldx%lld, %s %lldx%lld\n", got_path, (long long)gr,
                (long long)gc, want_path, (long long)wr, (long long)wc);
        rc = 1;
    } else {
        double max_err = 0, max_want = 0;
        for (int64_t i = 0; i < gr * gc; i++) {
            max_err = fmax(max_err, fabs((double)got[i] - want[i]));
            max_want = fmax(max_want, fabs((double)want[i]));
        }
        printf("max error %.3g, max |want| %.3g\n", max_err, max_want);
        rc = !(max_err <= tol * max_want);
    }
    free(got);
    free(want);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "write") == 0)
        return write_files(argv[2]);
    if (argc == 5 && strcmp(argv[1], "compare") == 0)
        return compare(argv[2], argv[3], atof(argv[4]));
    fprintf(stderr, "usage: cli_fixture write DIR | compare GOT.npy WANT.npy TOL\n");
    return 2;
}
