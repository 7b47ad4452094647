/* Runs every registered unit test; prints one line per case and the
 * closing "unit: N passed, M failed" line the suite runner counts. */
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TESTS 512

static struct { const char *name; unit_fn fn; } tests[MAX_TESTS];
static int ntests;
static int current_failures;
const char *unit_shared_dir = "../shared";

void unit_register(const char *name, unit_fn fn) {
    if (ntests == MAX_TESTS) {
        fprintf(stderr, "unit: too many tests\n");
        exit(2);
    }
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
}

void unit_fail(const char *file, int line, const char *what) {
    fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", file, line, what);
    current_failures++;
}

int main(int argc, char **argv) {
    const char *only = NULL;
    if (argc > 1) unit_shared_dir = argv[1];
    if (argc > 2) only = argv[2];
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        if (only && !strstr(tests[i].name, only)) continue;
        current_failures = 0;
        tests[i].fn();
        if (current_failures) {
            printf("FAIL %s\n", tests[i].name);
            failed++;
        } else {
            printf("ok   %s\n", tests[i].name);
            passed++;
        }
    }
    printf("unit: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
