/*
 * checkpoint.c - the public checkpoint API: open a file (mmap'ed read-only)
 * or an image in memory, tell safetensors from GGUF by content, list its
 * tensors and layers, and import one layer into the canonical weight source
 * through the importer of its source format.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

static void free_tables(ug_checkpoint *ckpt)
{
    for (size_t i = 0; i < ckpt->tensor_count; i++)
        free(ckpt->tensors[i].name);
    free(ckpt->tensors);
    for (size_t i = 0; i < ckpt->layer_count; i++) {
        free(ckpt->layers[i].name);
        free(ckpt->layers[i].problem);
    }
    free(ckpt->layers);
    io_config_free(&ckpt->config);
}

void ug_checkpoint_close(ug_checkpoint *ckpt)
{
    if (ckpt == NULL)
        return;
    free_tables(ckpt);
    if (ckpt->mapping != NULL)
        munmap(ckpt->mapping, ckpt->size);
    free(ckpt);
}

/* Parse the image and find its layers; on failure *out stays NULL and the
 * checkpoint (with its mapping) is released. */
static ug_status finish_open(ug_checkpoint *ckpt, const char *path, ug_checkpoint **out)
{
    bool gguf = ckpt->size >= 4 && memcmp(ckpt->image, "GGUF", 4) == 0;
    ckpt->kind = gguf ? "gguf" : "safetensors";
    ug_status st = gguf ? io_read_gguf(ckpt) : io_read_safetensors(ckpt);
    if (st == UG_OK && path != NULL && !gguf)
        st = io_config_read(ckpt, path);
    if (st == UG_OK)
        st = io_find_layers(ckpt);
    if (st != UG_OK) {
        ug_checkpoint_close(ckpt);
        return st;
    }
    *out = ckpt;
    return UG_OK;
}

static ug_checkpoint *new_checkpoint(ug_context *ctx)
{
    ug_checkpoint *ckpt = calloc(1, sizeof *ckpt);
    if (ckpt != NULL)
        ckpt->ctx = ctx;
    return ckpt;
}

ug_status ug_checkpoint_open(ug_context *ctx, const char *path, ug_checkpoint **out)
{
    if (out != NULL)
        *out = NULL;
    if (ctx == NULL)
        return UG_ERR_NULL_ARGUMENT;
    if (path == NULL || out == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "checkpoint_open: %s is NULL",
                       path == NULL ? "path" : "out");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ug_fail(ctx, UG_ERR_FILE_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        return ug_fail(ctx, UG_ERR_FILE_IO, "%s: %s", path, strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return ug_fail(ctx, UG_ERR_FILE_IO, "%s: not a regular file", path);
    }
    ug_checkpoint *ckpt = new_checkpoint(ctx);
    if (ckpt == NULL) {
        close(fd);
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "checkpoint_open: no memory");
    }
    ckpt->size = (size_t)sb.st_size;
    if (ckpt->size > 0) {
        void *map = mmap(NULL, ckpt->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int err = errno;
            close(fd);
            free(ckpt);
            return ug_fail(ctx, UG_ERR_FILE_IO, "%s: mmap: %s", path, strerror(err));
        }
        ckpt->mapping = map;
        ckpt->image = map;
    } else {
        ckpt->image = (const uint8_t *)"";
    }
    close(fd);
    return finish_open(ckpt, path, out);
}

ug_status ug_checkpoint_open_memory(ug_context *ctx, const void *data, size_t size,
                                    ug_checkpoint **out)
{
    if (out != NULL)
        *out = NULL;
    if (ctx == NULL)
        return UG_ERR_NULL_ARGUMENT;
    if ((data == NULL && size > 0) || out == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "checkpoint_open_memory: %s is NULL",
                       out == NULL ? "out" : "data");
    ug_checkpoint *ckpt = new_checkpoint(ctx);
    if (ckpt == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "checkpoint_open_memory: no memory");
    ckpt->image = size > 0 ? data : (const uint8_t *)"";
    ckpt->size = size;
    return finish_open(ckpt, NULL, out);
}

const char *ug_checkpoint_kind(const ug_checkpoint *ckpt)
{
    return ckpt != NULL ? ckpt->kind : "";
}

size_t ug_checkpoint_tensor_count(const ug_checkpoint *ckpt)
{
    return ckpt != NULL ? ckpt->tensor_count : 0;
}

