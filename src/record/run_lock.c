/* DIR/run.lock: see run_lock.h. */
#include "record/run_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "record/io.h"

static void lock_path(const char *dir, char *buf, size_t size)
{
    snprintf(buf, size, "%s/run.lock", dir);
}

/* The slot's text, padded with spaces to RUN_LOCK_SLOT bytes (the last a
 * newline). Newlines in message become spaces: the slot is read by lines. */
static void format_slot(char slot[RUN_LOCK_SLOT], const char *status, const char *message)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    int n = snprintf(slot, RUN_LOCK_SLOT, "repro-run-lock/1\npid=%ld\nhost=%s\nstatus=%s\nmessage=", (long)getpid(),
                     host, status);
    if (n < 0 || n >= RUN_LOCK_SLOT - 2)
        n = 0;
    for (const char *m = message ? message : ""; *m && n < RUN_LOCK_SLOT - 2; m++)
        slot[n++] = *m == '\n' ? ' ' : *m;
    slot[n++] = '\n';
    memset(slot + n, ' ', (size_t)(RUN_LOCK_SLOT - 1 - n));
    slot[RUN_LOCK_SLOT - 1] = '\n';
}

static int write_slot(int fd, const char *status, const char *message)
{
    char slot[RUN_LOCK_SLOT];
    format_slot(slot, status, message);
    size_t done = 0;
    while (done < sizeof slot) {
        ssize_t put = repro_io_pwrite(fd, slot + done, sizeof slot - done, (off_t)done);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return -1;
        done += (size_t)put;
    }
    return 0;
}

/* The pid in a slot's text, 0 when there is none. */
static long slot_pid(const char *text)
{
    const char *p = strstr(text, "\npid=");
    return p ? strtol(p + 5, NULL, 10) : 0;
}

repro_status run_lock_take(const char *dir, int *fd, int *created, long *holder, repro_error *err)
{
    char path[4096];
    lock_path(dir, path, sizeof path);
    *fd = -1;
    *created = 0;
    *holder = 0;
    int f = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (f >= 0)
        *created = 1;
    else if (errno == EEXIST)
        f = open(path, O_RDWR | O_CLOEXEC);
    if (f < 0)
        return repro_fail(err, REPRO_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            char text[RUN_LOCK_SLOT + 1] = "";
            ssize_t got = pread(f, text, RUN_LOCK_SLOT, 0);
            text[got > 0 ? got : 0] = '\0';
            *holder = slot_pid(text);
            close(f);
            return REPRO_ERR_STATE;
        }
        close(f);
        return repro_fail(err, REPRO_ERR_IO, "cannot lock '%s': %s", path, strerror(e));
    }
    *fd = f;
    return REPRO_OK;
}

repro_status run_lock_mark(int fd, const char *dir, repro_error *err)
{
    if (write_slot(fd, "running", NULL) != 0)
        return repro_fail(err, REPRO_ERR_IO, "cannot write '%s/run.lock': %s", dir, strerror(errno));
    /* the room to record the end of the run when the disk fills up: a disk
     * without it is full already, and the run would fail at its first
     * checkpoint or ledger lines; better now, before anything changed */
    int rc = ftruncate(fd, RUN_LOCK_SLOT) == 0 ? posix_fallocate(fd, RUN_LOCK_SLOT, RUN_LOCK_RESERVE) : errno;
    if (rc != 0)
        return repro_fail(err, REPRO_ERR_IO, "cannot reserve %d KiB in '%s/run.lock' to record how the run ends: "
                          "%s (is the disk full?)", RUN_LOCK_RESERVE >> 10, dir, strerror(rc));
    return REPRO_OK;
}

int run_lock_note(int fd, const char *status, const char *message)
{
    if (fd < 0 || write_slot(fd, status, message) != 0)
        return -1;
    return repro_io_fsync(fd);
}

void run_lock_release_reserve(int fd)
{
    if (fd >= 0 && ftruncate(fd, RUN_LOCK_SLOT) != 0) {
        /* nothing more to give back */
    }
}

/* The value of "\nKEY=" in text, up to the end of its line, into out. */
static void slot_value(const char *text, const char *key, char *out, size_t size)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\n%s=", key);
    const char *p = strstr(text, pat);
    size_t n = 0;
    if (p)
        for (p += strlen(pat); *p && *p != '\n' && n + 1 < size; p++)
            out[n++] = *p;
    while (n > 0 && out[n - 1] == ' ')
        n--;
    if (size)
        out[n] = '\0';
}

int run_lock_read(const char *dir, int *live, long *pid, char *status, size_t status_size, char *message,
                  size_t message_size)
{
    char path[4096];
    lock_path(dir, path, sizeof path);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -1;
    char text[RUN_LOCK_SLOT + 1];
    ssize_t got = pread(f, text, RUN_LOCK_SLOT, 0);
    text[got > 0 ? got : 0] = '\0';
    *live = flock(f, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(f);
    if (strncmp(text, "repro-run-lock/1\n", 17) != 0)
        return -1;
    *pid = slot_pid(text);
    slot_value(text, "status", status, status_size);
    slot_value(text, "message", message, message_size);
    return 0;
}
