/*
 * unigemm.h - the whole public C API of unigemm.
 *
 * unigemm computes the linear layers of LLM inference for every kind of
 * weight, full precision or quantized group-wise to 4 or 8 bits:
 *
 *     C[M,N] = alpha * A[M,K] . dequant(W)[N,K]^T  (+ bias[N])  (+ beta * C)
 *
 * W is logically [N][K] (out_features x in_features, like nn.Linear).
 * Quantized weights hold one scale (and one bias or zero point) for every
 * group of G consecutive k of a row.
 *
 * Flow:  ug_context_create -> ug_weights_pack -> ug_plan_create ->
 *        ug_plan_execute (any number of times) -> destroy in reverse order.
 *
 * Conventions:
 *  - Every fallible call returns a ug_status. On failure,
 *    ug_context_last_error() names the argument and the value that were
 *    wrong. The library never aborts, exits or prints.
 *  - Description structs carry `struct_version` as their first field; set it
 *    with the UG_*_INIT initializers. Later versions only append fields; the
 *    library accepts every version from 1 up to its own UG_STRUCT_VERSION and
 *    reads only the fields the caller's version has.
 *  - Pointers to typed arrays must be aligned to their element (4 bytes for
 *    f32, 2 for f16/bf16).
 *  - Handles (context, packed weights, plan) are opaque; the caller owns A,
 *    C, bias and workspace buffers.
 *  - Plans and packed weights are immutable once created and may be used
 *    from several threads at once; results are bit-identical run after run
 *    for the same inputs, backend and plan.
 */
#ifndef UNIGEMM_H
#define UNIGEMM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Everything declared here is exported from the shared library, nothing else. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define UG_VERSION_MAJOR 0
#define UG_VERSION_MINOR 1
#define UG_VERSION_PATCH 0
/* Version of the description structs below; bumped when any of them changes. */
#define UG_STRUCT_VERSION 1u

/* Library version as "MAJOR.MINOR.PATCH". */
const char *ug_version(void);

/* ------------------------------------------------------------------------ */
/* Status                                                                     */
/* ------------------------------------------------------------------------ */

typedef enum ug_status {
    UG_OK = 0,
    UG_ERR_NULL_ARGUMENT,       /* a required pointer is NULL */
    UG_ERR_STRUCT_VERSION,      /* a description struct has an unknown struct_version */
    UG_ERR_INVALID_ENUM,        /* an enum argument holds a value outside its range */
    UG_ERR_UNKNOWN_NAME,        /* a wire name (data type, method, backend) is not known */
    UG_ERR_INVALID_SHAPE,       /* a dimension is negative or zero where it must be positive */
    UG_ERR_SIZE_OVERFLOW,       /* a size computed from the dimensions overflows */
    UG_ERR_INVALID_GROUP_SIZE,  /* group size not one of 32, 64, 128, -1 (per channel) */
    UG_ERR_GROUP_NOT_DIVIDING_K, /* K is not a multiple of the group size */
    UG_ERR_K_NOT_PACKABLE,      /* K is not a multiple of the codes per byte (2 for 4-bit) */
    UG_ERR_INVALID_STRIDE,      /* a row stride is shorter than a row */
    UG_ERR_INVALID_VALUE,       /* a value is out of its range (zero point, token id, threads) */
    UG_ERR_ALIASING,            /* the output overlaps an input */
    UG_ERR_MISALIGNED,          /* a pointer is not aligned to its element type */
    UG_ERR_UNSUPPORTED,         /* a valid combination that this backend does not run */
    UG_ERR_MISMATCH,            /* packed weights do not match the plan or the context */
    UG_ERR_WORKSPACE_TOO_SMALL, /* workspace smaller than ug_plan_workspace_size() */
    UG_ERR_OUT_OF_MEMORY,       /* host or device allocation failed */
    UG_ERR_BACKEND_UNAVAILABLE, /* backend not built in, or no device present */
    UG_ERR_DEVICE,              /* a CUDA call failed; the message carries CUDA's text */
    /* Checkpoint files (ug_checkpoint_*): */
    UG_ERR_FILE_IO,             /* the file cannot be opened, read or mapped */
    UG_ERR_FILE_FORMAT,         /* not a safetensors/GGUF file, or a header field is malformed */
    UG_ERR_FILE_TRUNCATED,      /* the file ends inside a header or field it declares */
    UG_ERR_FILE_RANGE,          /* a tensor's data lies outside the file's data section */
    UG_ERR_FILE_OVERLAP,        /* two tensors share bytes */
    UG_ERR_FILE_DTYPE,          /* unknown tensor type, or one the layer's role cannot have */
    UG_ERR_FILE_SHAPE,          /* a shape disagrees with its bytes or with its companions */
    UG_ERR_MISSING_TENSOR,      /* a named tensor or a layer's companion is not in the file */
    UG_ERR_AMBIGUOUS,           /* the file does not settle a parameter; pass it in options */
    UG_ERR_COUNT_               /* number of statuses; not a status */
} ug_status;

