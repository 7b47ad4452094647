/* no-io-uring: runs a program with io_uring refused the way Docker's
 * default seccomp profile refuses it (since Docker 25.0): io_uring_setup,
 * io_uring_enter and io_uring_register fail with EPERM, every other system
 * call is allowed. `--errno ENOSYS` refuses them the way gVisor and some
 * sandboxes do instead.
 *
 *   build/no-io-uring [--errno EPERM|ENOSYS] PROGRAM [ARGS...]
 *
 * The filter is installed with no_new_privs and survives the exec. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int refuse = EPERM, first = 1;
    if (argc > 2 && strcmp(argv[1], "--errno") == 0) {
        if (strcmp(argv[2], "EPERM") == 0) refuse = EPERM;
        else if (strcmp(argv[2], "ENOSYS") == 0) refuse = ENOSYS;
        else {
            fprintf(stderr, "no-io-uring: --errno wants EPERM or ENOSYS\n");
            return 2;
        }
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: no-io-uring [--errno EPERM|ENOSYS] PROGRAM [ARGS...]\n");
        return 2;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        fprintf(stderr, "no-io-uring: seccomp_init failed\n");
        return 1;
    }
    static const char *const calls[] = {"io_uring_setup", "io_uring_enter", "io_uring_register"};
    for (size_t i = 0; i < sizeof calls / sizeof *calls; i++) {
        int nr = seccomp_syscall_resolve_name(calls[i]);
        int rc = nr == __NR_SCMP_ERROR ? -EINVAL : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(refuse), nr, 0);
        if (rc < 0) {
            fprintf(stderr, "no-io-uring: cannot refuse %s: %s\n", calls[i], strerror(-rc));
            return 1;
        }
    }
    int rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0) {
        fprintf(stderr, "no-io-uring: seccomp_load failed: %s\n", strerror(-rc));
        return 1;
    }
    execvp(argv[first], argv + first);
    fprintf(stderr, "no-io-uring: cannot run %s: %s\n", argv[first], strerror(errno));
    return 127;
}
