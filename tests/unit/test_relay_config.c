/* relay/config: the command line. */
#include "unit.h"
#include "config.h"
#include "log.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* config_parse with stdout and stderr sent to /dev/null. */
static enum config_result parse_quiet(struct config *cfg, int argc, char **argv) {
    fflush(stdout);
    fflush(stderr);
    int out = dup(STDOUT_FILENO), err = dup(STDERR_FILENO);
    int null = open("/dev/null", O_WRONLY);
    CHECK(out >= 0 && err >= 0 && null >= 0);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    close(null);
    enum config_result r = config_parse(cfg, argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    close(out);
    close(err);
    return r;
}

#define PARSE(cfg, ...)                                                          \
    ({                                                                           \
        char *argv_[] = {"reflector", __VA_ARGS__, NULL};                        \
        parse_quiet((cfg), (int)(sizeof argv_ / sizeof *argv_) - 1, argv_);      \
    })

static bool is_v4(const struct sockaddr_storage *ss, socklen_t len, const char *ip, unsigned port) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    struct in_addr want;
    if (inet_pton(AF_INET, ip, &want) != 1) return false;
    return len == sizeof *a && a->sin_family == AF_INET && ntohs(a->sin_port) == port &&
           a->sin_addr.s_addr == want.s_addr;
}

static bool is_v6(const struct sockaddr_storage *ss, socklen_t len, const char *ip, unsigned port) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    struct in6_addr want;
    if (inet_pton(AF_INET6, ip, &want) != 1) return false;
    return len == sizeof *a && a->sin6_family == AF_INET6 && ntohs(a->sin6_port) == port &&
           memcmp(&a->sin6_addr, &want, sizeof want) == 0;
}

TEST(relay_config_defaults) {
    struct config cfg;
    char *argv[] = {"reflector", NULL};
    CHECK(parse_quiet(&cfg, 1, argv) == CONFIG_OK);
    CHECK(is_v4(&cfg.listen_addr, cfg.listen_addr_len, "127.0.0.1", 8080));
    CHECK(strcmp(cfg.listen_text, "127.0.0.1:8080") == 0);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(cfg.threads == (cpus > 0 ? (unsigned)cpus : 1u));
    CHECK(cfg.crypto_threads == cfg.threads);
    CHECK(cfg.register_timeout_s == 10);
    CHECK(cfg.www == NULL);
    CHECK(cfg.key_file == NULL);
    CHECK(cfg.max_message == 4096);
    CHECK(cfg.max_conns == 100000);
    CHECK(cfg.ping_interval_s == 20);
    CHECK(cfg.drain_timeout_s == 30);
    CHECK(!cfg.proxy_protocol && cfg.trusted_proxies.n == 0 && cfg.forwarded_header == FORWARDED_XFF);
    CHECK(cfg.handshake_timeout_s == 5);
    CHECK(cfg.max_head == 8192);
    CHECK(cfg.log_level == LOG_INFO);
    /* argc 0 is the same */
    CHECK(parse_quiet(&cfg, 0, argv) == CONFIG_OK);
    CHECK(cfg.max_message == 4096);
}

