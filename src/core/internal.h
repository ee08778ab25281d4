/*
 * internal.h - what the library's parts share and the public header hides:
 * the layout of the opaque handles, the per-backend operation table, the
 * error helper and the checked size arithmetic.
 *
 * Every backend fills one ug_backend_ops. The core checks every argument
 * before it calls into a backend, so backends may assume valid shapes,
 * formats, strides and non-NULL pointers.
 */
#ifndef UG_INTERNAL_H
#define UG_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "unigemm.h"

#define UG_ERROR_CAPACITY 2048

/* What the library knows of each data type: one row per ug_dtype. */
typedef struct ug_dtype_traits {
    const char *name;           /* wire name */
    int32_t bits;               /* per element */
    bool is_float;              /* f32, f16, bf16: activations, outputs, scales, dense weights */
    bool is_code;               /* integer codes of quantized weights */
    int32_t code_min, code_max; /* range of a code (and of a zero point) */
    int32_t mid;                /* the symmetric method's zero: 2^(bits-1) unsigned, 0 signed */
} ug_dtype_traits;

/* ... and of each quantization method. */
typedef struct ug_method_traits {
    const char *name;  /* wire name */
    const char *alias; /* the checkpoint world's name, or NULL */
    bool has_bias;     /* a float bias per group */
    bool has_zero;     /* an integer zero point per group */
} ug_method_traits;

/* The row of a type or method; NULL when the value is out of range. */
const ug_dtype_traits *ug_dtype_traits_of(ug_dtype dtype);
const ug_method_traits *ug_method_traits_of(ug_method method);

/* A weight format with everything derived from it resolved for one shape. */
typedef struct ug_layout {
    ug_weight_format format;
    int64_t n, k;
    int64_t group;          /* G resolved: K for per-channel, 0 for full precision */
    int64_t groups_per_row; /* K / G, 0 for full precision */
    int bits;               /* bits per stored element */
    bool quantized;
    bool is_signed;                  /* signed integer codes */
    int32_t code_min, code_max, mid; /* of the storage type (quantized only) */
    size_t codes_bytes, scales_bytes, biases_bytes, zeros_bytes;
} ug_layout;

typedef struct ug_backend_ops ug_backend_ops;

/* Instruction sets of the cpu backend's kernels, lowest first. */
typedef enum ug_cpu_isa {
    UG_CPU_ISA_PORTABLE = 0,
    UG_CPU_ISA_AVX2,   /* AVX2 + FMA + F16C */
    UG_CPU_ISA_AVX512, /* AVX-512 F/BW/VL + FMA + F16C */
    UG_CPU_ISA_COUNT_
} ug_cpu_isa;

/* Wire name of an instruction set ("portable", "avx2", "avx512"). */
const char *ug_cpu_isa_name(ug_cpu_isa isa);
/* The best instruction set this CPU and OS run. */
ug_cpu_isa ug_cpu_isa_best(void);
/* The instruction set a cpu context uses: the best one, or the one the
 * environment variable UG_CPU_ISA names (to test or compare lower paths).
 * An unknown name gives UG_ERR_UNKNOWN_NAME, one the CPU lacks
 * UG_ERR_UNSUPPORTED, with the reason in `why`. */
ug_status ug_cpu_isa_choose(ug_cpu_isa *isa, char *why, size_t why_size);
/* "cpu <brand string> (<isa>)": the processor as CPUID names it. */
void ug_cpu_device_id(ug_cpu_isa isa, char *buf, size_t size);

/* A loaded tuning table (src/dispatch/tuning.h). */
typedef struct ug_tuning ug_tuning;

#define UG_DEVICE_ID_CAPACITY 192

struct ug_context {
    ug_backend backend;
    const ug_backend_ops *ops;
    int32_t num_threads;
    ug_cpu_isa cpu_isa; /* cpu backend: the kernels' instruction set */
    int32_t device;
    void *stream;
    pthread_mutex_t error_lock;
    char error[UG_ERROR_CAPACITY];
    char device_id[UG_DEVICE_ID_CAPACITY]; /* what tuning tables are made for */
    pthread_mutex_t tuning_lock;           /* guards `tuning` */
    ug_tuning *tuning;                     /* NULL, or the loaded table */
};

struct ug_packed_weights {
    ug_backend backend;
    int32_t device;
    ug_layout layout;
    const ug_backend_ops *ops;
    void *data; /* backend-specific packed layout */
};

