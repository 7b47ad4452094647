/* Shared by the libFuzzer targets: a failed invariant aborts with a line
 * saying which, so libFuzzer records the input as a crash. */
#ifndef FUZZ_H
#define FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads n bytes (n <= 8) little-endian from the front of the input. */
static inline uint64_t fuzz_take(const uint8_t **data, size_t *size, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n && *size; i++) {
        v |= (uint64_t)**data << (8 * i);
        (*data)++;
        (*size)--;
    }
    return v;
}

#endif
