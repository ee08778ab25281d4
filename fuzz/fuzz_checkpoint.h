/*
 * fuzz_checkpoint.h - the body both checkpoint fuzz targets share: open the
 * input as a file image (ug_checkpoint_open_memory), and when it is accepted,
 * read every tensor and layer entry and import every layer, with default
 * options and with MLX bits/group forced, packing what imports on the cpu
 * backend. Nothing may crash, leak or read outside the image; an accepted
 * file's entries must be consistent (tensor bytes inside the image).
 */
#ifndef UG_FUZZ_CHECKPOINT_H
#define UG_FUZZ_CHECKPOINT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "unigemm.h"

#define FUZZ_CHECK(cond)                                                                         \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "fuzz: check failed: %s (line %d)\n", #cond, __LINE__);              \
            __builtin_trap();                                                                    \
        }                                                                                        \
    } while (0)

static ug_context *fuzz_context(void)
{
    static ug_context *ctx;
    if (ctx == NULL) {
        ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
        opt.backend = UG_BACKEND_CPU;
        opt.num_threads = 1;
        FUZZ_CHECK(ug_context_create(&opt, &ctx, NULL, 0) == UG_OK);
    }
    return ctx;
}

static void fuzz_import(ug_checkpoint *ck, const char *name, const ug_import_options *opt)
{
    ug_imported_layer *layer = NULL;
    if (ug_checkpoint_import(ck, name, opt, &layer) != UG_OK) {
        FUZZ_CHECK(layer == NULL);
        return;
    }
    const ug_weight_source *src = ug_imported_layer_source(layer);
    FUZZ_CHECK(src != NULL && src->n > 0 && src->k > 0);
    /* Keep packing cheap: small layers only. */
    if (src->n * src->k <= (1 << 16)) {
        ug_packed_weights *w = NULL;
        FUZZ_CHECK(ug_weights_pack(fuzz_context(), src, &w) == UG_OK);
        ug_weights_destroy(w);
    }
    ug_imported_layer_free(layer);
}

static int fuzz_checkpoint_one(const uint8_t *data, size_t size)
{
    ug_context *ctx = fuzz_context();
    ug_checkpoint *ck = NULL;
    if (ug_checkpoint_open_memory(ctx, data, size, &ck) != UG_OK) {
        FUZZ_CHECK(ck == NULL);
        return 0;
    }
    for (size_t i = 0; i < ug_checkpoint_tensor_count(ck); i++) {
        ug_tensor_info t;
        FUZZ_CHECK(ug_checkpoint_tensor(ck, i, &t) == UG_OK);
        FUZZ_CHECK(t.offset <= size && t.bytes <= size - t.offset);
    }
    for (size_t i = 0; i < ug_checkpoint_layer_count(ck); i++) {
        ug_layer_info l;
        FUZZ_CHECK(ug_checkpoint_layer(ck, i, &l) == UG_OK);
        fuzz_import(ck, l.name, NULL);
        ug_import_options opt = UG_IMPORT_OPTIONS_INIT;
        opt.bits = 4;
        opt.group_size = 32;
        opt.gptq_version = 2;
        fuzz_import(ck, l.name, &opt);
    }
    ug_checkpoint_close(ck);
    return 0;
}

#endif /* UG_FUZZ_CHECKPOINT_H */