TEST(relay_config_each_flag) {
    struct config cfg;
    CHECK(PARSE(&cfg, "--listen", "[::1]:9000") == CONFIG_OK);
    CHECK(is_v6(&cfg.listen_addr, cfg.listen_addr_len, "::1", 9000));
    CHECK(strcmp(cfg.listen_text, "[::1]:9000") == 0);
    CHECK(PARSE(&cfg, "--listen", "0.0.0.0:443") == CONFIG_OK);
    CHECK(is_v4(&cfg.listen_addr, cfg.listen_addr_len, "0.0.0.0", 443));
    CHECK(PARSE(&cfg, "--threads", "3") == CONFIG_OK && cfg.threads == 3);
    CHECK(PARSE(&cfg, "--crypto-threads", "2") == CONFIG_OK && cfg.crypto_threads == 2);
    CHECK(PARSE(&cfg, "--register-timeout", "30") == CONFIG_OK && cfg.register_timeout_s == 30);
    CHECK(PARSE(&cfg, "--www", "/srv/www") == CONFIG_OK && cfg.www && strcmp(cfg.www, "/srv/www") == 0);
    CHECK(PARSE(&cfg, "--key", "k.pem") == CONFIG_OK && cfg.key_file && strcmp(cfg.key_file, "k.pem") == 0);
    CHECK(PARSE(&cfg, "--max-message", "65536") == CONFIG_OK && cfg.max_message == 65536);
    CHECK(PARSE(&cfg, "--max-conns", "10") == CONFIG_OK && cfg.max_conns == 10);
    CHECK(PARSE(&cfg, "--ping-interval", "7") == CONFIG_OK && cfg.ping_interval_s == 7);
    CHECK(PARSE(&cfg, "--handshake-timeout", "9") == CONFIG_OK && cfg.handshake_timeout_s == 9);
    CHECK(PARSE(&cfg, "--drain-timeout", "0") == CONFIG_OK && cfg.drain_timeout_s == 0);
    CHECK(PARSE(&cfg, "--log-level", "error") == CONFIG_OK && cfg.log_level == LOG_ERROR);
    CHECK(PARSE(&cfg, "--log-level", "warn") == CONFIG_OK && cfg.log_level == LOG_WARN);
    CHECK(PARSE(&cfg, "--log-level", "info") == CONFIG_OK && cfg.log_level == LOG_INFO);
    CHECK(PARSE(&cfg, "--log-level", "debug") == CONFIG_OK && cfg.log_level == LOG_DEBUG);
    /* --flag=value */
    CHECK(PARSE(&cfg, "--threads=5", "--max-message=100") == CONFIG_OK);
    CHECK(cfg.threads == 5 && cfg.max_message == 100);
    /* all at once; a later flag overrides an earlier one; others keep defaults */
    CHECK(PARSE(&cfg, "--threads", "2", "--max-conns", "50", "--threads", "4", "--www", "w") == CONFIG_OK);
    CHECK(cfg.threads == 4 && cfg.max_conns == 50 && cfg.www && strcmp(cfg.www, "w") == 0);
    CHECK(cfg.ping_interval_s == 20 && cfg.max_message == 4096 && cfg.key_file == NULL);
    /* every parse starts from the defaults */
    CHECK(PARSE(&cfg, "--log-level", "debug") == CONFIG_OK);
    CHECK(cfg.threads == cfg.crypto_threads && cfg.www == NULL && cfg.max_conns == 100000);
}

TEST(relay_config_limits) {
    struct config cfg;
    CHECK(PARSE(&cfg, "--threads", "1") == CONFIG_OK && cfg.threads == 1);
    CHECK(PARSE(&cfg, "--threads", "256") == CONFIG_OK && cfg.threads == 256);
    CHECK(PARSE(&cfg, "--threads", "0") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--threads", "257") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--crypto-threads", "0") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--crypto-threads", "257") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--register-timeout", "0") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--register-timeout", "3600") == CONFIG_OK);
    CHECK(PARSE(&cfg, "--register-timeout", "3601") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--max-message", "64") == CONFIG_OK && cfg.max_message == 64);
    CHECK(PARSE(&cfg, "--max-message", "67108864") == CONFIG_OK && cfg.max_message == 67108864);
    CHECK(PARSE(&cfg, "--max-message", "63") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--max-message", "67108865") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--max-conns", "1") == CONFIG_OK);
    CHECK(PARSE(&cfg, "--max-conns", "10000000") == CONFIG_OK);
    CHECK(PARSE(&cfg, "--max-conns", "0") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--max-conns", "10000001") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--ping-interval", "86400") == CONFIG_OK);
    CHECK(PARSE(&cfg, "--ping-interval", "0") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--ping-interval", "86401") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--handshake-timeout", "3600") == CONFIG_OK);
    CHECK(PARSE(&cfg, "--handshake-timeout", "0") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--handshake-timeout", "3601") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--drain-timeout", "3600") == CONFIG_OK);
    CHECK(PARSE(&cfg, "--drain-timeout", "3601") == CONFIG_EXIT_USAGE);
}

