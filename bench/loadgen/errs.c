#include <string.h>

#include "bench.h"

#define ERR_NAME(n) #n,
static const char *const names[ERR_N] = {ERR_LIST(ERR_NAME)};
#undef ERR_NAME

const char *err_name(enum err e) { return e < ERR_N ? names[e] : "?"; }

void errs_add_code(struct errs *e, const char *code, size_t len) {
    for (unsigned i = 0; i < ERR_OTHER_CODE; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], code, len) == 0) {
            e->n[i]++;
            return;
        }
    }
    e->n[ERR_OTHER_CODE]++;
}

void errs_merge(struct errs *into, const struct errs *from) {
    for (unsigned i = 0; i < ERR_N; i++) into->n[i] += from->n[i];
}

uint64_t errs_total(const struct errs *e) {
    uint64_t t = 0;
    for (unsigned i = 0; i < ERR_N; i++) t += e->n[i];
    return t;
}
