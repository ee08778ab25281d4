/*
 * io.h - what the checkpoint readers and importers share: the tensor table
 * both file readers produce, the type table that sizes tensors, the layer
 * record found by naming conventions, and little-endian loads.
 *
 * A reader (safetensors.c, gguf.c) parses a file image that it does not
 * trust into ckpt->tensors: every name, type, shape and byte range checked
 * against the image. The layer finder (layers.c) groups tensors into layers;
 * the importers (import_*.c) turn one layer into the canonical source.
 */
#ifndef UG_IO_H
#define UG_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../core/internal.h"

/* Tensor element types of both file formats. Quantized GGUF types are blocks
 * of `block` elements in `block_bytes` bytes; plain types have block 1. */
typedef enum io_type {
    IO_BOOL,
    IO_U8,
    IO_I8,
    IO_U16,
    IO_I16,
    IO_U32,
    IO_I32,
    IO_U64,
    IO_I64,
    IO_F16,
    IO_BF16,
    IO_F32,
    IO_F64,
    IO_F8_E4M3,
    IO_F8_E5M2,
    IO_Q4_0,
    IO_Q4_1,
    IO_Q5_0,
    IO_Q5_1,
    IO_Q8_0,
    IO_Q8_1,
    IO_Q2_K,
    IO_Q3_K,
    IO_Q4_K,
    IO_Q5_K,
    IO_Q6_K,
    IO_Q8_K,
    IO_IQ2_XXS,
    IO_IQ2_XS,
    IO_IQ3_XXS,
    IO_IQ1_S,
    IO_IQ4_NL,
    IO_IQ3_S,
    IO_IQ2_S,
    IO_IQ4_XS,
    IO_IQ1_M,
    IO_TQ1_0,
    IO_TQ2_0,
    IO_MXFP4,
    IO_TYPE_COUNT_
} io_type;

typedef struct io_type_info {
    const char *name;    /* the file's name: safetensors dtype, or ggml's in upper case */
    int32_t ggml_id;     /* ggml_type number, -1 when GGUF has none */
    bool in_safetensors; /* a safetensors dtype */
    int64_t block;       /* elements per block (1 for plain types) */
    int64_t block_bytes; /* bytes per block */
} io_type_info;

const io_type_info *io_type_info_of(io_type type);
/* The type a safetensors dtype string or a ggml_type number names. */
bool io_type_from_safetensors(const char *name, io_type *out);
bool io_type_from_ggml(uint32_t id, io_type *out);

typedef struct io_tensor {
    char *name;
    io_type type;
    int32_t ndim;
    int64_t shape[UG_TENSOR_MAX_DIMS]; /* outermost first */
    uint64_t offset;                   /* from the start of the image */
    uint64_t bytes;
    const uint8_t *data;
} io_tensor;

/* A layer found by naming conventions. Companion indices are into
 * ckpt->tensors, -1 when absent. */
typedef enum io_source {
    IO_SRC_DENSE,
    IO_SRC_MLX,
    IO_SRC_AWQ_GEMM,
    IO_SRC_AWQ_GEMV,
    IO_SRC_GPTQ,
    IO_SRC_GGUF, /* a quantized GGUF tensor; its type says which */
} io_source;

typedef struct io_layer {
    char *name;
    io_source source;
    char source_name[24];
    int32_t main, scales, biases, zeros, g_idx, bias; /* tensor indices or -1 */
    int32_t bits, group_size;
    int64_t n, k;
    bool act_order;
    uint64_t bytes;
    ug_status problem_status; /* UG_OK when importable with default options */
    char *problem;            /* NULL or why not */
} io_layer;

/* Settings read from config.json / quantize_config.json beside the file. */
typedef struct io_config {
    char quant_method[16]; /* "awq", "gptq", "mlx" or "" */
    int32_t bits, group_size;
    char awq_version[8];   /* "gemm", "gemv" or "" */
    char mlx_mode[16];     /* MLX's "mode": "affine" or "" (older MLX); others are not affine */
    int32_t gptq_version;  /* 1, 2 or 0 when the config does not say */
    void *mlx_overrides;   /* json_t object of per-layer {"bits", "group_size"} or NULL */
} io_config;

