/* LD_PRELOAD allocation counter. Counts calls to malloc, calloc, realloc,
 * posix_memalign, aligned_alloc and memalign (and free, for reference) in
 * every thread, forwarding each to the real one (dlsym(RTLD_NEXT, ...)),
 * and writes the totals to stderr on SIGUSR2 and at exit:
 *
 *   malloc_count: total=N malloc=N calloc=N realloc=N posix_memalign=N aligned_alloc=N memalign=N free=N
 *
 * With MALLOC_COUNT_SITES=1 in the environment it also keeps, per calling
 * address (__builtin_return_address(0) of the allocation call; at most 1024
 * distinct ones, the rest counted as 0x0), a cumulative count, written after
 * the totals as "malloc_count site 0xADDR N" lines; diff two dumps and map
 * the addresses through /proc/PID/maps + addr2line to find the call sites.
 * Every dump ends with the line "malloc_count end".
 *
 * build: cc -O2 -g -shared -fPIC -o build/malloc_count.so bench/probes/malloc_count.c -ldl
 * usage: LD_PRELOAD=$PWD/build/malloc_count.so build/reflector ...; kill -USR2 PID
 *
 * dlsym itself may call calloc before the real functions are known; such
 * calls are served from a small static bump buffer (never freed, each with
 * a size header so realloc can move it). The SIGUSR2 handler only reads
 * atomics, formats numbers by hand and calls write(2): async-signal-safe. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { C_MALLOC, C_CALLOC, C_REALLOC, C_POSIX_MEMALIGN, C_ALIGNED_ALLOC, C_MEMALIGN, C_FREE, C_N };
static const char *const names[C_N] = {"malloc",        "calloc",   "realloc", "posix_memalign",
                                       "aligned_alloc", "memalign", "free"};
static _Atomic unsigned long counts[C_N];

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);

/* ---- bootstrap bump buffer */
static _Alignas(16) unsigned char bump[64 * 1024];
static _Atomic size_t bump_used;

static void *bump_alloc(size_t n) {
    size_t need = ((n + 15) & ~(size_t)15) + 16;
    size_t off = atomic_fetch_add(&bump_used, need);
    if (off + need > sizeof bump) return NULL;
    *(size_t *)(bump + off) = n;
    return bump + off + 16;
}
static int in_bump(const void *p) {
    return (const unsigned char *)p >= bump && (const unsigned char *)p < bump + sizeof bump;
}

/* ---- call sites */
#define SITES 1024
static _Atomic uintptr_t site_addr[SITES];
static _Atomic unsigned long site_count[SITES];
static _Atomic unsigned long site_overflow;
static int sites_on;

