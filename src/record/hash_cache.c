/* Data file hashes, remembered between runs: see repro_sha256_file_cached
 * in repro/record.h. Every start and every resume names each data file's
 * SHA-256 in run.json; reading a multi-gigabyte set in full each time to
 * learn what is already known costs minutes. The entry is trusted only
 * while the file's identity and times are the ones it was hashed under. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "repro/record.h"

/* What identifies one version of a file's bytes. ctime moves on every
 * write and cannot be set back by a user (utimensat sets only atime and
 * mtime), so an edit that keeps the size and restores mtime is caught. */
typedef struct file_id {
    uint64_t dev, ino;
    int64_t size, mtime_ns, ctime_ns;
} file_id;

#define RACY_NS 2000000000LL /* see below */

static int file_id_of(const char *path, file_id *id)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    id->dev = (uint64_t)sb.st_dev;
    id->ino = (uint64_t)sb.st_ino;
    id->size = (int64_t)sb.st_size;
    id->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    id->ctime_ns = (int64_t)sb.st_ctim.tv_sec * 1000000000 + sb.st_ctim.tv_nsec;
    return 1;
}

static int same_id(const file_id *a, const file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns &&
           a->ctime_ns == b->ctime_ns;
}

/* The cache folder, made if missing; 0 when there is none to use. */
static int cache_dir(char *out, size_t size)
{
    const char *own = getenv("REPRO_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (own && own[0])
        n = snprintf(out, size, "%s", own);
    else if (xdg && xdg[0] == '/')
        n = snprintf(out, size, "%s/repro", xdg);
    else if (home && home[0] == '/')
        n = snprintf(out, size, "%s/.cache/repro", home);
    else
        return 0;
    if (n < 0 || (size_t)n + 64 >= size)
        return 0;
    /* each level, for a fresh ~/.cache; an existing one is fine */
    for (char *p = out + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            int ok = mkdir(out, 0700) == 0 || errno == EEXIST;
            *p = c;
            if (!ok)
                return 0;
            if (c == '\0')
                break;
        }
    }
    size_t len = strlen(out);
    snprintf(out + len, size - len, "/hashes");
    return mkdir(out, 0700) == 0 || errno == EEXIST;
}

/* The entry's file: one per (device, inode), so runs on other files never
 * contend for it. */
static int entry_path(const file_id *id, char *out, size_t size)
{
    char dir[4096];
    if (!cache_dir(dir, sizeof dir))
        return 0;
    int n = snprintf(out, size, "%s/%016" PRIx64 "-%016" PRIx64, dir, id->dev, id->ino);
    return n > 0 && (size_t)n < size;
}

/* "repro-hash-cache 1 DEV INO SIZE MTIME CTIME SHA256" and then " " and the
 * SHA-256 of that text: a torn or edited entry fails its own check. */
static void entry_text(const file_id *id, const char *hex, char *out, size_t size)
{
    char body[256], check[65];
    snprintf(body, sizeof body, "repro-hash-cache 1 %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %" PRId64 " %s",
             id->dev, id->ino, id->size, id->mtime_ns, id->ctime_ns, hex);
    repro_sha256_hex(body, strlen(body), check);
    snprintf(out, size, "%s %s\n", body, check);
}

/* The digest the entry holds for exactly this file_id, or 0. */
static int cache_lookup(const char *path, const file_id *id, char hex[65])
{
    char text[512] = "";
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    file_id got;
    char sha[65], check[65];
    if (sscanf(text, "repro-hash-cache 1 %" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %64s %64s",
               &got.dev, &got.ino, &got.size, &got.mtime_ns, &got.ctime_ns, sha, check) != 7)
        return 0;
    if (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)
        return 0;
    char want[512];
    entry_text(&got, sha, want, sizeof want);
    if (strcmp(want, text) != 0 || !same_id(&got, id))
        return 0;
    memcpy(hex, sha, 65);
    return 1;
}

/* Written to a private temporary file and renamed over the entry, so a
 * reader sees the old entry or the new one; not fsynced: a torn entry after
 * a crash fails its check and costs one read. Failures are ignored. */
static void cache_store(const char *path, const file_id *id, const char *hex)
{
    char text[512], tmp[4300];
    entry_text(id, hex, text, sizeof text);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0)
        unlink(tmp);
}

repro_status repro_sha256_file_cached(const char *path, int rehash, char hex[65], int *was_read,
                                      repro_error *err)
{
    if (was_read)
        *was_read = 0;
    file_id before, after;
    char entry[4200];
    int have_id = file_id_of(path, &before), have_entry = have_id && entry_path(&before, entry, sizeof entry);
    if (have_entry && !rehash && cache_lookup(entry, &before, hex))
        return REPRO_OK;
    struct timespec start;
    clock_gettime(CLOCK_REALTIME, &start);
    repro_status st = repro_sha256_file(path, hex, err);
    if (st != REPRO_OK)
        return st;
    if (was_read)
        *was_read = 1;
    /* Remembered only when the file did not change while it was read, and
     * its last change is older than the timestamp granularity of any file
     * system (2 s, FAT): a write in the same tick as the one hashed would
     * leave every time as it was (git calls such an entry "racy"). */
    int64_t start_ns = (int64_t)start.tv_sec * 1000000000 + start.tv_nsec;
    if (have_entry && file_id_of(path, &after) && same_id(&before, &after) &&
        before.ctime_ns < start_ns - RACY_NS && before.mtime_ns < start_ns - RACY_NS)
        cache_store(entry, &before, hex);
    return REPRO_OK;
}
