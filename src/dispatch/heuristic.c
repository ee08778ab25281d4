/*
 * heuristic.c - the default schedules (heuristic.h). Every threshold below
 * names the measurements it was read from; docs/heuristics.md tabulates
 * them and tests/test_heuristic.c replays the recorded files against these
 * functions.
 */
#include <stdio.h>

#include "heuristic.h"

/* The first registered schedule of a family (what a spec that dropped the
 * preferred tile leaves), or NULL. */
static const ug_schedule_info *first_of(ug_backend backend, ug_family family, int isa)
{
    for (int i = 0; i < ug_schedule_count_all; i++)
        if (ug_schedules[i].backend == backend && ug_schedules[i].family == family &&
            (backend != UG_BACKEND_CPU || ug_schedules[i].isa == isa))
            return &ug_schedules[i];
    return NULL;
}

/* ---- cpu ------------------------------------------------------------------- */

/* Decode while M is at most this, per instruction set: where the two
 * families cross with uint4 g128 weights on 2 threads.
 *   avx512    16: xeon-h200-host/cpu-sweep-{decode,prefill}.csv, 14336x4096:
 *                 decode ahead at M = 16 (9.6 vs 12.7 ms), behind at 32
 *                 (18.7 vs 14.9 ms);
 *   avx2      64: cpu-sweep-{decode,prefill}.csv, 14336x4096: decode ahead
 *                 through M = 64 (51.2 vs 55.5 ms), behind at 256 (206 vs
 *                 187 ms);
 *   portable   8: cpu-portable-sweep.csv, 2048x1024: decode ahead at M = 4
 *                 (12.8 vs 15.7 ms), behind at 16 (51 vs 37 ms); a noisier
 *                 earlier run on the same VM had decode ahead at 16, so the
 *                 cut sits between the two. */
static int64_t cpu_decode_max_m(ug_cpu_isa isa)
{
    return isa == UG_CPU_ISA_AVX2 ? 64 : isa == UG_CPU_ISA_AVX512 ? 16 : 8;
}

const ug_schedule_info *ug_heuristic_cpu(ug_cpu_isa isa, int64_t m, int64_t n, int64_t k,
                                         const ug_weight_format *format)
{
    (void)n, (void)k, (void)format;
    /* a build restricted to lower instruction sets runs the best it has */
    for (int i = (int)isa; i >= 0; i--) {
        ug_family family =
            m <= cpu_decode_max_m((ug_cpu_isa)i) ? UG_FAMILY_CPU_DECODE : UG_FAMILY_CPU_PREFILL;
        const ug_schedule_info *s = first_of(UG_BACKEND_CPU, family, i);
        if (s != NULL)
            return s;
    }
    return NULL;
}

/* ---- cuda (sm_90) ------------------------------------------------------------ */

/* The decode family runs M up to this many tokens, the wgmma family above
 * (bench/results/h200-schedules.csv, h200-schedules-dense-small-m.csv): at
 * M = 16 the wgmma kernel is ahead for every weight type (uint4: 19.7 vs
 * 46.8 us at N = 14336, K = 4096, 24.1 vs 65.9 at N = 4096, K = 14336;
 * bf16: 35.2 vs 49.0, 35.5 vs 70.0), and for bf16 already at M = 12 (57.2
 * vs 60.2 us, an earlier kernel); the
 * decode family keeps M <= 8, where its 8-token tile wastes nothing. */
#define CUDA_DECODE_MAX_M 8

/* The decode schedule (measured on an H200, bench/results/h200-*.csv): the
 * smallest token tile that holds M (64 above); two warps along K per row
 * block; a cluster along K only while the grid has fewer CTAs than SMs
 * (the cluster's reduction and co-scheduling cost more than they bring on
 * larger grids). */
static const ug_schedule_info *choose_mma(const ug_cuda_class *dev, int64_t m, int64_t n,
                                          int64_t chunks)
{
    int tn = m <= 8 ? 8 : m <= 16 ? 16 : m <= 32 ? 32 : 64;
    int64_t token_tiles = (m + tn - 1) / tn;
    int64_t ctas = (n + 63) / 64 * token_tiles;
    int kw = chunks >= 4 ? 2 : 1;
    int cs = 1;
    while (cs < 8 && ctas * cs < dev->sms && chunks >= 4 * kw * cs * 2)
        cs *= 2;
    char name[32];
    snprintf(name, sizeof name, "mma-t%d-w%d-c%d", tn, kw, cs);
    const ug_schedule_info *s = ug_registry_schedule(UG_BACKEND_CUDA, name);
    return s ? s : first_of(UG_BACKEND_CUDA, UG_FAMILY_CUDA_MMA, 0);
}

/* The wgmma schedule, read off bench/results/h200-schedules.csv (every
 * schedule forced at M = 16..4096 on K x N = 4096x14336, 14336x4096 and
 * 8192x28672 and at M = 16..64 on 28672x8192, uint4 g128 and bf16 weights,
 * session 21): 128-row tiles; the widest token
 * tile up to the power of two that holds M (16..256: narrow wgmmas cost
 * more per flop; at M = 16 the 16-token tile beat the 32-token one by 2-24 %
 * for uint4 and tied it for bf16), but not below 64 tokens from M = 64 on;
 * K over two CTAs only when the tiles alone would leave more than a quarter
 * of the SMs idle (four never won); failing all, the pair that makes the
 * most CTAs within one wave. Quantized weights at M = 9..128 first try the
 * one token tile that holds M over a grid sharing all tiles (below); 256-row
 * tiles where they turn a second, partial round of 128-row tiles into one
 * round, and for 16-bit weights at M >= 4096 (below). */
