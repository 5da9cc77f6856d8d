/* Atomic replacement of a file: write PATH.tmp.<pid>, fsync it, rename it
 * over PATH, fsync the directory. rename() within one directory is atomic
 * on POSIX file systems, so a reader (or a crash) sees the old file or the
 * new one; the fsyncs make the new one survive a power cut once we return. */
#include "repro/record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record/io.h"

struct repro_atomic_file {
    int fd;
    int write_errno; /* first failed write, reported by commit */
    char *path;
    char *tmp;
};

repro_status repro_atomic_open(const char *path, repro_atomic_file **out, repro_error *err)
{
    *out = NULL;
    repro_atomic_file *w = repro_io_calloc(1, sizeof *w);
    size_t n = strlen(path) + 32;
    char *tmp = repro_io_malloc(n);
    char *copy = repro_io_strdup(path);
    if (!w || !tmp || !copy) {
        free(w), free(tmp), free(copy);
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory writing '%s'", path);
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    w->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        repro_fail(err, REPRO_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
        free(w), free(tmp), free(copy);
        return REPRO_ERR_IO;
    }
    w->path = copy;
    w->tmp = tmp;
    *out = w;
    return REPRO_OK;
}

repro_status repro_atomic_write(repro_atomic_file *w, const void *data, size_t n,
                                repro_error *err)
{
    const char *p = data;
    while (n > 0 && !w->write_errno) {
        ssize_t put = repro_io_write(w->fd, p, n);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0) {
            w->write_errno = put < 0 ? errno : EIO;
            break;
        }
        p += put;
        n -= (size_t)put;
    }
    if (w->write_errno)
        return repro_fail(err, REPRO_ERR_IO, "cannot write '%s': %s", w->tmp,
                          strerror(w->write_errno));
    return REPRO_OK;
}

static void atomic_free(repro_atomic_file *w)
{
    free(w->path);
    free(w->tmp);
    free(w);
}

void repro_atomic_abort(repro_atomic_file *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp);
    atomic_free(w);
}

/* The directory part of path ("." when there is none) into buf. */
static void parent_dir(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, size, ".");
    else if (slash == path)
        snprintf(buf, size, "/");
    else
        snprintf(buf, size, "%.*s", (int)(slash - path), path);
}

/* Makes the rename durable. Some file systems refuse fsync on a directory
 * (EINVAL); the rename has happened by then, so that is not an error. */
static repro_status fsync_dir(const char *path, repro_error *err)
{
    char dir[4096];
    parent_dir(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return repro_fail(err, REPRO_ERR_IO, "cannot open directory '%s': %s", dir,
                          strerror(errno));
    int rc = repro_io_fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL && e != EROFS)
        return repro_fail(err, REPRO_ERR_IO, "cannot sync directory '%s': %s", dir, strerror(e));
    return REPRO_OK;
}

repro_status repro_atomic_commit(repro_atomic_file *w, repro_error *err)
{
    if (w->write_errno) {
        repro_status st = repro_fail(err, REPRO_ERR_IO, "cannot write '%s': %s", w->tmp,
                                     strerror(w->write_errno));
        repro_atomic_abort(w);
        return st;
    }
    if (repro_io_fsync(w->fd) != 0) {
        repro_status st =
            repro_fail(err, REPRO_ERR_IO, "cannot sync '%s': %s", w->tmp, strerror(errno));
        repro_atomic_abort(w);
        return st;
    }
    int rc = close(w->fd);
    w->fd = -1;
    if (rc != 0 || repro_io_rename(w->tmp, w->path) != 0) {
        repro_status st = repro_fail(err, REPRO_ERR_IO, "cannot replace '%s' with '%s': %s",
                                     w->path, w->tmp, strerror(errno));
        repro_atomic_abort(w);
        return st;
    }
    repro_status st = fsync_dir(w->path, err);
    atomic_free(w);
    return st;
}

repro_status repro_write_file_atomic(const char *path, const void *data, size_t n,
                                     repro_error *err)
{
    repro_atomic_file *w;
    repro_status st = repro_atomic_open(path, &w, err);
    if (st != REPRO_OK)
        return st;
    repro_atomic_write(w, data, n, NULL);
    return repro_atomic_commit(w, err);
}