TEST(relay_config_bad_values) {
    struct config cfg;
    static const char *const bad_numbers[] = {
        "", "-1", "+1", "abc", "1x", "4.0", "0x10", "99999999999999999999999", "-0"};
    for (size_t i = 0; i < sizeof bad_numbers / sizeof *bad_numbers; i++) {
        char *v = (char *)bad_numbers[i];
        CHECK(PARSE(&cfg, "--threads", v) == CONFIG_EXIT_USAGE);
        CHECK(PARSE(&cfg, "--max-message", v) == CONFIG_EXIT_USAGE);
        CHECK(PARSE(&cfg, "--ping-interval", v) == CONFIG_EXIT_USAGE);
    }
    CHECK(PARSE(&cfg, "--drain-timeout", "-1") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--log-level", "verbose") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--log-level", "INFO") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--log-level", "") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--listen", "127.0.0.1") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--listen", "127.0.0.1:70000") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--listen", "nohost.invalid:80") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--listen", "") == CONFIG_EXIT_USAGE);
    /* a flag without its value */
    CHECK(PARSE(&cfg, "--threads") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--listen") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--www") == CONFIG_EXIT_USAGE);
    /* a valid flag before a bad one does not rescue it */
    CHECK(PARSE(&cfg, "--threads", "2", "--max-conns", "zero") == CONFIG_EXIT_USAGE);
    /* and parsing works normally afterwards */
    CHECK(PARSE(&cfg, "--threads", "2") == CONFIG_OK && cfg.threads == 2);
}

TEST(relay_config_unknown_and_stray) {
    struct config cfg;
    CHECK(PARSE(&cfg, "--bogus") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--bogus=1") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "-x") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "-h") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--threads", "2", "--nope") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "stray") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--threads", "2", "stray") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "stray", "--threads", "2") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--help=yes") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--threads", "2") == CONFIG_OK);
}

TEST(relay_config_help_version) {
    struct config cfg;
    CHECK(PARSE(&cfg, "--help") == CONFIG_EXIT_OK);
    CHECK(PARSE(&cfg, "--version") == CONFIG_EXIT_OK);
    CHECK(PARSE(&cfg, "--threads", "2", "--help") == CONFIG_EXIT_OK);
    CHECK(PARSE(&cfg, "--version", "--bogus") == CONFIG_EXIT_OK);
    /* a bad flag before --help is reported first */
    CHECK(PARSE(&cfg, "--threads", "0", "--help") == CONFIG_EXIT_USAGE);
    /* config_usage writes something that names every flag */
    static char buf[16384];
    memset(buf, 0, sizeof buf);
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    CHECK(f != NULL);
    if (f) {
        config_usage(f);
        fclose(f);
    }
    static const char *const flags[] = {"--listen", "--threads", "--crypto-threads", "--register-timeout",
                                        "--www", "--key", "--max-message", "--max-conns",
                                        "--ping-interval", "--handshake-timeout", "--drain-timeout",
                                        "--log-level", "--tls-cert", "--tls-key", "--tls-threads",
                                        "--tls-handshake-timeout", "--tls-ticket-lifetime", "--help", "--version"};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) CHECK(strstr(buf, flags[i]) != NULL);
}

