/*
 * ckpt_writer.h - test support: writers that turn canonical weights
 * (ug_weight_source: codes [N][K], scales/biases/zeros [N][K/G]) into the
 * tensors and files that MLX, AutoAWQ, AutoGPTQ/GPTQModel and llama.cpp
 * write, so that the importers can be checked against an independent
 * implementation of each layout. Written from the original projects' code,
 * sharing nothing with src/io/.
 *
 * Every function returns 0 on success and nonzero on bad arguments (an
 * unsupported bit width, a shape that does not divide, a code out of range)
 * or when memory runs out; it never aborts or prints. Outputs are malloc'ed
 * and belong to the caller (free()); on failure they are left NULL.
 * Files are little-endian whatever the host.
 */
#ifndef UG_CKPT_WRITER_H
#define UG_CKPT_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "unigemm.h"

/* GGML type numbers (ggml.h enum ggml_type) of the blocks written here. */
enum {
    TW_GGML_F32 = 0,
    TW_GGML_F16 = 1,
    TW_GGML_Q4_0 = 2,
    TW_GGML_Q4_1 = 3,
    TW_GGML_Q8_0 = 8,
    TW_GGML_Q4_K = 12,
    TW_GGML_BF16 = 30
};

/* A tensor to put in a file. safetensors reads `dtype` ("F32", "F16", "BF16",
 * "I32", "U32", "U8", "I8", "I64", and the other names of the format); GGUF
 * reads `ggml_type` (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K,
 * I8..I64, F64). shape is outermost first (PyTorch order); the GGUF writer
 * reverses it into ne[]. data holds `bytes` bytes: elements of the dtype in
 * host order (stored little-endian), or GGUF blocks as bytes in file order.
 * bytes must match the shape and type. */
typedef struct tw_tensor {
    const char *name;
    const char *dtype;
    uint32_t ggml_type;
    int ndim; /* 0..4 */
    int64_t shape[4];
    const void *data;
    size_t bytes;
} tw_tensor;

/* safetensors file image: u64 header length, JSON header ("__metadata__"
 * {"format": "pt", plus the members of metadata_json, a JSON object text of
 * string values, or NULL}, then one entry per tensor), padded with spaces to a
 * multiple of 8 like the reference writer; then the tensors' data in the
 * given order, contiguous. Names must be distinct. */
uint8_t *tw_safetensors_image(const tw_tensor *t, int count, const char *metadata_json,
                              size_t *size);

/* GGUF v3 file image: magic, version 3, tensor count, KV count 3; KVs
 * general.architecture = "llama" (string), general.alignment = alignment
 * (uint32), tw.test.sequence = [1, 2, 3] (array of uint32); tensor infos
 * (name, n_dims, ne[] innermost first, ggml type, offset); zero padding to
 * `alignment` (a power of two); the data section, each tensor at a multiple
 * of alignment and padded to one. */
uint8_t *tw_gguf_image(const tw_tensor *t, int count, uint32_t alignment, size_t *size);

/* Write size bytes to path (created or truncated). */
int tw_write_file(const char *path, const uint8_t *bytes, size_t size);

/* MLX affine `weight`: uint32 [N][K*bits/32] (*cols = K*bits/32), each row a
 * little-endian bit stream of the codes along k, code k at bits
 * [k*bits, (k+1)*bits) of the row (3/5/6-bit codes straddle bytes and words).
 * bits 2, 3, 4 from uint4 codes, bits 2..8 (not 7) from uint8 codes; each
 * code < 2^bits. K*bits must be a multiple of 32. scales and biases need no
 * packing: MLX keeps them [N][K/G] like the canonical layout. */
int tw_mlx_pack(const ug_weight_source *src, int bits, uint32_t **weight, int64_t *cols);

/* AutoAWQ WQLinear_GEMM from uint4 scale_zero f16 weights (N % 8 == 0):
 * qweight i32 [K][N/8], qzeros i32 [K/G][N/8], nibble i of word c holding
 * column 8c + {0,2,4,6,1,3,5,7}[i]; scales f16 [K/G][N]; zeros as they are. */
