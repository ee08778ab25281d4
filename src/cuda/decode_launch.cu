/*
 * decode_launch.cu - launching the decode family: sizes the grid
 * (x: the cluster's CTAs along K, y: 64-row tiles of W, z: token tiles)
 * and the shared memory of the partial tiles, and asks for a cluster when
 * the schedule splits K over several CTAs.
 */
#include "kernels.cuh"

cudaError_t ug_decode_launch(ug_decode_fn fn, const ug_decode_params *p, int tn,
                             cudaStream_t stream)
{
    int64_t tiles = (p->m - p->token_base + tn - 1) / tn;
    if (tiles > 65535)
        tiles = 65535;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3((unsigned)p->cs,
                       (unsigned)((p->out.n + UG_DECODE_ROWS_PER_CTA - 1) / UG_DECODE_ROWS_PER_CTA),
                       (unsigned)tiles);
    cfg.blockDim = dim3((unsigned)(128 * p->kw), 1, 1);
    cfg.dynamicSmemBytes = (size_t)p->kw * tn * UG_DECODE_ROWS_PER_CTA * sizeof(float);
    cfg.stream = stream;
    cudaLaunchAttribute attr[1];
    if (p->cs > 1) {
        attr[0].id = cudaLaunchAttributeClusterDimension;
        attr[0].val.clusterDim.x = (unsigned)p->cs;
        attr[0].val.clusterDim.y = 1;
        attr[0].val.clusterDim.z = 1;
        cfg.attrs = attr;
        cfg.numAttrs = 1;
    }
    return cudaLaunchKernelEx(&cfg, fn, *p);
}
