/* `reflector-bench report [LABEL=]RESULTS.json... -o report.html`: one
 * self-contained page (report_page.html, with the results inside it as
 * JSON) that draws throughput and latency over time, the latency
 * percentile curves of every run side by side, a summary table and the
 * runs' settings. No network: the script and the SVG are in the page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subcommands.h"

extern const char report_page[];

static const char usage[] = "usage: reflector-bench report [LABEL=]RESULTS.json... [-o report.html]\n";

int report_main(int argc, char **argv) {
    const char *out = "report.html";
    json_t *runs = json_array();
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--out") == 0) && i + 1 < argc) {
            out = argv[++i];
            continue;
        }
        if (argv[i][0] == '-') {
            fputs(usage, stderr);
            rc = 2;
            break;
        }
        /* LABEL=FILE names the run; else the file's name without .json. */
        const char *eq = strchr(argv[i], '='), *file = eq ? eq + 1 : argv[i];
        char label[256];
        if (eq) snprintf(label, sizeof label, "%.*s", (int)(eq - argv[i]), argv[i]);
        else {
            const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
            snprintf(label, sizeof label, "%s", base);
            size_t l = strlen(label);
            if (l > 5 && strcmp(label + l - 5, ".json") == 0) label[l - 5] = '\0';
        }
        json_t *results = results_load(file);
        if (!results) {
            rc = 1;
            break;
        }
        json_array_append_new(runs, json_pack("{s:s,s:s,s:o}", "label", label, "file", file, "results", results));
    }
    if (rc == 0 && json_array_size(runs) == 0) {
        fputs(usage, stderr);
        rc = 2;
    }
    char *data = rc == 0 ? json_dumps(runs, JSON_COMPACT | JSON_ESCAPE_SLASH | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(runs);
    if (rc != 0) return rc;
    const char *mark = "/*RESULTS*/", *at = strstr(report_page, mark);
    FILE *f = data && at ? fopen(out, "w") : NULL;
    if (!f) {
        fprintf(stderr, "reflector-bench report: cannot write %s\n", out);
        free(data);
        return 1;
    }
    /* JSON_ESCAPE_SLASH writes "<\/", so no "</script>" ends the block early. */
    fwrite(report_page, 1, (size_t)(at - report_page), f);
    fputs(data, f);
    fputs(at + strlen(mark), f);
    free(data);
    if (fclose(f) != 0) {
        fprintf(stderr, "reflector-bench report: cannot write %s\n", out);
        return 1;
    }
    printf("reflector-bench report: wrote %s\n", out);
    return 0;
}