struct ug_plan {
    ug_context *ctx;
    const ug_backend_ops *ops;
    ug_gemm_desc desc;    /* with lda/ldc resolved (never 0) */
    ug_layout layout;     /* of the weights the plan was made for */
    const char *schedule; /* static string owned by the backend */
    size_t workspace_bytes;
    void *backend_plan; /* backend-specific, may be NULL */
};

struct ug_backend_ops {
    const char *name;
    /* Copy a checked source into the backend's layout; sets w->data. */
    ug_status (*weights_pack)(ug_context *ctx, const ug_weight_source *src, ug_packed_weights *w);
    void (*weights_free)(ug_packed_weights *w);
    /* Write the canonical arrays back (host pointers, sized by the layout). */
    ug_status (*weights_unpack)(ug_context *ctx, const ug_packed_weights *w, void *codes,
                                void *scales, void *biases, void *zeros);
    /* Pick (or check a forced) schedule; set plan->schedule, workspace_bytes. */
    ug_status (*plan_init)(ug_context *ctx, ug_plan *plan, const char *forced_schedule);
    void (*plan_free)(ug_plan *plan);
    ug_status (*execute)(const ug_plan *plan, const ug_packed_weights *w, const void *a, void *c,
                         const void *bias, void *workspace);
    ug_status (*embedding)(ug_context *ctx, const ug_packed_weights *table, const int32_t *ids,
                           int64_t count, ug_dtype out_type, void *out, int64_t ldo);
    /* One line naming the device (ctx->backend, device and cpu_isa are set). */
    void (*device_id)(const ug_context *ctx, char *buf, size_t size);
};

/* Backend tables. */
extern const ug_backend_ops ug_ref_ops;
extern const ug_backend_ops ug_cpu_ops;

/* The cuda backend's table when `device` can run its kernels; otherwise
 * NULL, with the status (UG_ERR_BACKEND_UNAVAILABLE, UG_ERR_INVALID_VALUE,
 * UG_ERR_UNSUPPORTED, UG_ERR_DEVICE) and a message that says why. */
const ug_backend_ops *ug_cuda_backend_ops(int32_t device, ug_status *status, char *why,
                                          size_t why_size);

/* Record a formatted message in ctx (if not NULL) and return `status`. */
ug_status ug_fail(ug_context *ctx, ug_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Check a weight format and a shape; fill `layout`. Messages name the field. */
ug_status ug_layout_make(ug_context *ctx, const ug_weight_format *format, int64_t n, int64_t k,
                         ug_layout *layout);

/* A description struct's version is one this library can read (1..current). */
static inline bool ug_version_ok(uint32_t version)
{
    return version >= 1 && version <= UG_STRUCT_VERSION;
}

/* UG_ERR_MISALIGNED naming `what` unless p is a multiple of `align` (NULL
 * passes: NULL checks come first). */
ug_status ug_check_aligned(ug_context *ctx, const void *p, size_t align, const char *what);

/* Whether [p, p + p_bytes) and [q, q + q_bytes) share a byte. */
bool ug_ranges_overlap(const void *p, size_t p_bytes, const void *q, size_t q_bytes);

/* Checked arithmetic: false on overflow or a negative operand. */
bool ug_mul_size(size_t a, size_t b, size_t *out);
bool ug_mul_i64(int64_t a, int64_t b, int64_t *out);

/* Bytes of one element of a floating type (4 or 2); 0 otherwise. */
size_t ug_float_bytes(ug_dtype dtype);
bool ug_is_float(ug_dtype dtype);

/* Load element i of a float array of `dtype` (f32/f16/bf16) as double. */
double ug_load_float(const void *base, ug_dtype dtype, int64_t i);
/* Store v rounded to `dtype` (f32/f16/bf16) at element i. */
void ug_store_float(void *base, ug_dtype dtype, int64_t i, double v);

/* Code k of a canonical codes row of `bits` (4 or 8), as an integer. */
int32_t ug_code_at(const uint8_t *row, int bits, bool is_signed, int64_t k);
/* Store code q (its low `bits` bits: two's complement for signed codes) as
 * code k of a canonical codes row; the other nibble of a 4-bit byte stays. */
void ug_code_put(uint8_t *row, int bits, int64_t k, int32_t q);

#endif /* UG_INTERNAL_H */
