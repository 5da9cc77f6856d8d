/* See fuzz_util.h. */
#include "fuzz_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[256];

static void remove_scratch(void)
{
    fuzz_clear(scratch);
    rmdir(scratch);
}

const char *fuzz_dir(void)
{
    if (!scratch[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(scratch, sizeof scratch, "%s/repro-fuzz-XXXXXX", base);
        if (!mkdtemp(scratch)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(remove_scratch);
    }
    return scratch;
}

void fuzz_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", fuzz_dir(), name);
}

void fuzz_write(const char *name, const void *data, size_t n, char *path, size_t path_size)
{
    char full[512];
    fuzz_path(full, sizeof full, name);
    char *slash = strrchr(full, '/');
    *slash = '\0';
    mkdir(full, 0755); /* name may be "sub/file" */
    *slash = '/';
    FILE *f = fopen(full, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror("fuzz: writing the input");
        abort();
    }
    if (path)
        snprintf(path, path_size, "%s", full);
}

void fuzz_clear(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && lstat(p, &sb) == 0 && !S_ISDIR(sb.st_mode))
            unlink(p);
    }
    closedir(d);
}
