/*
 * config.c - the quantization settings that live beside a safetensors file
 * rather than in it: config.json ("quantization" written by MLX, with
 * per-layer overrides; "quantization_config" written by transformers for AWQ
 * and GPTQ) and quantize_config.json (AutoGPTQ, GPTQModel). Parsed with
 * jansson; a file that is present but not JSON is an error naming it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "io.h"

static int32_t get_int(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return 0;
    json_int_t x = json_integer_value(v);
    return x >= INT32_MIN && x <= INT32_MAX ? (int32_t)x : 0;
}

static void get_lower(json_t *obj, const char *key, char *out, size_t size)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || size == 0)
        return;
    const char *s = json_string_value(v);
    size_t i = 0;
    for (; s[i] != '\0' && i + 1 < size; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    out[i] = '\0';
}

/* Fold one quantization object into the config. */
static void take_quantization(io_config *cfg, json_t *q, bool mlx)
{
    if (!json_is_object(q))
        return;
    if (get_int(q, "bits"))
        cfg->bits = get_int(q, "bits");
    if (get_int(q, "w_bit")) /* AutoAWQ's quant_config.json spelling */
        cfg->bits = get_int(q, "w_bit");
    if (get_int(q, "group_size"))
        cfg->group_size = get_int(q, "group_size");
    if (get_int(q, "q_group_size"))
        cfg->group_size = get_int(q, "q_group_size");
    get_lower(q, "quant_method", cfg->quant_method, sizeof cfg->quant_method);
    get_lower(q, "version", cfg->awq_version, sizeof cfg->awq_version);
    char format[16] = "";
    get_lower(q, "checkpoint_format", format, sizeof format);
    if (strcmp(format, "gptq") == 0)
        cfg->gptq_version = 1;
    else if (strcmp(format, "gptq_v2") == 0)
        cfg->gptq_version = 2;
    if (mlx) {
        get_lower(q, "mode", cfg->mlx_mode, sizeof cfg->mlx_mode);
        snprintf(cfg->quant_method, sizeof cfg->quant_method, "mlx");
        json_decref((json_t *)cfg->mlx_overrides);
        cfg->mlx_overrides = json_incref(q);
    }
}

/* Read `dir`/`file` if it exists. */
static ug_status read_one(ug_checkpoint *ckpt, const char *dir, const char *file, bool top_level)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s%s", dir, file) >= (int)sizeof path)
        return UG_OK;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return UG_OK; /* absent: nothing to read */
    json_error_t jerr;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (root == NULL)
        return ug_fail(ckpt->ctx, UG_ERR_FILE_FORMAT, "%s: %s (line %d)", path, jerr.text,
                       jerr.line);
    if (top_level) {
        take_quantization(&ckpt->config, root, false);
    } else {
        take_quantization(&ckpt->config, json_object_get(root, "quantization_config"), false);
        take_quantization(&ckpt->config, json_object_get(root, "quantization"), true);
    }
    json_decref(root);
    return UG_OK;
}

ug_status io_config_read(ug_checkpoint *ckpt, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    char dir[4096];
    if (dir_len >= sizeof dir)
        return UG_OK;
    memcpy(dir, path, dir_len);
    dir[dir_len] = '\0';
    ug_status st = read_one(ckpt, dir, "quantize_config.json", true);
    if (st == UG_OK)
        st = read_one(ckpt, dir, "quant_config.json", true);
    if (st == UG_OK)
        st = read_one(ckpt, dir, "config.json", false);
    return st;
}

void io_config_free(io_config *config)
{
    json_decref((json_t *)config->mlx_overrides);
    config->mlx_overrides = NULL;
}

void io_config_mlx_layer(const io_config *config, const char *layer, int32_t *bits,
                         int32_t *group_size)
{
    json_t *o = json_object_get((json_t *)config->mlx_overrides, layer);
    if (!json_is_object(o))
        return;
    if (get_int(o, "bits"))
        *bits = get_int(o, "bits");
    if (get_int(o, "group_size"))
        *group_size = get_int(o, "group_size");
}