ug_status ug_checkpoint_tensor(const ug_checkpoint *ckpt, size_t index, ug_tensor_info *out)
{
    if (ckpt == NULL || out == NULL)
        return UG_ERR_NULL_ARGUMENT;
    if (index >= ckpt->tensor_count)
        return ug_fail(ckpt->ctx, UG_ERR_INVALID_VALUE,
                       "checkpoint_tensor: index %zu, the file has %zu tensors", index,
                       ckpt->tensor_count);
    const io_tensor *t = &ckpt->tensors[index];
    memset(out, 0, sizeof *out);
    out->name = t->name;
    out->dtype = io_type_info_of(t->type)->name;
    out->ndim = t->ndim;
    memcpy(out->shape, t->shape, sizeof out->shape);
    out->offset = t->offset;
    out->bytes = t->bytes;
    return UG_OK;
}

size_t ug_checkpoint_layer_count(const ug_checkpoint *ckpt)
{
    return ckpt != NULL ? ckpt->layer_count : 0;
}

ug_status ug_checkpoint_layer(const ug_checkpoint *ckpt, size_t index, ug_layer_info *out)
{
    if (ckpt == NULL || out == NULL)
        return UG_ERR_NULL_ARGUMENT;
    if (index >= ckpt->layer_count)
        return ug_fail(ckpt->ctx, UG_ERR_INVALID_VALUE,
                       "checkpoint_layer: index %zu, the file has %zu layers", index,
                       ckpt->layer_count);
    const io_layer *l = &ckpt->layers[index];
    memset(out, 0, sizeof *out);
    out->name = l->name;
    out->source = l->source_name;
    out->bits = l->bits;
    out->group_size = l->group_size;
    out->n = l->n;
    out->k = l->k;
    out->act_order = l->act_order;
    out->has_bias = l->bias >= 0;
    out->bytes = l->bytes;
    out->problem = l->problem_status == UG_OK ? NULL
                   : l->problem != NULL         ? l->problem
                                                : ug_status_str(l->problem_status);
    return UG_OK;
}

/* The layer called `name`, or owning a tensor called `name`. */
static io_layer *find_layer(ug_checkpoint *ckpt, const char *name)
{
    for (size_t i = 0; i < ckpt->layer_count; i++)
        if (strcmp(ckpt->layers[i].name, name) == 0)
            return &ckpt->layers[i];
    for (size_t i = 0; i < ckpt->layer_count; i++) {
        const io_layer *l = &ckpt->layers[i];
        int32_t parts[] = {l->main, l->scales, l->biases, l->zeros, l->g_idx};
        for (size_t j = 0; j < sizeof parts / sizeof *parts; j++)
            if (parts[j] >= 0 && strcmp(ckpt->tensors[parts[j]].name, name) == 0)
                return &ckpt->layers[i];
    }
    return NULL;
}

void ug_imported_layer_free(ug_imported_layer *layer)
{
    if (layer == NULL)
        return;
    free(layer->codes);
    free(layer->scales);
    free(layer->biases);
    free(layer->zeros);
    free(layer->k_perm);
    free(layer->bias);
    free(layer);
}

static ug_status import_bias(ug_checkpoint *ckpt, const io_layer *l, ug_imported_layer *out)
{
    if (l->bias < 0)
        return UG_OK;
    const io_tensor *t = &ckpt->tensors[l->bias];
    ug_status st = io_float_type(ckpt, t, "bias", &out->bias_type);
    if (st != UG_OK)
        return st;
    out->bias = malloc(t->bytes ? (size_t)t->bytes : 1);
    if (out->bias == NULL)
        return ug_fail(ckpt->ctx, UG_ERR_OUT_OF_MEMORY, "layer '%s': no memory for the bias",
                       l->name);
    memcpy(out->bias, t->data, (size_t)t->bytes);
    return UG_OK;
}

