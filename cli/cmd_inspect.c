/*
 * cmd_inspect.c - `unigemm inspect FILE`: what a safetensors or GGUF file
 * holds. First the layers the library can find in it (name, source format
 * such as awq-gemm or gguf-q4_k, N x K, bits, group size, bytes, and why a
 * layer cannot be imported as it stands), then every tensor (name, type,
 * shape, bytes). Exit 1 when the file is refused, with the library's
 * message naming the field.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void print_shape(const ug_tensor_info *t)
{
    char buf[160] = "[";
    for (int32_t d = 0; d < t->ndim; d++) {
        size_t used = strlen(buf);
        snprintf(buf + used, sizeof buf - used, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    }
    strncat(buf, "]", sizeof buf - strlen(buf) - 1);
    printf("%-24s", buf);
}

int cmd_inspect(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: unigemm inspect FILE\n");
        return 2;
    }
    const char *path = argv[1];
    ug_context_options opt = UG_CONTEXT_OPTIONS_INIT;
    opt.backend = UG_BACKEND_REF; /* only for messages: inspect runs nothing */
    ug_context *ctx;
    char err[256];
    if (ug_context_create(&opt, &ctx, err, sizeof err) != UG_OK) {
        fprintf(stderr, "unigemm inspect: %s\n", err);
        return 1;
    }
    ug_checkpoint *ckpt;
    ug_status st = ug_checkpoint_open(ctx, path, &ckpt);
    if (st != UG_OK) {
        fprintf(stderr, "unigemm inspect: %s: %s\n", ug_status_str(st),
                ug_context_last_error(ctx));
        ug_context_destroy(ctx);
        return 1;
    }
    size_t layers = ug_checkpoint_layer_count(ckpt), tensors = ug_checkpoint_tensor_count(ckpt);
    printf("%s: %s, %zu tensors, %zu layers\n\n", path, ug_checkpoint_kind(ckpt), tensors, layers);
    printf("%-48s %-10s %13s %4s %5s %12s  %s\n", "layer", "source", "N x K", "bits", "group",
           "bytes", "notes");
    for (size_t i = 0; i < layers; i++) {
        ug_layer_info l;
        ug_checkpoint_layer(ckpt, i, &l);
        char shape[48] = "?", bits[16] = "?", group[16] = "-";
        if (l.n > 0 && l.k > 0)
            snprintf(shape, sizeof shape, "%lldx%lld", (long long)l.n, (long long)l.k);
        if (l.bits > 0)
            snprintf(bits, sizeof bits, "%d", l.bits);
        if (l.group_size > 0)
            snprintf(group, sizeof group, "%d", l.group_size);
        else if (strcmp(l.source, "dense") != 0)
            snprintf(group, sizeof group, "?");
        char notes[600] = "";
        if (l.act_order)
            strcat(notes, "act-order ");
        if (l.has_bias)
            strcat(notes, "bias ");
        if (l.problem != NULL)
            snprintf(notes + strlen(notes), sizeof notes - strlen(notes), "cannot import: %s",
                     l.problem);
        printf("%-48s %-10s %13s %4s %5s %12llu  %s\n", l.name, l.source, shape, bits, group,
               (unsigned long long)l.bytes, notes);
    }
    printf("\n%-48s %-8s %-24s %12s\n", "tensor", "type", "shape", "bytes");
    for (size_t i = 0; i < tensors; i++) {
        ug_tensor_info t;
        ug_checkpoint_tensor(ckpt, i, &t);
        printf("%-48s %-8s ", t.name, t.dtype);
        print_shape(&t);
        printf(" %12llu\n", (unsigned long long)t.bytes);
    }
    ug_checkpoint_close(ckpt);
    ug_context_destroy(ctx);
    return 0;
}