/* Short fixed description of a status ("invalid group size"); never NULL. */
const char *ug_status_str(ug_status status);

/* ------------------------------------------------------------------------ */
/* Data types, quantization methods and their wire names                      */
/* ------------------------------------------------------------------------ */

/* Wire names follow the checkpoint world: "float32", "float16", "bfloat16",
 * "int4", "uint4", "int8", "uint8". */
typedef enum ug_dtype {
    UG_DTYPE_NONE = 0, /* "none": no type (e.g. the scale type of full-precision weights) */
    UG_F32,
    UG_F16,
    UG_BF16,
    UG_I4,
    UG_U4,
    UG_I8,
    UG_U8,
    UG_DTYPE_COUNT_
} ug_dtype;

/* How codes q become weights w; s is the group's scale.
 *   none        w as stored (f32/f16/bf16 storage)
 *   scale_bias  w = s*q + b                 ("mlx"; MLX affine)
 *   scale_zero  w = s*(q - z), z an integer code of the storage type ("awq")
 *   symmetric   w = s*(q - 2^(bits-1)) for unsigned codes, w = s*q for signed */
typedef enum ug_method {
    UG_METHOD_NONE = 0,
    UG_METHOD_SCALE_BIAS,
    UG_METHOD_SCALE_ZERO,
    UG_METHOD_SYMMETRIC,
    UG_METHOD_COUNT_
} ug_method;

typedef enum ug_backend {
    UG_BACKEND_AUTO = 0, /* "auto": cuda if a usable GPU is present, else cpu */
    UG_BACKEND_REF,      /* "ref": the scalar oracle (f64 accumulation), slow and exact */
    UG_BACKEND_CPU,      /* "cpu": the CPU backend */
    UG_BACKEND_CUDA,     /* "cuda": NVIDIA Hopper GPUs */
    UG_BACKEND_COUNT_
} ug_backend;

/* Per-channel quantization: one group spans the whole row (G = K). */
#define UG_GROUP_PER_CHANNEL (-1)

typedef struct ug_context ug_context;

/* Canonical name of a value ("bfloat16", "scale_bias", "cuda"); "?" when out
 * of range. */
const char *ug_dtype_name(ug_dtype dtype);
const char *ug_method_name(ug_method method);
const char *ug_backend_name(ug_backend backend);

/* Parse a wire name. Methods also accept the aliases "mlx" (scale_bias) and
 * "awq" (scale_zero). Names are case-sensitive. `ctx` may be NULL; when it
 * is not, a failure leaves a message naming the unknown name there. */
ug_status ug_dtype_parse(ug_context *ctx, const char *name, ug_dtype *out);
ug_status ug_method_parse(ug_context *ctx, const char *name, ug_method *out);
ug_status ug_backend_parse(ug_context *ctx, const char *name, ug_backend *out);

/* Bits per element of a data type (32, 16, 16, 4, 4, 8, 8); 0 for NONE. */
int32_t ug_dtype_bits(ug_dtype dtype);

