/* The git commit of the user's tree (the one holding the config), so a run
 * record says which version of their data and code it came from. */
#include "repro/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The directory to run git in: path itself, or the directory holding it. */
static char *work_dir(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return strdup(path);
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* dir in single quotes for the shell, each ' written as '\''. */
static char *shell_quote(const char *s)
{
    char *q = malloc(4 * strlen(s) + 3), *p = q;
    if (!q)
        return NULL;
    *p++ = '\'';
    for (; *s; s++) {
        if (*s == '\'') {
            memcpy(p, "'\\''", 4);
            p += 4;
        } else {
            *p++ = *s;
        }
    }
    *p++ = '\'';
    *p = '\0';
    return q;
}

/* Runs `git -C DIR args` with stderr silenced; the first line of its output
 * into buf (may be empty) and whether it printed anything at all. Returns
 * git's exit status, or -1 if it could not be run. */
static int run_git(const char *qdir, const char *args, char *buf, size_t size, int *any_output)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "git -C %s %s 2>/dev/null", qdir, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    buf[0] = '\0';
    *any_output = fgets(buf, (int)size, p) != NULL;
    buf[strcspn(buf, "\n")] = '\0';
    char rest[4096];
    while (fgets(rest, sizeof rest, p)) /* drain, so git is not killed by SIGPIPE */
        ;
    return pclose(p);
}

cJSON *repro_git_info(const char *path)
{
    char *dir = work_dir(path);
    char *qdir = dir ? shell_quote(dir) : NULL;
    free(dir);
    if (!qdir)
        return NULL;
    char commit[256], line[4096];
    int any, dirty;
    cJSON *info = NULL;
    if (run_git(qdir, "rev-parse --verify -q HEAD", commit, sizeof commit, &any) == 0 &&
        strlen(commit) >= 40 &&
        run_git(qdir, "status --porcelain", line, sizeof line, &dirty) == 0) {
        info = cJSON_CreateObject();
        cJSON_AddStringToObject(info, "commit", commit);
        cJSON_AddBoolToObject(info, "dirty", dirty);
    }
    free(qdir);
    return info;
}
