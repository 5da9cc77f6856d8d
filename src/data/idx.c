/* IDX files (the MNIST / Fashion-MNIST format), plain or gzip.
 *
 * Layout: a 4-byte big-endian magic 0x0000TTDD (TT = data type, 0x08 for
 * unsigned bytes; DD = number of dimensions), DD big-endian uint32 sizes,
 * then the data, row-major. Images are 0x00000803 (n x rows x cols), labels
 * 0x00000801 (n). The file must hold exactly the bytes the header claims:
 * the whole file is read even when a limit keeps fewer samples, so that a
 * truncated file, trailing bytes or a failed gzip CRC are always errors. */
#include "repro/data.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "data/gzio.h"
#include "data/idx.h"
#include "data/labels.h"

enum { IDX_UBYTE = 0x08, IDX_CHUNK = 1 << 16 };

typedef struct idx_file {
    const char *path;
    gzFile f;
    int ndims;
    uint32_t dims[3];
    uint64_t header_bytes; /* 4 + 4 * ndims */
} idx_file;

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Reads exactly len header bytes; a short read is a truncated header. */
static repro_status read_header_bytes(idx_file *ix, unsigned char *buf, size_t len,
                                      repro_error *err)
{
    size_t got;
    repro_status st = repro_gz_read(ix->f, ix->path, buf, len, &got, err);
    if (st)
        return st;
    if (got < len)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': truncated IDX header: expected %llu bytes, the file holds %llu",
                          ix->path, (unsigned long long)ix->header_bytes,
                          (unsigned long long)(ix->header_bytes - len + got));
    return REPRO_OK;
}

/* Opens path and checks its magic against 0x000008<ndims>. */
static repro_status idx_open(const char *path, int ndims, const char *what, idx_file *ix,
                             repro_error *err)
{
    ix->path = path;
    ix->ndims = ndims;
    ix->header_bytes = 4;
    repro_status st = repro_gz_open(path, &ix->f, err);
    if (st)
        return st;
    unsigned char b[12];
    ix->header_bytes = 4 + 4 * (uint64_t)ndims;
    st = read_header_bytes(ix, b, 4, err);
    if (st)
        goto fail;
    uint32_t magic = be32(b), want = (uint32_t)IDX_UBYTE << 8 | (uint32_t)ndims;
    if (b[0] != 0 || b[1] != 0) {
        st = repro_fail(err, REPRO_ERR_FORMAT,
                        "'%s': not an IDX file: magic 0x%08x, expected 0x%08x (%s)", path, magic,
                        want, what);
    } else if (b[2] != IDX_UBYTE) {
        st = repro_fail(err, REPRO_ERR_FORMAT,
                        "'%s': IDX data type 0x%02x is not supported: magic 0x%08x, expected "
                        "0x%08x (%s)", path, b[2], magic, want, what);
    } else if (b[3] != ndims) {
        st = repro_fail(err, REPRO_ERR_FORMAT,
                        "'%s': IDX file has %d dimensions: magic 0x%08x, expected 0x%08x (%s)",
                        path, b[3], magic, want, what);
    }
    if (st)
        goto fail;
    st = read_header_bytes(ix, b, 4 * (size_t)ndims, err);
    if (st)
        goto fail;
    for (int d = 0; d < ndims; d++) {
        ix->dims[d] = be32(b + 4 * d);
        if (ix->dims[d] == 0) {
            st = repro_fail(err, REPRO_ERR_FORMAT, "'%s': IDX dimension %d is 0", path, d);
            goto fail;
        }
    }
    return REPRO_OK;
fail:
    gzclose(ix->f);
    return st;
}

/* Reads n_bytes of sample data in chunks, handing the first keep_bytes to
 * sink (which converts them) and discarding the rest, then checks that the
 * file ends there. `what` describes the header's claim for messages. A
 * sink returns 0, or -1 when it cannot take the bytes (out of memory). */
typedef int (*idx_sink)(void *ctx, const unsigned char *bytes, uint64_t offset, size_t len);

static repro_status idx_read_body(idx_file *ix, uint64_t n_bytes, uint64_t keep_bytes,
                                  idx_sink sink, void *ctx, const char *claim, repro_error *err)
{
    unsigned char buf[IDX_CHUNK];
    uint64_t done = 0;
    while (done < n_bytes) {
        size_t want = n_bytes - done < IDX_CHUNK ? (size_t)(n_bytes - done) : IDX_CHUNK;
        size_t got;
        repro_status st = repro_gz_read(ix->f, ix->path, buf, want, &got, err);
        if (st)
            return st;
        if (done < keep_bytes) {
            uint64_t room = keep_bytes - done;
            if (sink(ctx, buf, done, got < room ? got : (size_t)room) != 0)
                return repro_fail(err, REPRO_ERR_NOMEM, "'%s': out of memory after %llu of the %llu bytes the "
                                  "header claims (%s)", ix->path, (unsigned long long)done,
                                  (unsigned long long)n_bytes, claim);
        }
        done += got;
        if (got < want)
            return repro_fail(err, REPRO_ERR_FORMAT,
                              "'%s': truncated: the header claims %s, %llu bytes of data after "
                              "the %llu-byte header; the file holds %llu",
                              ix->path, claim, (unsigned long long)n_bytes,
                              (unsigned long long)ix->header_bytes, (unsigned long long)done);
    }
    /* The end: reading on also makes zlib check the gzip trailer (CRC-32, length). */
    uint64_t extra = 0;
    for (;;) {
        size_t got;
        repro_status st = repro_gz_read(ix->f, ix->path, buf, IDX_CHUNK, &got, err);
        if (st)
            return st;
        extra += got;
        if (got < IDX_CHUNK)
            break;
    }
    if (extra)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': %llu bytes of data after the %llu the header claims (%s)",
                          ix->path, (unsigned long long)extra, (unsigned long long)n_bytes,
                          claim);
    return REPRO_OK;
}