TEST(relay_config_trusted_proxy_repeats) {
    struct config cfg;
    CHECK(PARSE(&cfg, "--trusted-proxy", "127.0.0.1", "--trusted-proxy", "10.0.0.0/8, ::1") == CONFIG_OK);
    CHECK(cfg.trusted_proxies.n == 3);
    CHECK(strcmp(cfg.trusted_proxies_text, "127.0.0.1, 10.0.0.0/8, ::1") == 0);
    CHECK(PARSE(&cfg, "--trusted-proxy", "10.1.2.3/8") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--trusted-proxy", ",") == CONFIG_EXIT_USAGE);
    CHECK(PARSE(&cfg, "--forwarded-header", "Forwarded") == CONFIG_OK && cfg.forwarded_header == FORWARDED_RFC7239);
}

TEST(relay_config_hostport) {
    struct sockaddr_storage ss;
    socklen_t len = 0;
    CHECK(config_parse_hostport("127.0.0.1:80", &ss, &len) == 0);
    CHECK(is_v4(&ss, len, "127.0.0.1", 80));
    CHECK(config_parse_hostport("10.1.2.3:65535", &ss, &len) == 0);
    CHECK(is_v4(&ss, len, "10.1.2.3", 65535));
    CHECK(config_parse_hostport("0.0.0.0:0", &ss, &len) == 0);
    CHECK(is_v4(&ss, len, "0.0.0.0", 0));
    CHECK(config_parse_hostport("localhost:8080", &ss, &len) == 0);
    CHECK(is_v4(&ss, len, "127.0.0.1", 8080));
    CHECK(config_parse_hostport("[::1]:80", &ss, &len) == 0);
    CHECK(is_v6(&ss, len, "::1", 80));
    CHECK(config_parse_hostport("[::]:443", &ss, &len) == 0);
    CHECK(is_v6(&ss, len, "::", 443));
    CHECK(config_parse_hostport("[2001:db8::5]:1", &ss, &len) == 0);
    CHECK(is_v6(&ss, len, "2001:db8::5", 1));
    static const char *const bad[] = {
        "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80x",
        "127.0.0.1:99999999999999999999", ":80", "[::1]80", "[::1]", "[::1:80", "[]:80",
        "256.0.0.1:80", "1.2.3:80x", "example.invalid:80", "", "[::1]:", "[::1]:65536",
        "[::1]:abc", "[fe80::zz]:80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        socklen_t l = 12345;
        if (config_parse_hostport(bad[i], &ss, &l) != -1) {
            char what[96];
            snprintf(what, sizeof what, "config_parse_hostport(\"%s\") accepted", bad[i]);
            unit_fail(__FILE__, __LINE__, what);
        }
        CHECK(l == 12345); /* untouched on failure */
    }
}

TEST(relay_config_protocol_limits) {
    struct config cfg;
    char *defaults[] = {"reflector"};
    CHECK(parse_quiet(&cfg, 1, defaults) == CONFIG_OK);
    CHECK(cfg.rate == 1000 && cfg.max_queued == 1048576 && cfg.slow_consumer_s == 10);
    CHECK(!cfg.on_duplicate_reject && cfg.register_timeout_s == 10);
    char *set[] = {"reflector", "--rate", "10", "--max-queued", "65536", "--slow-consumer-timeout", "2",
                   "--on-duplicate", "reject", "--register-timeout", "1", "--crypto-threads", "3"};
    CHECK(parse_quiet(&cfg, 13, set) == CONFIG_OK);
    CHECK(cfg.rate == 10 && cfg.max_queued == 65536 && cfg.slow_consumer_s == 2);
    CHECK(cfg.on_duplicate_reject && cfg.register_timeout_s == 1 && cfg.crypto_threads == 3);
    char *bad[][3] = {{"reflector", "--on-duplicate", "keep"}, {"reflector", "--rate", "0"},
                      {"reflector", "--max-queued", "100"}, {"reflector", "--crypto-threads", "0"},
                      {"reflector", "--register-timeout", "x"}, {"reflector", "--threads", " 1"},
                      {"reflector", "--listen", "1.2.3.4:+80"}};
    for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(parse_quiet(&cfg, 3, bad[i]) == CONFIG_EXIT_USAGE);
}