/* ------------------------------------------------------------------------ */
/* Context                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct ug_context_options {
    uint32_t struct_version; /* UG_STRUCT_VERSION */
    ug_backend backend;      /* UG_BACKEND_AUTO picks cuda when usable, else cpu */
    int32_t num_threads;     /* CPU threads; 0 = all the machine offers, at most 1024 */
    int32_t device;          /* CUDA device ordinal */
    void *stream;            /* cudaStream_t to launch on; NULL = the default stream */
} ug_context_options;

#define UG_CONTEXT_OPTIONS_INIT {UG_STRUCT_VERSION, UG_BACKEND_AUTO, 0, 0, NULL}

/* Create a context. On failure *out is NULL and, when `error` is not NULL, a
 * message of at most error_size bytes (NUL included) says why. */
ug_status ug_context_create(const ug_context_options *options, ug_context **out,
                            char *error, size_t error_size);
void ug_context_destroy(ug_context *ctx);

/* The backend the context runs on (never AUTO) and its CPU thread count. */
ug_backend ug_context_backend(const ug_context *ctx);
int32_t ug_context_num_threads(const ug_context *ctx);
/* The instruction set of a cpu context's kernels: "avx512", "avx2" or
 * "portable" ("" for other backends). The best the CPU runs, unless the
 * environment variable UG_CPU_ISA names a lower one when the context is
 * created (a name the CPU cannot run makes ug_context_create fail). */
const char *ug_context_cpu_isa(const ug_context *ctx);

/* Message of the last failed call made with this context ("" if none). The
 * text stays valid until the next failing call on the same context; when
 * several threads share a context, use ug_context_last_error_copy. */
const char *ug_context_last_error(const ug_context *ctx);
/* Copy the last message into buf (at most size bytes, NUL included) under
 * the context's lock. */
ug_status ug_context_last_error_copy(ug_context *ctx, char *buf, size_t size);

/* CUDA devices this process can use: their count, or 0 with the reason in
 * `reason` (no CUDA in this build, no driver, no device). `reason` may be NULL. */
int32_t ug_cuda_device_count(char *reason, size_t reason_size);
/* One line about a device: name, compute capability, SMs, memory, L2. An
 * ordinal that names no device gives UG_ERR_INVALID_VALUE and says why in buf. */
