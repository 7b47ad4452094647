/* The registry keeps the two dialects' addresses apart: a v1 SIG and a
 * 2025 key with the same 43 characters are different entries. */
#include "registry.h"
#include "session.h"
#include "unit.h"
#include <string.h>

TEST(registry_dialects_with_the_same_text_stay_apart) {
    struct registry r;
    CHECK(registry_init(&r, 4) == 0);
    static char id[] = "nmu6OmH1rkLDmLjdLOvYccNLBy6zOL8uTKr5-1ALhV8\0";
    struct session v1 = {.identity = id, .dialect = 0}, d25 = {.identity = id, .dialect = 1};
    uint64_t h = 42; /* the same hash too: only the dialect tells them apart */
    bool failed;
    CHECK(registry_put(&r, &v1, h, &failed) == NULL && !failed);
    CHECK(registry_put(&r, &d25, h, &failed) == NULL && !failed); /* displaces nothing */
    CHECK(r.count == 2);
    CHECK(registry_find(&r, id, h) == &v1);
    CHECK(registry_find_in(&r, 1, id, h) == &d25);
    CHECK(registry_find_in(&r, 2, id, h) == NULL);
    registry_remove(&r, &v1, h);
    CHECK(registry_find(&r, id, h) == NULL);
    CHECK(registry_find_in(&r, 1, id, h) == &d25);
    /* A newer 2025 session with that key replaces only the 2025 one. */
    struct session d25b = {.identity = id, .dialect = 1};
    CHECK(registry_put(&r, &d25b, h, &failed) == &d25);
    CHECK(r.count == 1);
    registry_destroy(&r);
}
