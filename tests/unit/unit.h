/* A tiny unit-test harness: TEST() registers a case at load time,
 * CHECK() records a failure and keeps going so one run shows them all. */
#ifndef UNIT_H
#define UNIT_H
#include <stdbool.h>

typedef void (*unit_fn)(void);
void unit_register(const char *name, unit_fn fn);
void unit_fail(const char *file, int line, const char *what);
/* Directory holding shared/ (protocol vectors); set from argv[1]. */
extern const char *unit_shared_dir;

#define TEST(name)                                                        \
    static void name(void);                                               \
    __attribute__((constructor)) static void register_##name(void) {      \
        unit_register(#name, name);                                       \
    }                                                                     \
    static void name(void)

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) unit_fail(__FILE__, __LINE__, #cond);                \
    } while (0)

#endif
