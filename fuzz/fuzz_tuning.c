/*
 * fuzz_tuning.c - libFuzzer target for the tuning-table reader
 * (ug_context_load_tuning_memory) on a cpu context. So that the fuzzer gets
 * past the device and version checks, "@DEVICE@" and "@VERSION@" in an
 * input are replaced by the context's device id and the library version
 * before loading. A table that loads steers one plan, which must succeed.
 * Seed corpus: fuzz/corpus/tuning.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unigemm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ug_context *ctx;

/* data with every `from` replaced by `to`, NUL-terminated; *out_size its length. */
static char *substitute(const char *data, size_t size, const char *from, const char *to,
                        size_t *out_size)
{
    size_t nf = strlen(from), nt = strlen(to), cap = size + 1;
    for (size_t i = 0; i + nf <= size; i++)
        if (memcmp(data + i, from, nf) == 0)
            cap += nt;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < size;) {
        if (i + nf <= size && memcmp(data + i, from, nf) == 0) {
            memcpy(out + o, to, nt);
            o += nt;
            i += nf;
        } else {
            out[o++] = data[i++];
        }
    }
    out[o] = '\0';
    *out_size = o;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ctx == NULL) {
        ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
        opt.backend = UG_BACKEND_CPU;
        opt.num_threads = 1;
        if (ug_context_create(&opt, &ctx, NULL, 0) != UG_OK)
            abort();
    }
    size_t n1, n2;
    char *a = substitute((const char *)data, size, "@DEVICE@", ug_context_device_id(ctx), &n1);
    char *b = a ? substitute(a, n1, "@VERSION@", ug_version(), &n2) : NULL;
    if (b != NULL && ug_context_load_tuning_memory(ctx, b, n2) == UG_OK) {
        /* the table's first entry shape is unknown here; plan a fixed one */
        ug_weight_format f = {UG_U4, UG_METHOD_SCALE_ZERO, 64, UG_F16};
        ug_weight_source src = UG_WEIGHT_SOURCE_INIT;
        static uint8_t codes[16 * 128 / 2], zeros[16 * 2];
        static uint16_t scales[16 * 2];
        src.format = f;
        src.n = 16;
        src.k = 128;
        src.codes = codes;
        src.scales = scales;
        src.zeros = zeros;
        ug_packed_weights *w = NULL;
        ug_gemm_desc d = UG_GEMM_DESC_INIT;
        d.m = 3, d.n = 16, d.k = 128;
        ug_plan *plan = NULL;
        if (ug_weights_pack(ctx, &src, &w) != UG_OK || ug_plan_create(ctx, &d, w, NULL, &plan) != UG_OK)
            abort();
        ug_plan_destroy(plan);
        ug_weights_destroy(w);
        ug_context_load_tuning(ctx, NULL);
    }
    free(a);
    free(b);
    return 0;
}