ug_status ug_checkpoint_import(ug_checkpoint *ckpt, const char *name,
                               const ug_import_options *options, ug_imported_layer **out)
{
    if (out != NULL)
        *out = NULL;
    if (ckpt == NULL)
        return UG_ERR_NULL_ARGUMENT;
    ug_context *ctx = ckpt->ctx;
    if (name == NULL || out == NULL)
        return ug_fail(ctx, UG_ERR_NULL_ARGUMENT, "checkpoint_import: %s is NULL",
                       name == NULL ? "name" : "out");
    ug_import_options opt = UG_IMPORT_OPTIONS_INIT;
    if (options != NULL) {
        if (!ug_version_ok(options->struct_version))
            return ug_fail(ctx, UG_ERR_STRUCT_VERSION,
                           "import options: struct_version %u (this library reads 1..%u)",
                           options->struct_version, UG_STRUCT_VERSION);
        opt = *options;
    }
    if (opt.gptq_version < 0 || opt.gptq_version > 2)
        return ug_fail(ctx, UG_ERR_INVALID_VALUE, "import options: gptq_version %d (1, 2 or 0)",
                       opt.gptq_version);
    if (opt.bits < 0 || opt.group_size < -1)
        return ug_fail(ctx, UG_ERR_INVALID_VALUE, "import options: bits %d, group_size %d",
                       opt.bits, opt.group_size);
    io_layer *found = find_layer(ckpt, name);
    if (found == NULL)
        return ug_fail(ctx, UG_ERR_MISSING_TENSOR, "no layer or tensor called '%s' in the file",
                       name);
    /* Resolve a copy: the options apply to this import only. */
    io_layer layer = *found;
    layer.problem = NULL;
    io_resolve_layer(ckpt, &layer, opt.bits, opt.group_size);
    ug_status st = layer.problem_status;
    if (st != UG_OK) {
        ug_fail(ctx, st, "%s", layer.problem != NULL ? layer.problem : ug_status_str(st));
        free(layer.problem);
        return st;
    }
    ug_imported_layer *imp = calloc(1, sizeof *imp);
    if (imp == NULL)
        return ug_fail(ctx, UG_ERR_OUT_OF_MEMORY, "checkpoint_import: no memory");
    switch (layer.source) {
    case IO_SRC_DENSE:
        st = io_import_dense(ckpt, &layer, imp);
        break;
    case IO_SRC_MLX:
        st = io_import_mlx(ckpt, &layer, imp);
        break;
    case IO_SRC_AWQ_GEMM:
    case IO_SRC_AWQ_GEMV:
        st = io_import_awq(ckpt, &layer, imp);
        break;
    case IO_SRC_GPTQ:
        st = io_import_gptq(ckpt, &layer, &opt, imp);
        break;
    case IO_SRC_GGUF:
        st = io_import_gguf(ckpt, &layer, imp);
        break;
    }
    if (st == UG_OK)
        st = import_bias(ckpt, &layer, imp);
    if (st != UG_OK) {
        ug_imported_layer_free(imp);
        return st;
    }
    *out = imp;
    return UG_OK;
}

const ug_weight_source *ug_imported_layer_source(const ug_imported_layer *layer)
{
    return layer != NULL ? &layer->source : NULL;
}

const int32_t *ug_imported_layer_k_perm(const ug_imported_layer *layer)
{
    return layer != NULL ? layer->k_perm : NULL;
}

const void *ug_imported_layer_bias(const ug_imported_layer *layer, ug_dtype *type)
{
    if (type != NULL)
        *type = layer != NULL && layer->bias != NULL ? layer->bias_type : UG_DTYPE_NONE;
    return layer != NULL ? layer->bias : NULL;
}

/* ---- helpers the importers share -------------------------------------------- */

ug_status io_float_type(ug_checkpoint *ckpt, const io_tensor *t, const char *role,
                        ug_dtype *out)
{
    switch (t->type) {
    case IO_F32:
        *out = UG_F32;
        return UG_OK;
    case IO_F16:
        *out = UG_F16;
        return UG_OK;
    case IO_BF16:
        *out = UG_BF16;
        return UG_OK;
    default:
        return ug_fail(ckpt->ctx, UG_ERR_FILE_DTYPE,
                       "tensor '%s' (%s) is %s; F32, F16 or BF16 expected", t->name, role,
                       io_type_info_of(t->type)->name);
    }
}

ug_status io_alloc_source(ug_checkpoint *ckpt, const io_layer *layer,
                          const ug_weight_format *format, int64_t n, int64_t k,
                          ug_imported_layer *out)
{
    ug_layout lay;
    ug_status st = ug_layout_make(ckpt->ctx, format, n, k, &lay);
    if (st != UG_OK) {
        char why[UG_ERROR_CAPACITY];
        ug_context_last_error_copy(ckpt->ctx, why, sizeof why);
        return ug_fail(ckpt->ctx, st, "layer '%s': %s", layer->name, why);
    }
    out->codes = calloc(lay.codes_bytes ? lay.codes_bytes : 1, 1);
    out->scales = lay.scales_bytes ? calloc(lay.scales_bytes, 1) : NULL;
    out->biases = lay.biases_bytes ? calloc(lay.biases_bytes, 1) : NULL;
    out->zeros = lay.zeros_bytes ? calloc(lay.zeros_bytes, 1) : NULL;
    if (out->codes == NULL || (lay.scales_bytes && out->scales == NULL) ||
        (lay.biases_bytes && out->biases == NULL) || (lay.zeros_bytes && out->zeros == NULL))
        return ug_fail(ckpt->ctx, UG_ERR_OUT_OF_MEMORY,
                       "layer '%s': no memory for %zu bytes of codes", layer->name,
                       lay.codes_bytes);
    ug_weight_source src = UG_WEIGHT_SOURCE_INIT;
    src.format = *format;
    src.n = n;
    src.k = k;
    src.codes = out->codes;
    src.scales = out->scales;
    src.biases = out->biases;
    src.zeros = out->zeros;
    out->source = src;
    return UG_OK;
}