int tw_awq_gemm_pack(const ug_weight_source *src, int32_t **qweight, int32_t **qzeros,
                     uint16_t **scales);

/* AutoAWQ WQLinear_GEMV from uint4 scale_zero f16 weights (N % 8 == 0,
 * K % 8 == 0, G 32, 64, 128 or more; -1 counts as G = K): qweight i32
 * [N][K/8] (nibble i of word c is k = 8c + i), qzeros i32 [N][zeros_width]
 * (nibble i of word c is group 8c + i), scales f16 [N][zeros_width*8]
 * (group g at column g), where zeros_width = ceil(ceil((K/G)/8) / m) * m with
 * m = 1 for G >= 128, 2 for G = 64, 4 for G = 32; padding is 0. */
int tw_awq_gemv_pack(const ug_weight_source *src, int32_t **qweight, int32_t **qzeros,
                     int64_t *zeros_width, uint16_t **scales, int64_t *scales_width);

/* GPTQ (AutoGPTQ / GPTQModel) from f16 scale_zero or symmetric weights:
 * bits 4 (uint4 codes), 8 (uint8 codes) or 2 (uint4 codes and zeros < 4,
 * scale_zero only: symmetric uint4 means z = 8, which 2 bits cannot hold).
 * Symmetric weights get z = 2^(bits-1). version 1 stores (z - 1) mod 2^bits
 * in each field (AutoGPTQ's pack; z = 0 wraps to all ones within its field),
 * version 2 stores z. k_perm NULL: plain order, g_idx[k] = k/G; else a
 * permutation of 0..K-1 for act-order: canonical column j is file column
 * k_perm[j], g_idx[k_perm[j]] = j/G. K*bits and N*bits multiples of 32.
 *   qweight i32 [K*bits/32][N]: bits [b*i, b*(i+1)) of row r are file k = r*32/b + i
 *   qzeros  i32 [K/G][N*bits/32]: bits [b*i, b*(i+1)) of word c are n = c*32/b + i
 *   scales  f16 [K/G][N]; g_idx i32 [K] */
int tw_gptq_pack(const ug_weight_source *src, int bits, int version, const int32_t *k_perm,
                 int32_t **qweight, int32_t **qzeros, uint16_t **scales, int32_t **g_idx);

/* GGUF blocks of rows [N][K] (K % 32 == 0), row after row, blocks along k.
 *   Q4_0 (18 bytes): uint4 symmetric G=32 f16: f16 d; qs[j] = q[j] | q[j+16] << 4.
 *   Q8_0 (34 bytes): int8 symmetric G=32 f16: f16 d; int8 qs[32].
 *   Q4_1 (20 bytes): uint4 scale_bias G=32 f16: f16 d, f16 m (the bias); qs as Q4_0.
 * *bytes = N * K/32 * block size. */
int tw_gguf_q4_0(const ug_weight_source *src, uint8_t **blocks, size_t *bytes);
int tw_gguf_q8_0(const ug_weight_source *src, uint8_t **blocks, size_t *bytes);
int tw_gguf_q4_1(const ug_weight_source *src, uint8_t **blocks, size_t *bytes);

/* GGUF Q4_K super-blocks (144 bytes per 256 k; K % 256 == 0) from their
 * parameters: codes uint4 [N][K/2] canonical, d and dmin f16 bit patterns
 * [N][K/256], sc and m 6-bit values [N][K/32]; sub-block j of 32 holds
 * w = d*sc[j]*q - dmin*m[j]. Block: f16 d, f16 dmin, 12 bytes of scales
 * (j < 4: sc in byte j, m in byte j+4, low 6 bits; j >= 4: low nibbles of sc
 * and m in byte j+4, their top two bits in bits 6-7 of bytes j-4 and j),
 * 128 bytes qs (byte 32c + l: k = 64c + l low nibble, 64c + 32 + l high). */
int tw_gguf_q4_k(int64_t n, int64_t k, const uint8_t *codes, const uint16_t *d,
                 const uint16_t *dmin, const uint8_t *sc, const uint8_t *m, uint8_t **blocks,
                 size_t *bytes);

#endif /* UG_CKPT_WRITER_H */
