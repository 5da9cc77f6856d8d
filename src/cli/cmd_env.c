/* repro env [--json]: prints the environment section a run record holds,
 * as "key.path: value" lines or as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "repro/isa.h"
#include "repro/record.h"

/* One "path: value" line per leaf; strings unquoted. */
static void print_flat(const char *path, const cJSON *v)
{
    char sub[512];
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        int i = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, v) {
            if (cJSON_IsObject(v))
                snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", x->string);
            else
                snprintf(sub, sizeof sub, "%s[%d]", path, i++);
            print_flat(sub, x);
        }
        return;
    }
    if (cJSON_IsString(v)) {
        printf("%s: %s\n", path, v->valuestring);
        return;
    }
    char *text = cJSON_PrintUnformatted(v);
    printf("%s: %s\n", path, text ? text : "?");
    free(text);
}

int repro_cmd_env(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            puts("usage: repro env [--json]\n"
                 "Prints what a run record captures about this machine and build:\n"
                 "repro version and commit, compiler and flags, OS, CPU model and\n"
                 "features, the ISA path training takes (REPRO_ISA forces one),\n"
                 "online CPUs, libc and library versions.");
            return 0;
        } else {
            fprintf(stderr, "repro env: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    /* The path `repro train` would take here (REPRO_ISA honoured, as there). */
    repro_isa isa;
    repro_error err;
    if (repro_isa_choose(getenv("REPRO_ISA"), &isa, &err) != REPRO_OK) {
        fprintf(stderr, "repro env: %s\n", err.message);
        return 2;
    }
    cJSON *env = repro_env_capture(repro_isa_name(isa));
    if (!env) {
        fputs("repro env: out of memory\n", stderr);
        return 2;
    }
    if (json) {
        char *text = cJSON_Print(env);
        puts(text ? text : "null");
        free(text);
    } else {
        print_flat("", env);
    }
    cJSON_Delete(env);
    return 0;
}
