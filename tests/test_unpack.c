/*
 * test_unpack.c - packed weights give back their canonical source arrays
 * byte for byte (ug_weights_unpack), for every format of hx_all_formats on
 * every available backend, [N=13][K] with K two or three groups. The source
 * buffers are overwritten after packing (pack must copy them), the output
 * buffers carry guard bytes that must stay untouched, the sizes of
 * ug_weight_source_sizes match sizes computed here, and ug_weights_describe
 * reports the format and shape as given (group -1 stays -1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define MAX_FORMATS 256
#define N 13
#define GUARD 16

static int64_t k_for(const ug_weight_format *f)
{
    if (f->method == UG_METHOD_NONE || f->group_size == UG_GROUP_PER_CHANNEL)
        return 96;
    return f->group_size == 32 ? 96 : 2 * f->group_size;
}

/* Sizes of the canonical arrays, worked out from the layout description. */
static void expected_sizes(const ug_weight_format *f, int64_t k, size_t sizes[4])
{
    if (f->method == UG_METHOD_NONE) {
        sizes[0] = (size_t)(N * k) * tu_float_bytes(f->storage);
        sizes[1] = sizes[2] = sizes[3] = 0;
        return;
    }
    int bits = f->storage == UG_U4 || f->storage == UG_I4 ? 4 : 8;
    size_t groups = (size_t)(N * (k / tu_group(f, k)));
    sizes[0] = (size_t)(N * k) * (size_t)bits / 8;
    sizes[1] = groups * tu_float_bytes(f->scale_type);
    sizes[2] = f->method == UG_METHOD_SCALE_BIAS ? sizes[1] : 0;
    sizes[3] = f->method == UG_METHOD_SCALE_ZERO ? groups : 0;
}

static void check_backend(ug_backend backend)
{
    hx_rng r = tu_rng(ug_backend_name(backend));
    ug_context *ctx = tu_context(backend, 1);
    ug_weight_format formats[MAX_FORMATS];
    size_t count = hx_all_formats(formats, MAX_FORMATS);
    static const char *const array_names[4] = {"codes", "scales", "biases", "zeros"};
    for (size_t fi = 0; fi < count; fi++) {
        const ug_weight_format *f = &formats[fi];
        char name[96];
        hx_format_str(f, name, sizeof name);
        int64_t k = k_for(f);
        size_t want[4], got[4];
        expected_sizes(f, k, want);
        assert_int_equal(
            ug_weight_source_sizes(ctx, f, N, k, &got[0], &got[1], &got[2], &got[3]), UG_OK);
        for (int a = 0; a < 4; a++)
            TU_CHECK(got[a] == want[a], "%s: %s is %zu bytes, expected %zu", name,
                     array_names[a], got[a], want[a]);

        hx_weights hw;
        assert_int_equal(hx_weights_make(ctx, f, N, k, &r, &hw), UG_OK);
        ug_packed_weights *w = NULL;
        ug_status st = ug_weights_pack(ctx, &hw.src, &w);
        TU_CHECK(st == UG_OK, "%s on %s: %s", name, ug_backend_name(backend),
                 ug_context_last_error(ctx));

        /* keep the source, then scribble over it */
        uint8_t *source[4] = {hw.codes, hw.scales, hw.biases, hw.zeros};
        uint8_t *saved[4] = {NULL}, *back[4] = {NULL};
        for (int a = 0; a < 4; a++) {
            if (want[a] == 0) {
                TU_CHECK(source[a] == NULL, "%s: the harness made %s", name, array_names[a]);
                continue;
            }
            saved[a] = malloc(want[a]);
            back[a] = malloc(want[a] + GUARD);
            assert_true(saved[a] && back[a]);
            memcpy(saved[a], source[a], want[a]);
            for (size_t i = 0; i < want[a]; i++)
                source[a][i] = (uint8_t)~source[a][i];
            memset(back[a], 0xa5, want[a] + GUARD);
        }

        int64_t dn = 0, dk = 0;
        ug_weight_format df;
        assert_int_equal(ug_weights_describe(w, &df, &dn, &dk), UG_OK);
        TU_CHECK(dn == N && dk == k && df.storage == f->storage && df.method == f->method &&
                     df.group_size == f->group_size && df.scale_type == f->scale_type,
                 "%s: described as n %lld, k %lld, group %d", name, (long long)dn, (long long)dk,
                 (int)df.group_size);

        st = ug_weights_unpack(ctx, w, back[0], back[1], back[2], back[3]);
        TU_CHECK(st == UG_OK, "%s on %s: unpack: %s", name, ug_backend_name(backend),
                 ug_context_last_error(ctx));
        for (int a = 0; a < 4; a++) {
            if (want[a] == 0)
                continue;
            TU_CHECK(memcmp(back[a], saved[a], want[a]) == 0, "%s on %s: %s differ after unpack",
                     name, ug_backend_name(backend), array_names[a]);
            for (size_t i = want[a]; i < want[a] + GUARD; i++)
                TU_CHECK(back[a][i] == 0xa5, "%s on %s: unpack wrote past the end of %s", name,
                         ug_backend_name(backend), array_names[a]);
            free(saved[a]);
            free(back[a]);
        }
        ug_weights_destroy(w);
        hx_weights_free(&hw);
    }
    ug_context_destroy(ctx);
}

static void test_unpack_ref(void **state)
{
    (void)state;
    check_backend(UG_BACKEND_REF);
}

static void test_unpack_cpu(void **state)
{
    (void)state;
    check_backend(UG_BACKEND_CPU);
}

static void test_unpack_cuda(void **state)
{
    (void)state;
    tu_require_cuda();
    check_backend(UG_BACKEND_CUDA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unpack_ref),
        cmocka_unit_test(test_unpack_cpu),
        cmocka_unit_test(test_unpack_cuda),
    };
    return cmocka_run_group_tests_name("unpack", tests, NULL, NULL);
}