/* n samples of `size` bytes: keep the first min(limit, n); reject sizes whose
 * float copy would not fit in memory's address range. */
static repro_status idx_sizes(const idx_file *ix, uint64_t size, int64_t limit, uint64_t *n_bytes,
                              uint64_t *keep, repro_error *err)
{
    uint64_t n = ix->dims[0];
    if (limit < 0)
        return repro_fail(err, REPRO_ERR_ARG, "'%s': negative sample limit %lld", ix->path,
                          (long long)limit);
    *keep = limit > 0 && (uint64_t)limit < n ? (uint64_t)limit : n;
    if (size > INT64_MAX / n || n * size > SIZE_MAX / sizeof(float))
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s': IDX sizes too large (%llu x %llu)",
                          ix->path, (unsigned long long)n, (unsigned long long)size);
    *n_bytes = n * size;
    return REPRO_OK;
}

/* Room for count elements of `size` bytes in *buf (*cap elements now),
 * grown as the data arrive (doubling, up to max): a header may claim far
 * more than the file holds, and the file says so only when it ends. */
static int grow(void **buf, uint64_t *cap, uint64_t count, uint64_t max, size_t size)
{
    if (count <= *cap)
        return 0;
    uint64_t want = *cap ? *cap : 1 << 16;
    while (want < count)
        want *= 2;
    want = want < max ? want : max;
    void *bigger = realloc(*buf, (size_t)(want ? want : 1) * size);
    if (!bigger)
        return -1;
    *buf = bigger;
    *cap = want;
    return 0;
}

/* The images' bytes as they arrive (a data set keeps them and converts
 * when gathering; repro_idx_read_images converts them all at once). */
typedef struct image_sink {
    unsigned char *raw;
    uint64_t cap, max; /* bytes allocated, and the most that will be kept */
} image_sink;

static int sink_images(void *ctx, const unsigned char *bytes, uint64_t offset, size_t len)
{
    image_sink *s = ctx;
    if (grow((void **)&s->raw, &s->cap, offset + len, s->max, 1) != 0)
        return -1;
    memcpy(s->raw + offset, bytes, len);
    return 0;
}

/* As repro_idx_read_images, but the pixels' bytes into *raw (malloc'd);
 * *total is the count the header claims and hw [2] the image height and
 * width (rows, cols). */
static repro_status read_images(const char *path, int64_t limit, unsigned char **raw, int64_t *n,
                                int64_t *n_features, int64_t *total, int64_t *hw, repro_error *err)
{
    *raw = NULL;
    *n = 0;
    *n_features = 0;
    *total = 0;
    idx_file ix;
    repro_status st = idx_open(path, 3, "uint8 images, n x rows x cols", &ix, err);
    if (st)
        return st;
    uint64_t features = (uint64_t)ix.dims[1] * ix.dims[2], n_bytes, keep;
    image_sink sink = {NULL, 0, 0};
    char claim[96];
    st = idx_sizes(&ix, features, limit, &n_bytes, &keep, err);
    if (st)
        goto done;
    sink.max = keep * features;
    if (grow((void **)&sink.raw, &sink.cap, 1, sink.max ? sink.max : 1, 1) != 0) {
        st = repro_fail(err, REPRO_ERR_NOMEM, "'%s': out of memory for %llu images", path,
                        (unsigned long long)keep);
        goto done;
    }
    snprintf(claim, sizeof claim, "%u images of %ux%u", ix.dims[0], ix.dims[1], ix.dims[2]);
    st = idx_read_body(&ix, n_bytes, keep * features, sink_images, &sink, claim, err);
    if (st) {
        free(sink.raw);
        goto done;
    }
    *raw = sink.raw;
    *n = (int64_t)keep;
    *n_features = (int64_t)features;
    *total = ix.dims[0];
    hw[0] = ix.dims[1];
    hw[1] = ix.dims[2];
done:
    gzclose(ix.f);
    return st;
}

typedef struct label_sink {
    int32_t *labels;
    uint64_t cap, max;
} label_sink;

