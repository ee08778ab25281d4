/*
 * gpu_layout.cuh - the one prepacked weight layout that every CUDA kernel
 * reads, shared by the host (pack, unpack) and the device (GEMM, embedding).
 *
 * W [N][K] is cut into row blocks of 16 rows and chunks of 64 k. One chunk
 * (16 x 64 elements) holds, for each lane of a warp, the mma.m16n8k16 "A"
 * fragments of its four k16 steps, so that a warp reads a chunk with
 * bits/4 coalesced 16-byte loads per lane (512 bytes per warp each) and
 * feeds tensor-core instructions without any shuffle. The same fragment
 * order is what a wgmma warpgroup holds for a register-sourced operand
 * (warp w owning rows 16w..16w+15), so the large-M kernel reads it too.
 *
 * Inside one k16 step, lane l = 4g + t holds 8 elements, numbered
 *     idx 0,1: row g,     k 2t, 2t+1       idx 2,3: row g+8, k 2t, 2t+1
 *     idx 4,5: row g,     k 2t+8, 2t+9     idx 6,7: row g+8, k 2t+8, 2t+9
 * (register r of the fragment is the pair idx 2r, 2r+1, low half first).
 * Where each element lives, per storage width (offsets inside a chunk):
 *     4-bit:  lane*16 + step*4, nibble (idx>>1) + 4*(idx&1): one u32 per step,
 *             so that (x >> 4r) & 0x000F000F is register r's pair
 *     8-bit:  (step>>1)*512 + lane*16 + (step&1)*8 + idx
 *     16-bit: step*512 + lane*16 + idx*2
 *     32-bit: (2*step + (idx>>2))*512 + lane*16 + (idx&3)*4
 * Chunks are stored row block by row block: chunk (nb, c) at
 * (nb * chunks + c) * unit_bytes, unit_bytes = chunk_bytes + rec_bytes,
 * chunk_bytes = 128 * bits.
 *
 * Records: 4- and 8-bit codes with 16-bit scales and groups of 64 k or more
 * (or one per row) follow each chunk with its 16 rows' group parameters
 * (rec_bytes = 64): row r's 32-bit word r holds the scale's bits in its low
 * half and in its high half the bias's bits (scale_bias), else the biased
 * zero point, else the code offset. So the large-M kernel brings a chunk's
 * parameters with its codes in one tensor copy. They repeat what the
 * group-major arrays below hold (for G = 128, twice per group), which the
 * decode and embedding kernels read: 64 bytes per 512 of 4-bit codes.
 *
 * Signed codes are stored biased (two's complement XOR 0x8 / 0x80, i.e.
 * q + 8 / q + 128) so that every kernel sees unsigned codes; zero points
 * likewise. Scales, biases and zero points are stored group-major,
 * [groups][n_pad], in their source type, so a warp reads the 16 rows of a
 * row block with one short contiguous load. N is padded to a multiple of 256
 * and K to a multiple of 64 with zero codes and zero scales (padded
 * weights dequantize to finite values; kernels zero the activations beyond
 * K, so padding never reaches a result).
 */
#ifndef UG_GPU_LAYOUT_CUH
#define UG_GPU_LAYOUT_CUH

#include <stddef.h>
#include <stdint.h>

#define UG_GPU_BLOCK_ROWS 16 /* rows of a row block (one mma A tile) */
#define UG_GPU_CHUNK_K 64    /* k of a chunk (four k16 steps) */
#define UG_GPU_N_ALIGN 256   /* N padded to this: the large-M kernel's largest row tile */

typedef struct ug_gpu_layout {
    int bits;            /* 4, 8 (biased codes), 16 or 32 (floats) */
    int64_t n, k;        /* logical shape */
    int64_t n_pad, k_pad;
    int64_t row_blocks;  /* n_pad / 16 */
    int64_t chunks;      /* k_pad / 64, per row block */
    int64_t chunk_bytes; /* 128 * bits */
    int64_t rec_bytes;   /* 64 where each chunk carries a record (above), else 0 */
    int64_t unit_bytes;  /* chunk_bytes + rec_bytes: from one chunk to the next */
    int64_t groups;      /* group rows stored: ceil(k_pad / G), 1 per channel */
    int group_shift;     /* log2(G), or -1 for per-channel (one group per row) */
    int scale_bytes;     /* 0 (full precision), 2 or 4 */
    size_t codes_off, scales_off, biases_off, zeros_off, total_bytes;
} ug_gpu_layout;

/* Byte offset of element (n, k) from the codes base, and for 4-bit codes
 * the nibble's bit shift inside that byte (0 or 4). */
#ifdef __CUDACC__
__host__ __device__
#endif
static inline int64_t ug_gpu_code_offset(const ug_gpu_layout *L, int64_t n, int64_t k, int *shift)
{
    int64_t nb = n >> 4, c = k >> 6;
    int r = (int)(n & 15), kk = (int)(k & 63);
    int step = kk >> 4, col = kk & 15;
    int lane = (r & 7) * 4 + ((col & 7) >> 1);
    int idx = (col >> 3) * 4 + (r >> 3) * 2 + (col & 1);
    int64_t base = (nb * L->chunks + c) * L->unit_bytes;
    *shift = 0;
    switch (L->bits) {
    case 4: {
        int nibble = (idx >> 1) + 4 * (idx & 1);
        *shift = (nibble & 1) * 4;
        return base + lane * 16 + step * 4 + (nibble >> 1);
    }
    case 8:
        return base + (step >> 1) * 512 + lane * 16 + (step & 1) * 8 + idx;
    case 16:
        return base + step * 512 + lane * 16 + idx * 2;
    default:
        return base + (2 * step + (idx >> 2)) * 512 + lane * 16 + (idx & 3) * 4;
    }
}

#endif /* UG_GPU_LAYOUT_CUH */
