/*
 * fuzz_npy.c - libFuzzer target for the .npy reader (cli/npy.c). Each input
 * is parsed from memory (npy_parse_f32) and, written to a scratch file, read
 * through the file path (npy_read_f32): both must agree on the status, the
 * message (after the "path: " of the file one), the shape and every value
 * bit. An accepted matrix must have rows, cols >= 0 and every element
 * readable; it is then written back (npy_write_f32) and read again to the
 * same bits. Any disagreement traps.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icli fuzz/fuzz_npy.c cli/npy.c
 *   ./a.out -max_total_time=120 NEW_CORPUS_DIR fuzz/corpus/npy
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npy.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_npy: check failed: %s (line %d)\n", #cond, __LINE__);            \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static char scratch[64]; /* this process's scratch file */

static void remove_scratch(void)
{
    remove(scratch);
}

static const char *scratch_path(void)
{
    if (scratch[0] == '\0') {
        snprintf(scratch, sizeof scratch, "%s/fuzz_npy.%ld.npy",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
        atexit(remove_scratch);
    }
    return scratch;
}

static void put_file(const char *path, const uint8_t *b, size_t size)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(b, 1, size, f) == size);
    CHECK(fclose(f) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
    int64_t rows = -1, cols = -1;
    float *data = NULL;
    char err[512] = "";
    int rc = npy_parse_f32(bytes, size, &rows, &cols, &data, err, sizeof err);
    CHECK(rc != 0 || (rows >= 0 && cols >= 0 && data != NULL));
    CHECK(rc == 0 || (rows == 0 && cols == 0 && data == NULL && err[0] != '\0'));
    size_t n = rc == 0 ? (size_t)rows * (size_t)cols : 0;
    uint32_t mix = 0;
    for (size_t i = 0; i < n; i++) { /* every element is there to read */
        uint32_t u;
        memcpy(&u, &data[i], 4);
        mix ^= u;
    }
    (void)mix;

    const char *path = scratch_path();
    put_file(path, bytes, size);
    int64_t frows = -1, fcols = -1;
    float *fdata = NULL;
    char ferr[640] = "";
    int frc = npy_read_f32(path, &frows, &fcols, &fdata, ferr, sizeof ferr);
    CHECK((rc == 0) == (frc == 0));
    if (rc != 0) {
        size_t plen = strlen(path);
        CHECK(strncmp(ferr, path, plen) == 0 && strncmp(ferr + plen, ": ", 2) == 0);
        CHECK(strcmp(ferr + plen + 2, err) == 0);
        return 0;
    }
    CHECK(frows == rows && fcols == cols);
    CHECK(n == 0 || memcmp(fdata, data, n * 4) == 0);
    free(fdata);

    if (n <= (1u << 20)) { /* written back, read again: the same bits */
        CHECK(npy_write_f32(path, data, rows, cols, err, sizeof err) == 0);
        fdata = NULL;
        CHECK(npy_read_f32(path, &frows, &fcols, &fdata, ferr, sizeof ferr) == 0);
        CHECK(frows == rows && fcols == cols);
        CHECK(n == 0 || memcmp(fdata, data, n * 4) == 0);
        free(fdata);
    }
    free(data);
    return 0;
}