ug_status ug_cuda_device_describe(int32_t ordinal, char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* Weights                                                                    */
/* ------------------------------------------------------------------------ */

/* What a weight tensor is. Full precision: storage f32/f16/bf16, method NONE,
 * group_size 0, scale_type NONE. Quantized: storage u4/i4/u8/i8, method
 * scale_bias/scale_zero/symmetric, group_size 32/64/128/UG_GROUP_PER_CHANNEL,
 * scale_type f16/bf16/f32 (biases share the scale type). */
typedef struct ug_weight_format {
    ug_dtype storage;
    ug_method method;
    int32_t group_size;
    ug_dtype scale_type;
} ug_weight_format;

/* The canonical weight source. All arrays are dense, row-major:
 *   codes   [N][K] elements of `storage`. 4-bit codes: two per byte along K,
 *           element k in the low nibble of byte k/2 when k is even, in the
 *           high nibble when odd (little-endian bit stream); signed codes in
 *           two's complement. f16/bf16 as their 16-bit patterns.
 *   scales  [N][K/G] of scale_type (quantized only)
 *   biases  [N][K/G] of scale_type (scale_bias only, else NULL)
 *   zeros   [N][K/G] one code per byte (uint8 for u4/u8, int8 for i4/i8),
 *           each within the storage type's range (scale_zero only, else NULL)
 * Importers for MLX, AWQ, GPTQ and GGUF layouts turn checkpoints into this. */
typedef struct ug_weight_source {
    uint32_t struct_version; /* UG_STRUCT_VERSION */
    ug_weight_format format;
    int64_t n, k;
    const void *codes;
    const void *scales;
    const void *biases;
    const void *zeros;
} ug_weight_source;

#define UG_WEIGHT_SOURCE_INIT \
    {UG_STRUCT_VERSION, {UG_DTYPE_NONE, UG_METHOD_NONE, 0, UG_DTYPE_NONE}, 0, 0, \
     NULL, NULL, NULL, NULL}

typedef struct ug_packed_weights ug_packed_weights;

/* Check `src` and copy it into the layout the context's backend reads. The
 * source buffers may be freed afterwards. */
ug_status ug_weights_pack(ug_context *ctx, const ug_weight_source *src, ug_packed_weights **out);
void ug_weights_destroy(ug_packed_weights *weights);

/* Format and shape of packed weights; group_size reports G as given at pack
 * time (UG_GROUP_PER_CHANNEL stays -1). Any out pointer may be NULL. */
ug_status ug_weights_describe(const ug_packed_weights *weights, ug_weight_format *format,
                              int64_t *n, int64_t *k);

/* Bytes of the canonical source arrays for a format and shape (what
 * ug_weights_unpack writes). Any out pointer may be NULL. */
ug_status ug_weight_source_sizes(ug_context *ctx, const ug_weight_format *format, int64_t n,
                                 int64_t k, size_t *codes_bytes, size_t *scales_bytes,
                                 size_t *biases_bytes, size_t *zeros_bytes);

/* Write the packed weights back in the canonical layout, exactly as they were
 * given: buffers sized by ug_weight_source_sizes (NULL for arrays the method
 * has none of). Host pointers. */
ug_status ug_weights_unpack(ug_context *ctx, const ug_packed_weights *weights, void *codes,
                            void *scales, void *biases, void *zeros);

/* ------------------------------------------------------------------------ */
/* GEMM                                                                       */
/* ------------------------------------------------------------------------ */

/* C[M,N] = alpha * A . dequant(W)^T + bias + beta * C.
 * A is [M][lda] of a_type (lda >= K), C is [M][ldc] of c_type (ldc >= N),
 * strides in elements, 0 meaning dense (K resp. N). a_type and c_type are
 * f32, f16 or bf16; bias (if has_bias) is [N] of bias_type. With beta == 0, C
 * is not read (it may hold NaN). M == 0 is a valid empty call. Accumulation is
 * in f32 (f64 on the ref backend); f16/bf16 outputs round to nearest even. */
typedef struct ug_gemm_desc {
    uint32_t struct_version; /* UG_STRUCT_VERSION */
    int64_t m, n, k;
    ug_dtype a_type;
    int64_t lda;
    ug_dtype c_type;
    int64_t ldc;
    int32_t has_bias; /* 0 or 1 */
    ug_dtype bias_type;
    float alpha, beta;
} ug_gemm_desc;

#define UG_GEMM_DESC_INIT {UG_STRUCT_VERSION, 0, 0, 0, UG_F32, 0, UG_F32, 0, 0, UG_F32, 1.0f, 0.0f}

/* Optional plan settings. `schedule` forces a kernel schedule by name (NULL
 * lets the library choose); an unknown or impossible one is refused with a
 * message listing what the backend offers. */
typedef struct ug_plan_options {
    uint32_t struct_version; /* UG_STRUCT_VERSION */
    const char *schedule;
} ug_plan_options;

#define UG_PLAN_OPTIONS_INIT {UG_STRUCT_VERSION, NULL}

typedef struct ug_plan ug_plan;

/* Plan one GEMM shape for weights of `weights`' format and shape (N, K of the
 * descriptor must match them). `options` may be NULL. Planning allocates no
 * device memory and is cheap. The plan keeps a pointer to ctx, which must
 * outlive it; it does not keep `weights`. */
ug_status ug_plan_create(ug_context *ctx, const ug_gemm_desc *desc,
                         const ug_packed_weights *weights, const ug_plan_options *options,
                         ug_plan **out);
void ug_plan_destroy(ug_plan *plan);

/* Name of the schedule the plan runs (e.g. "reference"). */
const char *ug_plan_schedule(const ug_plan *plan);

/* ------------------------------------------------------------------------ */
/* What this build runs, and tuning tables                                    */
/* ------------------------------------------------------------------------ */

/* The schedules a backend offers in this build (spec/kernels.toml, less
 * what the build leaves out: cuda without nvcc, x86 instruction sets on
 * other machines), in a fixed order: their count, and name number `index`
 * (NULL past the end). AUTO has none; ref has one, "reference". No context
 * or device needed. */
int32_t ug_schedule_count(ug_backend backend);
const char *ug_schedule_name(ug_backend backend, int32_t index);

/* Whether this build has a kernel of `backend` for activations a_type and
 * weights of `format`, under schedule `schedule` (NULL: under any of the
 * backend's schedules). UG_OK, or UG_ERR_UNSUPPORTED with the missing part
 * (activation type, weight type, method, group size, scale type or tile) in
 * why; UG_ERR_BACKEND_UNAVAILABLE when the build has no kernels of the
 * backend at all; a format ug_weights_pack would refuse gets that status
 * and reason.
 * Answers for the build, not the machine: no device needed. */
ug_status ug_kernel_supported(ug_backend backend, const char *schedule, ug_dtype a_type,
                              const ug_weight_format *format, char *why, size_t why_size);

/* "" for a build of the whole spec, else its UG_SPEC_RESTRICT setting
 * ("activations=bfloat16;weights=uint4,bfloat16"). */
const char *ug_build_spec_restriction(void);

/* One line naming the device a context runs on, as tuning tables record it:
 * "cpu <processor> (<isa>)", "cuda <name> (sm_XY, N SMs)", "ref ...". */
const char *ug_context_device_id(const ug_context *ctx);

/* Load a tuning table (JSON, written by `unigemm tune`, docs/tuning.md) into
 * the context: from then on a plan whose M, N, K, activation type and
 * weight format match an entry runs that entry's schedule (options that
 * force a schedule still win). A table made for another backend, another
 * device (ug_context_device_id) or another library version is refused with
 * UG_ERR_MISMATCH, a malformed one with UG_ERR_FILE_FORMAT; either way the
 * table loaded before stays. path NULL unloads. Safe to call while other
 * threads create plans. Contexts also load the file that the environment
 * variable UG_TUNING_FILE names when they are created, if it was made for
 * their backend (failing to create if it is refused); contexts of other
 * backends ignore it. */
ug_status ug_context_load_tuning(ug_context *ctx, const char *path);
/* The same from a table's text in memory. */
ug_status ug_context_load_tuning_memory(ug_context *ctx, const void *data, size_t size);

/* Bytes of workspace execute needs (may be 0). */
ug_status ug_plan_workspace_size(const ug_plan *plan, size_t *bytes);

/* Run the plan. `weights` must have the format and shape the plan was made
 * for. A, C, bias and workspace are host pointers for cpu/ref and device
 * pointers for cuda (launched on the context's stream, asynchronously, with
 * no allocation and no synchronization). bias is ignored unless has_bias.
 * The cpu and ref backends may allocate host scratch memory here; they fail
 * with UG_ERR_OUT_OF_MEMORY before writing C if it cannot be had. */
ug_status ug_plan_execute(const ug_plan *plan, const ug_packed_weights *weights, const void *a,
                          void *c, const void *bias, void *workspace, size_t workspace_size);

/* ------------------------------------------------------------------------ */
/* Quantized embedding lookup                                                 */
/* ------------------------------------------------------------------------ */

/* Gather and dequantize rows of a [vocab][dim] table (packed weights with
 * N = vocab, K = dim): out[i][:] = dequant(table)[ids[i]][:] for i < count.
 * out is [count][ldo] of out_type (f32/f16/bf16, ldo >= dim, 0 = dense).
 * ids is host memory on every backend; every id is checked against
 * [0, vocab) before anything is written, and out must not overlap ids. */
ug_status ug_embedding_lookup(ug_context *ctx, const ug_packed_weights *table,
                              const int32_t *ids, int64_t count, ug_dtype out_type, void *out,
                              int64_t ldo);

/* ------------------------------------------------------------------------ */
/* Checkpoint files: safetensors and GGUF, and the layers they hold           */
/* ------------------------------------------------------------------------ */

/* An opened checkpoint file, read-only and memory-mapped. Every length,
 * offset, shape and type in it is checked against the file before use; a bad
 * file gets a UG_ERR_FILE_* status (or UG_ERR_SIZE_OVERFLOW for a shape whose
 * size overflows) and a message naming the field. Files are read as
 * little-endian. The context must outlive the checkpoint; a checkpoint may be
 * read from several threads at once. */
typedef struct ug_checkpoint ug_checkpoint;

/* Open a .safetensors or .gguf file (told apart by content, not by name).
 * Beside a safetensors file, `config.json` and `quantize_config.json` are
 * read when present: MLX's "quantization" (bits, group_size, per-layer
 * overrides), the Hugging Face "quantization_config" (quant_method, bits,
 * group_size, AWQ's version, GPTQModel's checkpoint_format). */
ug_status ug_checkpoint_open(ug_context *ctx, const char *path, ug_checkpoint **out);
/* The same on a file image in memory, which must outlive the checkpoint
 * (no config files are read). */
ug_status ug_checkpoint_open_memory(ug_context *ctx, const void *data, size_t size,
                                    ug_checkpoint **out);
void ug_checkpoint_close(ug_checkpoint *ckpt);

/* "safetensors" or "gguf". */
const char *ug_checkpoint_kind(const ug_checkpoint *ckpt);

#define UG_TENSOR_MAX_DIMS 8

/* One tensor as the file lists it. Strings stay valid while the checkpoint
 * is open. */
typedef struct ug_tensor_info {
    const char *name;
    const char *dtype; /* the file's own type name: "F16", "I32", "U32", "Q4_K", ... */
    int32_t ndim;
    int64_t shape[UG_TENSOR_MAX_DIMS]; /* outermost first (GGUF's ne[] reversed) */
    uint64_t offset;                   /* of the data, from the start of the file */
    uint64_t bytes;
} ug_tensor_info;

size_t ug_checkpoint_tensor_count(const ug_checkpoint *ckpt);
ug_status ug_checkpoint_tensor(const ug_checkpoint *ckpt, size_t index, ug_tensor_info *out);

/* A linear layer found by the naming conventions of the tool that wrote the
 * file, with its format as the file stores it:
 *   "mlx"       <name>.weight (U32 codes), .scales, .biases
 *   "awq-gemm"  <name>.qweight [K, N/8], .qzeros, .scales (AutoAWQ GEMM)
 *   "awq-gemv"  <name>.qweight [N, K/8], .qzeros, .scales (AutoAWQ GEMV)
 *   "gptq"      <name>.qweight [K*bits/32, N], .qzeros, .scales, .g_idx
 *   "gguf-q4_0", "gguf-q4_1", "gguf-q8_0", "gguf-q4_k", other "gguf-<type>"
 *   "dense"     a 2-D F32/F16/BF16 tensor (<name>.weight, or any GGUF one)
 * `problem` is NULL when the layer can be imported with default options,
 * else why not (a missing companion, an ambiguous bit width, a type the
 * library does not read); ug_checkpoint_import then fails with its status. */
typedef struct ug_layer_info {
    const char *name;   /* what ug_checkpoint_import takes */
    const char *source; /* the source format, as above */
    int32_t bits;       /* of the stored codes or elements; 0 when ambiguous */
    int32_t group_size; /* of the source (K for per-channel); 0 when none or ambiguous */
    int64_t n, k;       /* out and in features; 0 when ambiguous */
    int32_t act_order;  /* GPTQ: g_idx is not k / group_size */
    int32_t has_bias;   /* a <name>.bias tensor of N floats is present */
    uint64_t bytes;     /* in the file, companions included */
    const char *problem;
} ug_layer_info;

size_t ug_checkpoint_layer_count(const ug_checkpoint *ckpt);
ug_status ug_checkpoint_layer(const ug_checkpoint *ckpt, size_t index, ug_layer_info *out);

/* Settings the file may not carry; 0 means "from the file and its config". */
typedef struct ug_import_options {
    uint32_t struct_version; /* UG_STRUCT_VERSION */
    int32_t bits;            /* MLX: bits of the codes (2, 3, 4, 5, 6, 8) */
    int32_t group_size;      /* MLX and AWQ GEMV: the group size */
    int32_t gptq_version;    /* GPTQ: 1 (zeros stored minus one, AutoGPTQ) or 2 (GPTQModel v2);
                                0 = the config's checkpoint_format, else 1 */
} ug_import_options;

#define UG_IMPORT_OPTIONS_INIT {UG_STRUCT_VERSION, 0, 0, 0}

/* A layer turned into the canonical weight source, owned by the handle. */
typedef struct ug_imported_layer ug_imported_layer;

/* Import layer `name` (a layer name as listed, or one of its tensors' names,
 * e.g. "model.layers.0.mlp.up_proj.qweight") exactly: the canonical source
 * dequantizes to the same weights as the tool that wrote the file computes
 * from it (up to the rounding of that tool's own arithmetic).
 *   MLX: codes of 2/3/4 bits become uint4, 5/6/8 bits uint8, scale_bias.
 *   AWQ: uint4 scale_zero (symmetric when every zero is 8).
 *   GPTQ: uint4 (2 and 4 bits) or uint8 scale_zero, symmetric when every zero
 *     is 2^(bits-1); v1 zeros are stored minus one, and a v1 group whose
 *     stored zero is all ones means zero 2^bits, which no code holds: such a
 *     layer becomes scale_bias with f32 scales and biases b = -z*s (exact).
 *     Act-order (g_idx not k / G): K is sorted by g_idx, see k_perm.
 *   GGUF: Q4_0 uint4 symmetric G=32; Q4_1 uint4 scale_bias G=32; Q8_0 int8
 *     symmetric G=32; Q4_K uint4 scale_bias G=32 with f32 scales d*sc and
 *     biases -dmin*m; F32/F16/BF16 as they are.
 * `options` may be NULL. */
ug_status ug_checkpoint_import(ug_checkpoint *ckpt, const char *name,
                               const ug_import_options *options, ug_imported_layer **out);
void ug_imported_layer_free(ug_imported_layer *layer);

/* The canonical source, ready for ug_weights_pack. */
const ug_weight_source *ug_imported_layer_source(const ug_imported_layer *layer);
/* NULL, or k_perm[K] for an act-order GPTQ layer: column j of the source is
 * column k_perm[j] of the checkpoint's W, so Y = X . W^T is computed as
 * X' . source^T with X'[:, j] = X[:, k_perm[j]]. */
const int32_t *ug_imported_layer_k_perm(const ug_imported_layer *layer);
/* The layer's bias (<name>.bias, N elements of *type) or NULL. */
const void *ug_imported_layer_bias(const ug_imported_layer *layer, ug_dtype *type);

/* ------------------------------------------------------------------------ */
/* Quantizers (round to nearest), host memory                                 */
/* ------------------------------------------------------------------------ */

/* Quantize float weights w [N][K] (f32) into the canonical source arrays of
 * `format` (sized by ug_weight_source_sizes):
 *   scale_bias  MLX's affine scheme: per group the larger-magnitude edge is
 *               represented exactly; the scale may be negative.
 *   scale_zero  min/max asymmetric over a range that includes 0, integer zero
 *               points.
 *   symmetric   absmax: s = max|w| / (2^(bits-1) - 1).
 * Scales and biases are rounded to scale_type first and codes are chosen
 * against the rounded values. Full-precision formats convert w to storage.
 * Non-finite weights, and scales or biases that overflow scale_type (say
 * |w| > 65504 * 7 with f16 scales at 4 bits), are refused with
 * UG_ERR_INVALID_VALUE; on failure the output arrays hold no usable result. */
ug_status ug_quantize(ug_context *ctx, const ug_weight_format *format, int64_t n, int64_t k,
                      const float *w, void *codes, void *scales, void *biases, void *zeros);

/* ------------------------------------------------------------------------ */
/* Scalar conversions (round to nearest even; NaN stays NaN)                  */
/* ------------------------------------------------------------------------ */

uint16_t ug_f32_to_f16(float x);
float ug_f16_to_f32(uint16_t h);
uint16_t ug_f32_to_bf16(float x);
float ug_bf16_to_f32(uint16_t h);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* UNIGEMM_H */
