/* Which IO backend the shards run on, chosen once at start (--io), the
 * way libuv decides at run time whether it may use io_uring: io_uring
 * where the kernel gives it with what the relay needs, epoll where it is
 * refused (Docker's and Kubernetes' default seccomp profiles, gVisor,
 * kernel.io_uring_disabled, old kernels). */
#include "io.h"
#include <stdio.h>

const struct io_ops *io_backend = &io_uring_ops;

int io_select(enum io_choice choice, char *why, size_t whylen) {
    if (choice == IO_CHOICE_EPOLL) {
        io_backend = &io_epoll_ops;
        snprintf(why, whylen, "asked for (--io epoll)");
        return 0;
    }
    char refused[256];
    if (io_uring_usable(refused, sizeof refused) == 0) {
        io_backend = &io_uring_ops;
        snprintf(why, whylen, "%s", choice == IO_CHOICE_URING ? "asked for (--io io_uring)" : "io_uring works here");
        return 0;
    }
    if (choice == IO_CHOICE_URING) {
        snprintf(why, whylen, "--io io_uring, but io_uring is refused here: %s; --io auto or --io epoll runs on epoll",
                 refused);
        return -1;
    }
    io_backend = &io_epoll_ops;
    snprintf(why, whylen, "io_uring is refused here: %s", refused);
    return 0;
}
