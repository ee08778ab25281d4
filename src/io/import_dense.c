/*
 * import_dense.c - full-precision layers: a 2-D F32, F16 or BF16 tensor
 * [N, K] (safetensors <name>.weight, or a GGUF tensor with ne = [K, N]) is
 * already the canonical layout; its bytes are copied as they are.
 */
#include "io.h"

ug_status io_import_dense(ug_checkpoint *ckpt, const io_layer *layer, ug_imported_layer *out)
{
    const io_tensor *t = &ckpt->tensors[layer->main];
    ug_weight_format fmt = {UG_DTYPE_NONE, UG_METHOD_NONE, 0, UG_DTYPE_NONE};
    ug_status st = io_float_type(ckpt, t, "weight", &fmt.storage);
    if (st == UG_OK)
        st = io_alloc_source(ckpt, layer, &fmt, layer->n, layer->k, out);
    if (st == UG_OK)
        memcpy(out->codes, t->data, (size_t)t->bytes);
    return st;
}