struct ug_checkpoint {
    ug_context *ctx;
    const char *kind; /* "safetensors" or "gguf" */
    const uint8_t *image;
    size_t size;
    void *mapping; /* mmap'ed image to unmap, or NULL for ug_checkpoint_open_memory */
    io_tensor *tensors;
    size_t tensor_count;
    io_layer *layers;
    size_t layer_count;
    io_config config;
};

/* Work out a layer's bits, group size, N and K from its tensors' shapes, the
 * config and the options (0 = not given), or say in layer->problem why they
 * cannot be. Reads g_idx to tell act-order. */
void io_resolve_layer(ug_checkpoint *ckpt, io_layer *layer, int32_t bits, int32_t group_size);

/* Parse the image into ckpt->tensors. Messages go to ckpt->ctx. */
ug_status io_read_safetensors(ug_checkpoint *ckpt);
ug_status io_read_gguf(ug_checkpoint *ckpt);
/* Shared last checks of both readers: no two tensors share a name or a byte. */
ug_status io_check_tensor_table(ug_checkpoint *ckpt);
/* Bytes of a tensor of `type` and `shape`: UG_ERR_SIZE_OVERFLOW when they
 * overflow, UG_ERR_FILE_SHAPE when the innermost dimension is not a whole
 * number of blocks. */
ug_status io_tensor_bytes(ug_checkpoint *ckpt, const char *name, io_type type, int32_t ndim,
                          const int64_t *shape, uint64_t *bytes);

/* Read config.json and quantize_config.json in the folder of `path`. */
ug_status io_config_read(ug_checkpoint *ckpt, const char *path);
void io_config_free(io_config *config);
/* MLX's per-layer bits/group_size override for `layer`, if the config has one. */
void io_config_mlx_layer(const io_config *config, const char *layer, int32_t *bits,
                         int32_t *group_size);

/* Group the tensors into ckpt->layers. */
ug_status io_find_layers(ug_checkpoint *ckpt);
/* Index of the tensor called `name`, or -1. */
int32_t io_tensor_find(const ug_checkpoint *ckpt, const char *name);

/* The imported layer: canonical arrays it owns. */
struct ug_imported_layer {
    ug_weight_source source;
    void *codes, *scales, *biases, *zeros;
    int32_t *k_perm;
    void *bias;
    ug_dtype bias_type;
};

/* Importers, one per source. `layer` has passed io_find_layers' shape checks;
 * `opt` is resolved (never NULL). They fill `out`'s arrays and source. */
ug_status io_import_dense(ug_checkpoint *ckpt, const io_layer *layer, ug_imported_layer *out);
ug_status io_import_mlx(ug_checkpoint *ckpt, const io_layer *layer, ug_imported_layer *out);
ug_status io_import_awq(ug_checkpoint *ckpt, const io_layer *layer, ug_imported_layer *out);
ug_status io_import_gptq(ug_checkpoint *ckpt, const io_layer *layer,
                         const ug_import_options *opt, ug_imported_layer *out);
ug_status io_import_gguf(ug_checkpoint *ckpt, const io_layer *layer, ug_imported_layer *out);

/* The canonical group_size for a group of G columns: G, or per channel. */
int32_t io_group_field(int64_t group, int64_t k);

/* Allocate the canonical arrays of `format` for N x K into out (zeroed) and
 * set out->source. */
ug_status io_alloc_source(ug_checkpoint *ckpt, const io_layer *layer,
                          const ug_weight_format *format, int64_t n, int64_t k,
                          ug_imported_layer *out);

/* The float type of a tensor holding scales or biases: UG_ERR_FILE_DTYPE
 * naming the tensor and its role unless F16/BF16/F32. */
ug_status io_float_type(ug_checkpoint *ckpt, const io_tensor *t, const char *role,
                        ug_dtype *out);

/* Little-endian loads from the image (which has no alignment). */
static inline uint16_t io_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t io_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static inline uint64_t io_le64(const uint8_t *p)
{
    return (uint64_t)io_le32(p) | ((uint64_t)io_le32(p + 4) << 32);
}

/* Element i of an f32/f16/bf16 array in the image. */
static inline double io_float_at(const uint8_t *base, ug_dtype type, size_t i)
{
    if (type == UG_F32) {
        uint32_t u = io_le32(base + 4 * i);
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    uint16_t h = io_le16(base + 2 * i);
    return type == UG_F16 ? ug_f16_to_f32(h) : ug_bf16_to_f32(h);
}

#endif /* UG_IO_H */
