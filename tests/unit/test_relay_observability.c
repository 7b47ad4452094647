/* The metrics' text format (relay/prom.c), the metrics' table of counters
 * (relay/metrics.c) and the log's JSON lines (relay/log.c). */
#include "unit.h"
#include "log.h"
#include "metrics.h"
#include "prom.h"
#include <string.h>

TEST(relay_prom_escapes_and_histograms) {
    struct prom p;
    prom_init(&p);
    prom_family(&p, "x_total", "counter", "a \\ and\na newline");
    const char *labels[] = {"code", "a\"b\\c\nd", "shard", "1", NULL};
    prom_sample_u64(&p, "x_total", labels, 42);
    prom_sample_u64(&p, "x_total", NULL, 7);
    CHECK(!p.failed);
    CHECK(strcmp(p.buf, "# HELP x_total a \\\\ and\\na newline\n# TYPE x_total counter\n"
                        "x_total{code=\"a\\\"b\\\\c\\nd\",shard=\"1\"} 42\nx_total 7\n") == 0);
    prom_free(&p);

    prom_init(&p);
    const double le[] = {0.001, 0.5};
    const uint64_t counts[] = {2, 0, 3};
    prom_histogram(&p, "h_seconds", le, 2, counts, 1.25);
    CHECK(strcmp(p.buf, "h_seconds_bucket{le=\"0.001\"} 2\nh_seconds_bucket{le=\"0.5\"} 2\n"
                        "h_seconds_bucket{le=\"+Inf\"} 5\nh_seconds_sum 1.25\nh_seconds_count 5\n") == 0);
    prom_free(&p);
}

TEST(relay_metrics_every_series_names_a_counter) {
    const char *first = NULL;
    unsigned stale = metrics_stale_series(&first);
    if (stale) unit_fail(__FILE__, __LINE__, first);
    CHECK(metrics_series_of("envelopes_delivered") != NULL);
    CHECK(strcmp(metrics_series_of("envelopes_delivered")->family, "reflector_envelopes_total") == 0);
    CHECK(metrics_series_of("no_such_counter") == NULL);
}

TEST(relay_log_json_lines) {
    char line[1024];
    log_set_format(LOG_JSON);
    log_set_shard(3);
    int n = log_format_line(line, sizeof line, LOG_WARN, "conn_refused",
                            "refused a connection: --max-conns 5 reached limit=5 who=\"a \\\"b\\\"\" id=0/1a", 2);
    line[n] = '\0';
    /* ts first, then the rest in order */
    const char *rest = strstr(line, "\",\"level\"");
    CHECK(strncmp(line, "{\"ts\":\"", 7) == 0 && rest != NULL);
    CHECK(rest && strcmp(rest, "\",\"level\":\"warn\",\"shard\":3,\"event\":\"conn_refused\","
                               "\"msg\":\"refused a connection: --max-conns 5 reached\",\"suppressed\":2,"
                               "\"limit\":5,\"who\":\"a \\\"b\\\"\",\"id\":\"0/1a\"}") == 0);
    /* no fields; control characters escaped; no shard */
    log_set_shard(-1);
    n = log_format_line(line, sizeof line, LOG_INFO, "x", "tab\there x=1 and words after", 0);
    line[n] = '\0';
    rest = strstr(line, "\",\"level\"");
    CHECK(rest && strcmp(rest, "\",\"level\":\"info\",\"shard\":null,\"event\":\"x\","
                               "\"msg\":\"tab\\u0009here x=1 and words after\"}") == 0);
    /* fields alone; a leading zero or a sign is not a number */
    n = log_format_line(line, sizeof line, LOG_DEBUG, "y", "a=007 b=-3 c=12", 0);
    line[n] = '\0';
    rest = strstr(line, "\"event\"");
    CHECK(rest && strcmp(rest, "\"event\":\"y\",\"a\":\"007\",\"b\":-3,\"c\":12}") == 0);
    /* text stays as it was */
    log_set_format(LOG_TEXT);
    n = log_format_line(line, sizeof line, LOG_INFO, "x", "hello k=v", 1);
    line[n] = '\0';
    CHECK(strstr(line, "Z info hello k=v (1 similar lines suppressed)") != NULL);
    /* a line cut short still closes its object */
    log_set_format(LOG_JSON);
    char small[60];
    n = log_format_line(small, sizeof small, LOG_INFO, "z", "a long message that will not fit in sixty bytes", 0);
    CHECK(n <= (int)sizeof small && small[n - 1] == '}');
    log_set_format(LOG_TEXT);
}