static const ug_schedule_info *choose_wg(const ug_cuda_class *dev, int64_t m, int64_t n,
                                         int64_t chunks, int bits)
{
    const bool quantized = bits <= 8;
    const int64_t row_tiles = (n + 127) / 128;
    const int top = m <= 16 ? 16 : m <= 32 ? 32 : m <= 64 ? 64 : m <= 128 ? 128 : 256;
    const int bottom = top < 64 ? top : 64;
    char name[32];
    /* Quantized weights at M = 9..128 on few row tiles and a long K: one
     * token tile holding M, the grid sharing all tiles by chunks over every
     * SM (ug_wg_shares_all_tiles), so each weight is converted once per CTA
     * that reads it (h200-session7-experiments.txt: int4, K = 14336, N =
     * 4096, 34 against 52 us at M = 64, 41 against 52 us at M = 128; bf16
     * weights, which need no conversion, gained nothing) - unless that tile
     * over clusters of two CTAs along K already fills three quarters of the
     * SMs: then the pair wins (int4, K = 28672, N = 8192, 64 row tiles: 52.2
     * against 56.4 us at M = 16, 69.5 against 74.2 us at M = 64). */
    if (quantized && m > 8 && m <= 128) {
        const int64_t tiles = row_tiles * ((m + top - 1) / top);
        if (ug_wg_shares_all_tiles(tiles, chunks, dev->sms) &&
            4 * 2 * tiles < 3 * (int64_t)dev->sms) {
            snprintf(name, sizeof name, "wg-n128-t%d-s1", top);
            const ug_schedule_info *sch = ug_registry_schedule(UG_BACKEND_CUDA, name);
            if (sch != NULL)
                return sch;
        }
    }
    /* 256-row tiles of 128 tokens (two 64-row batches per consumer
     * warpgroup, half the activation bytes per multiply-add):
     *   - at M = 65..128 where 128-row tiles need more than one round but
     *     the 256-row ones fit in one (N = 28672, K = 8192, M = 128: 224
     *     against 112 tiles; bf16 weights 130.6 against 142.1 us, uint4 102.1 against
     *     103.6 us);
     *   - 16-bit weights from M = 4096 (the weight tile is the larger
     *     operand there: 686.5 against 723.6 us at N = 4096, K = 14336,
     *     728.5 against 733.8 at N = 14336, K = 4096, even at N = 28672,
     *     K = 8192). */
    if ((m > 64 && m <= 128 && row_tiles > dev->sms && row_tiles <= 2 * (int64_t)dev->sms) ||
        (bits == 16 && m >= 4096)) {
        const ug_schedule_info *wide = ug_registry_schedule(UG_BACKEND_CUDA, "wg-n256-t128-s1");
        if (wide != NULL)
            return wide;
    }
    const ug_schedule_info *best = NULL;
    int64_t best_ctas = -1;
    for (int t = top; t >= bottom; t /= 2)
        for (int s = 1; s <= 2; s++) {
            if (s > 1 && chunks < 16)
                continue;
            snprintf(name, sizeof name, "wg-n128-t%d-s%d", t, s);
            const ug_schedule_info *sch = ug_registry_schedule(UG_BACKEND_CUDA, name);
            if (sch == NULL)
                continue;
            int64_t ctas = row_tiles * ((m + t - 1) / t) * s;
            /* 4-bit weights on 256-token tiles over three rounds or more:
             * pairs of CTAs share each A tile (TMA multicast), which halves
             * the activation bytes L2 sends; on the H200 +1.7-3.6 % at
             * M = 4096 on all five layers, +1-2 % from 448 tiles, -2 % at 128
             * tiles and on 128-token tiles (h200-session9-experiments.txt) */
            if (bits == 4 && t == 256 && s == 1 && ctas >= 3 * (int64_t)dev->sms) {
                const ug_schedule_info *shared =
                    ug_registry_schedule(UG_BACKEND_CUDA, "wg-n128-t256-s1-a2");
                if (shared != NULL)
                    return shared;
            }
            if (4 * ctas >= 3 * (int64_t)dev->sms)
                return sch;
            if (ctas <= dev->sms && ctas > best_ctas) {
                best_ctas = ctas;
                best = sch;
            }
        }
    return best ? best : first_of(UG_BACKEND_CUDA, UG_FAMILY_CUDA_WG, 0);
}

const ug_schedule_info *ug_heuristic_cuda(const ug_cuda_class *dev, int64_t m, int64_t n,
                                          int64_t k, const ug_weight_format *format)
{
    const int64_t chunks = (k + 63) / 64;
    const ug_schedule_info *s = NULL;
    if (m > CUDA_DECODE_MAX_M)
        s = choose_wg(dev, m, n, chunks, ug_dtype_bits(format->storage));
    return s ? s : choose_mma(dev, m, n, chunks);
}

const ug_schedule_info *ug_heuristic_cuda_decode(const ug_cuda_class *dev, int64_t m, int64_t n,
                                                 int64_t k)
{
    return choose_mma(dev, m, n, (k + 63) / 64);
}
