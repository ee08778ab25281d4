/*
 * fuzz_gguf.c - libFuzzer target for the GGUF reader and the GGUF importers
 * (fuzz_checkpoint.h). Inputs without the "GGUF" magic go to the other
 * reader, so they are skipped here. Seed corpus: fuzz/corpus/gguf (made by
 * fuzz/make_corpus.c).
 */
#include <string.h>

#include "fuzz_checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4 || memcmp(data, "GGUF", 4) != 0)
        return -1; /* not a GGUF input: keep it out of the corpus */
    return fuzz_checkpoint_one(data, size);
}