static void note_site(uintptr_t a) {
    if (!sites_on) return;
    size_t h = (size_t)((a * 0x9E3779B97F4A7C15ull) >> 54) % SITES;
    for (size_t i = 0; i < SITES; i++) {
        size_t j = (h + i) % SITES;
        uintptr_t cur = atomic_load_explicit(&site_addr[j], memory_order_acquire);
        if (cur == 0) {
            uintptr_t zero = 0;
            if (atomic_compare_exchange_strong(&site_addr[j], &zero, a) || zero == a) {
                atomic_fetch_add_explicit(&site_count[j], 1, memory_order_relaxed);
                return;
            }
            cur = zero;
        }
        if (cur == a) {
            atomic_fetch_add_explicit(&site_count[j], 1, memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&site_overflow, 1, memory_order_relaxed);
}

static void count(int which, void *caller) {
    atomic_fetch_add_explicit(&counts[which], 1, memory_order_relaxed);
    if (which != C_FREE) note_site((uintptr_t)caller);
}

static _Atomic int resolving;
static void resolve(void) {
    if (real_malloc && real_free) return;
    atomic_store(&resolving, 1);
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = dlsym(RTLD_NEXT, "memalign");
    real_free = dlsym(RTLD_NEXT, "free");
    atomic_store(&resolving, 0);
}

/* ---- async-signal-safe output */
struct out {
    char buf[256];
    size_t n;
};
static void put_s(struct out *o, const char *s) {
    while (*s && o->n < sizeof o->buf) o->buf[o->n++] = *s++;
}
static void put_u(struct out *o, unsigned long v) {
    char tmp[24];
    int k = 0;
    do tmp[k++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    while (k > 0 && o->n < sizeof o->buf) o->buf[o->n++] = tmp[--k];
}
static void put_x(struct out *o, uintptr_t v) {
    char tmp[24];
    int k = 0;
    do tmp[k++] = "0123456789abcdef"[v & 15]; while ((v >>= 4) != 0);
    put_s(o, "0x");
    while (k > 0 && o->n < sizeof o->buf) o->buf[o->n++] = tmp[--k];
}
static void flush(struct out *o) {
    size_t off = 0;
    while (off < o->n) {
        ssize_t w = write(2, o->buf + off, o->n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    o->n = 0;
}

static void dump(void) {
    int saved = errno;
    struct out o = {.n = 0};
    unsigned long total = 0;
    for (int i = 0; i < C_FREE; i++) total += atomic_load(&counts[i]);
    put_s(&o, "malloc_count: total=");
    put_u(&o, total);
    for (int i = 0; i < C_N; i++) {
        put_s(&o, " ");
        put_s(&o, names[i]);
        put_s(&o, "=");
        put_u(&o, atomic_load(&counts[i]));
    }
    put_s(&o, "\n");
    flush(&o);
    if (sites_on) {
        for (size_t j = 0; j < SITES; j++) {
            uintptr_t a = atomic_load(&site_addr[j]);
            if (!a) continue;
            put_s(&o, "malloc_count site ");
            put_x(&o, a);
            put_s(&o, " ");
            put_u(&o, atomic_load(&site_count[j]));
            put_s(&o, "\n");
            flush(&o);
        }
        put_s(&o, "malloc_count site 0x0 ");
        put_u(&o, atomic_load(&site_overflow));
        put_s(&o, "\n");
    }
    put_s(&o, "malloc_count end\n");
    flush(&o);
    errno = saved;
}

static void on_usr2(int sig) {
    (void)sig;
    dump();
}

__attribute__((constructor)) static void malloc_count_init(void) {
    resolve();
    const char *s = getenv("MALLOC_COUNT_SITES");
    sites_on = s && *s && *s != '0';
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
}

__attribute__((destructor)) static void malloc_count_fini(void) {
    dump();
}

/* ---- the interposed functions */
void *malloc(size_t n) {
    if (!real_malloc) {
        if (atomic_load(&resolving)) return bump_alloc(n);
        resolve();
    }
    count(C_MALLOC, __builtin_return_address(0));
    return real_malloc(n);
}

void *calloc(size_t a, size_t b) {
    if (!real_calloc) {
        if (atomic_load(&resolving)) {
            if (b && a > SIZE_MAX / b) return NULL;
            return bump_alloc(a * b); /* static storage: already zero */
        }
        resolve();
    }
    count(C_CALLOC, __builtin_return_address(0));
    return real_calloc(a, b);
}

void *realloc(void *p, size_t n) {
    if (!real_realloc) {
        if (atomic_load(&resolving)) {
            void *q = bump_alloc(n);
            if (q && p) {
                size_t old = *(size_t *)((unsigned char *)p - 16);
                memcpy(q, p, old < n ? old : n);
            }
            return q;
        }
        resolve();
    }
    count(C_REALLOC, __builtin_return_address(0));
    if (p && in_bump(p)) {
        size_t old = *(size_t *)((unsigned char *)p - 16);
        void *q = real_malloc(n);
        if (q) memcpy(q, p, old < n ? old : n);
        return q;
    }
    return real_realloc(p, n);
}

void free(void *p) {
    if (!p || in_bump(p)) return;
    if (!real_free) resolve();
    count(C_FREE, NULL);
    real_free(p);
}

int posix_memalign(void **out, size_t align, size_t n) {
    if (!real_posix_memalign) resolve();
    count(C_POSIX_MEMALIGN, __builtin_return_address(0));
    return real_posix_memalign(out, align, n);
}

void *aligned_alloc(size_t align, size_t n) {
    if (!real_aligned_alloc) resolve();
    count(C_ALIGNED_ALLOC, __builtin_return_address(0));
    return real_aligned_alloc(align, n);
}

void *memalign(size_t align, size_t n) {
    if (!real_memalign) resolve();
    count(C_MEMALIGN, __builtin_return_address(0));
    return real_memalign(align, n);
}
