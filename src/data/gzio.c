/* Plain-or-gzip reading with checked errors: see gzio.h. */
#include "data/gzio.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

repro_status repro_gz_open(const char *path, gzFile *out, repro_error *err)
{
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        return repro_fail(err, REPRO_ERR_IO, "cannot open '%s': %s", path,
                          errno ? strerror(errno) : "out of memory");
    }
    *out = f;
    return REPRO_OK;
}

/* After a short or failed gzread: the stream's state says whether it ended
 * cleanly. Z_BUF_ERROR is zlib's "unexpected end of file" (a cut-off gzip
 * stream); Z_DATA_ERROR covers bad deflate data and a wrong CRC-32/length. */
static repro_status check_stream(gzFile f, const char *path, repro_error *err)
{
    int code = Z_OK;
    const char *msg = gzerror(f, &code);
    if (code == Z_OK || code == Z_STREAM_END)
        return REPRO_OK;
    if (code == Z_ERRNO)
        return repro_fail(err, REPRO_ERR_IO, "reading '%s': %s", path, strerror(errno));
    /* zlib's message is "<path>: <what>"; the path is already in ours. */
    size_t plen = strlen(path);
    if (strncmp(msg, path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0)
        msg += plen + 2;
    return repro_fail(err, REPRO_ERR_FORMAT, "'%s': corrupt or truncated gzip stream (zlib: %s)",
                      path, msg);
}

repro_status repro_gz_read(gzFile f, const char *path, void *buf, size_t len, size_t *got,
                           repro_error *err)
{
    /* gzread takes an unsigned count and returns an int: read in pieces. */
    const size_t piece = (size_t)1 << 30;
    unsigned char *p = buf;
    size_t done = 0;
    *got = 0;
    while (done < len) {
        size_t want = len - done < piece ? len - done : piece;
        int n = gzread(f, p + done, (unsigned)want);
        if (n < 0) {
            repro_status st = check_stream(f, path, err);
            return st ? st : repro_fail(err, REPRO_ERR_FORMAT, "'%s': gzread failed", path);
        }
        done += (size_t)n;
        if ((size_t)n < want)
            break;
    }
    *got = done;
    if (done < len)
        return check_stream(f, path, err);
    return REPRO_OK;
}

repro_status repro_gz_read_all(const char *path, char **buf, size_t *len, repro_error *err)
{
    *buf = NULL;
    *len = 0;
    gzFile f;
    repro_status st = repro_gz_open(path, &f, err);
    if (st)
        return st;
    size_t cap = 1 << 16, used = 0;
    char *data = malloc(cap + 1);
    if (!data) {
        gzclose(f);
        return repro_fail(err, REPRO_ERR_NOMEM, "reading '%s': out of memory", path);
    }
    for (;;) {
        size_t got;
        st = repro_gz_read(f, path, data + used, cap - used, &got, err);
        if (st)
            break;
        used += got;
        if (used < cap)
            break;
        char *bigger = cap <= SIZE_MAX / 4 ? realloc(data, cap * 2 + 1) : NULL;
        if (!bigger) {
            st = repro_fail(err, REPRO_ERR_NOMEM, "reading '%s': out of memory", path);
            break;
        }
        data = bigger;
        cap *= 2;
    }
    gzclose(f);
    if (st) {
        free(data);
        return st;
    }
    data[used] = '\0';
    *buf = data;
    *len = used;
    return REPRO_OK;
}