static int sink_labels(void *ctx, const unsigned char *bytes, uint64_t offset, size_t len)
{
    label_sink *s = ctx;
    if (grow((void **)&s->labels, &s->cap, offset + len, s->max, sizeof *s->labels) != 0)
        return -1;
    for (size_t i = 0; i < len; i++)
        s->labels[offset + i] = bytes[i];
    return 0;
}

/* As repro_idx_read_labels; *total is the count the header claims. */
static repro_status read_labels(const char *path, int64_t limit, int32_t **labels, int64_t *n,
                                int64_t *total, repro_error *err)
{
    *labels = NULL;
    *n = 0;
    *total = 0;
    idx_file ix;
    repro_status st = idx_open(path, 1, "uint8 labels, n", &ix, err);
    if (st)
        return st;
    uint64_t n_bytes, keep;
    label_sink sink = {NULL, 0, 0};
    char claim[64];
    st = idx_sizes(&ix, 1, limit, &n_bytes, &keep, err);
    if (st)
        goto done;
    sink.max = keep;
    if (grow((void **)&sink.labels, &sink.cap, 1, keep ? keep : 1, sizeof(int32_t)) != 0) {
        st = repro_fail(err, REPRO_ERR_NOMEM, "'%s': out of memory for %llu labels", path,
                        (unsigned long long)keep);
        goto done;
    }
    snprintf(claim, sizeof claim, "%u labels", ix.dims[0]);
    st = idx_read_body(&ix, n_bytes, keep, sink_labels, &sink, claim, err);
    if (st) {
        free(sink.labels);
        goto done;
    }
    *labels = sink.labels;
    *n = (int64_t)keep;
    *total = ix.dims[0];
done:
    gzclose(ix.f);
    return st;
}

repro_status repro_idx_read_images(const char *path, float scale, int64_t limit, float **x,
                                   int64_t *n, int64_t *n_features, repro_error *err)
{
    int64_t total, hw[2];
    unsigned char *raw;
    *x = NULL;
    repro_status st = read_images(path, limit, &raw, n, n_features, &total, hw, err);
    if (st)
        return st;
    size_t count = (size_t)*n * (size_t)*n_features;
    *x = malloc((count ? count : 1) * sizeof(float));
    if (*x)
        for (size_t i = 0; i < count; i++)
            (*x)[i] = (float)raw[i] * scale;
    free(raw);
    if (!*x)
        return repro_fail(err, REPRO_ERR_NOMEM, "'%s': out of memory for %lld images", path, (long long)*n);
    return REPRO_OK;
}

repro_status repro_idx_read_labels(const char *path, int64_t limit, int32_t **labels, int64_t *n,
                                   repro_error *err)
{
    int64_t total;
    return read_labels(path, limit, labels, n, &total, err);
}

/* The images' bytes as the data set's features (repro_mapped_features with
 * no file: an anonymous mapping of its own), converted to floats only when
 * gathered, with the same (float)byte * scale as repro_idx_read_images: a
 * quarter of the memory of floats, and a quarter of the bytes a batch's
 * gather reads from all over the set (Fashion-MNIST: 47 MB, not 188). */
static repro_status keep_bytes(repro_dataset *out, const unsigned char *raw, int64_t n, float scale,
                               const char *path, repro_error *err)
{
    size_t bytes = (size_t)n * (size_t)out->n_features;
    void *map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return repro_fail(err, REPRO_ERR_NOMEM, "'%s': out of memory for %lld images", path, (long long)n);
    memcpy(map, raw, bytes);
    (void)mprotect(map, bytes, PROT_READ); /* read-only from here, as a file's mapping is */
    out->mapped = (repro_mapped_features){.data = map, .row_bytes = (size_t)out->n_features,
                                          .dtype = REPRO_NPY_U8, .scale = scale, .map = map,
                                          .map_bytes = bytes};
    return REPRO_OK;
}

repro_status repro_idx_read_set(const char *images, const char *labels, float scale,
                                int64_t limit, repro_dataset *out, repro_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t n_images, n_labels, total_images, total_labels, hw[2];
    unsigned char *pixels;
    repro_status st = read_images(images, limit, &pixels, &n_images, &out->n_features, &total_images, hw, err);
    if (!st) {
        out->image_h = hw[0];
        out->image_w = hw[1];
        st = keep_bytes(out, pixels, n_images, scale, images, err);
    }
    free(pixels);
    if (!st)
        st = read_labels(labels, limit, &out->label, &n_labels, &total_labels, err);
    /* Compare the headers' counts, so a limit cannot hide a mismatch. */
    if (!st && total_images != total_labels)
        st = repro_fail(err, REPRO_ERR_FORMAT,
                        "image/label count mismatch: '%s' holds %lld images, '%s' holds %lld "
                        "labels", images, (long long)total_images, labels,
                        (long long)total_labels);
    if (st) {
        repro_dataset_free(out);
        return st;
    }
    out->n = n_images;
    out->n_classes = repro_labels_count_classes(out->label, out->n);
    return REPRO_OK;
}
