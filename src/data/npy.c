/* NPY files: the header, the mapping, the element conversion.
 *
 * Layout (numpy's format.py, versions 1.0 to 3.0):
 *   6 bytes  magic "\x93NUMPY"
 *   2 bytes  version major, minor (1.0, 2.0 or 3.0)
 *   2 bytes  (v1) or 4 bytes (v2, v3) little-endian length of the header text
 *   the header text: a Python dict literal
 *       {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 *     padded with spaces and ended by '\n' (v3 allows UTF-8 in it, which
 *     only structured dtypes use; those are rejected anyway)
 *   the data: count * element size bytes, C order, nothing after them.
 * The header is parsed straight from the mapping; the data are never read
 * here. Messages: docs/data.md. */
#include "repro/npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Elements are read with memcpy in host order, which must be the file's. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "repro's NPY reader assumes a little-endian host"
#endif

static const char NPY_MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
#define NPY_SUPPORTED "'<f4' (float32), '<f8' (float64), '|u1' (uint8), '<i4' (int32), '<i8' (int64)"

static const struct {
    const char *descr;
    repro_npy_dtype dtype;
} DESCRS[] = {
    {"<f4", REPRO_NPY_F32}, {"<f8", REPRO_NPY_F64}, {"|u1", REPRO_NPY_U8},
    {"<u1", REPRO_NPY_U8},  {"<i4", REPRO_NPY_I32}, {"<i8", REPRO_NPY_I64},
};

const char *repro_npy_dtype_descr(repro_npy_dtype dtype)
{
    switch (dtype) {
    case REPRO_NPY_F32: return "<f4";
    case REPRO_NPY_F64: return "<f8";
    case REPRO_NPY_U8: return "|u1";
    case REPRO_NPY_I32: return "<i4";
    case REPRO_NPY_I64: return "<i8";
    }
    return "?";
}

size_t repro_npy_dtype_size(repro_npy_dtype dtype)
{
    switch (dtype) {
    case REPRO_NPY_F32: return 4;
    case REPRO_NPY_F64: return 8;
    case REPRO_NPY_U8: return 1;
    case REPRO_NPY_I32: return 4;
    case REPRO_NPY_I64: return 8;
    }
    return 0;
}

/* ---- the header dict ---------------------------------------------------- */

typedef struct text_span {
    const char *s;
    size_t len;
} text_span;

/* What the three keys said; `seen` flags catch missing and repeated keys. */
typedef struct npy_dict {
    bool seen_descr, seen_fortran, seen_shape;
    bool descr_is_list; /* a structured dtype: descr is a list of fields */
    text_span descr;
    bool fortran;
    int ndim;
    int64_t shape[REPRO_NPY_MAX_DIMS];
} npy_dict;

typedef struct dict_parser {
    const char *p, *end;
    const char *path;
    text_span header; /* the whole text, quoted in messages */
    repro_error *err;
} dict_parser;

/* "'f.npy': malformed NPY header (why): <the header, newlines escaped>". */
static repro_status malformed(dict_parser *ps, const char *why)
{
    /* Padding and the final newline say nothing: leave them out. */
    size_t len = ps->header.len;
    while (len > 0 && (ps->header.s[len - 1] == ' ' || ps->header.s[len - 1] == '\n'))
        len--;
    char shown[256];
    size_t n = 0, i = 0;
    for (; i < len && n + 8 < sizeof shown; i++) {
        unsigned char c = (unsigned char)ps->header.s[i];
        if (c == '\n')
            n += (size_t)snprintf(shown + n, sizeof shown - n, "\\n");
        else if (c < 0x20 || c >= 0x7f)
            n += (size_t)snprintf(shown + n, sizeof shown - n, "\\x%02x", c);
        else
            shown[n++] = (char)c;
    }
    shown[n] = '\0';
    const char *more = i < len ? "..." : "";
    return repro_fail(ps->err, REPRO_ERR_FORMAT, "'%s': malformed NPY header (%s): %s%s", ps->path,
                      why, shown, more);
}

static void skip_space(dict_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Skips spaces, then consumes c if it is next. */
static bool accept(dict_parser *ps, char c)
{
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

/* A quoted string, '...' or "...", without escapes (no valid key or dtype
 * string has one). */
static repro_status parse_string(dict_parser *ps, text_span *out)
{
    skip_space(ps);
    if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
        return malformed(ps, "expected a quoted string");
    char quote = *ps->p++;
    const char *start = ps->p;
    while (ps->p < ps->end && *ps->p != quote && *ps->p != '\\' && *ps->p != '\n')
        ps->p++;
    if (ps->p >= ps->end || *ps->p != quote)
        return malformed(ps, "unterminated or escaped string");
    out->s = start;
    out->len = (size_t)(ps->p - start);
    ps->p++;
    return REPRO_OK;
}

static bool accept_word(dict_parser *ps, const char *word)
{
    skip_space(ps);
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, word, n) == 0) {
        ps->p += n;
        return true;
    }
    return false;
}

/* A shape tuple: (), (n,), (n, m), ... of non-negative integers, each
 * optionally followed by Python 2's 'L'. */
static repro_status parse_shape(dict_parser *ps, npy_dict *d)
{
    if (!accept(ps, '('))
        return malformed(ps, "'shape' is not a tuple");
    d->ndim = 0;
    if (accept(ps, ')'))
        return REPRO_OK;
    for (;;) {
        skip_space(ps);
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return malformed(ps, "a 'shape' entry is not a non-negative integer");
        int64_t v = 0;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return malformed(ps, "a 'shape' entry is too large");
            v = v * 10 + (*ps->p++ - '0');
        }
        if (ps->p < ps->end && *ps->p == 'L')
            ps->p++;
        if (d->ndim == REPRO_NPY_MAX_DIMS)
            return malformed(ps, "'shape' has more than 8 dimensions");
        d->shape[d->ndim++] = v;
        bool comma = accept(ps, ',');
        if (accept(ps, ')'))
            return d->ndim == 1 && !comma ? malformed(ps, "'shape' (n) is not a tuple") : REPRO_OK;
        if (!comma)
            return malformed(ps, "expected ',' or ')' in 'shape'");
    }
}

static repro_status parse_entry(dict_parser *ps, npy_dict *d)
{
    text_span key;
    repro_status st = parse_string(ps, &key);
    if (st)
        return st;
    if (!accept(ps, ':'))
        return malformed(ps, "expected ':' after a key");
    bool *seen;
    if (key.len == 5 && memcmp(key.s, "descr", 5) == 0) {
        seen = &d->seen_descr;
        skip_space(ps);
        if (ps->p < ps->end && *ps->p == '[') {
            d->descr_is_list = true; /* reported as an unsupported dtype by the caller */
            return REPRO_OK;
        }
        st = parse_string(ps, &d->descr);
    } else if (key.len == 13 && memcmp(key.s, "fortran_order", 13) == 0) {
        seen = &d->seen_fortran;
        if (accept_word(ps, "True"))
            d->fortran = true;
        else if (accept_word(ps, "False"))
            d->fortran = false;
        else
            st = malformed(ps, "'fortran_order' is neither True nor False");
    } else if (key.len == 5 && memcmp(key.s, "shape", 5) == 0) {
        seen = &d->seen_shape;
        st = parse_shape(ps, d);
    } else {
        return malformed(ps, "a key other than 'descr', 'fortran_order' and 'shape'");
    }
    if (!st && *seen)
        return malformed(ps, "a key appears twice");
    *seen = true;
    return st;
}

static repro_status parse_dict(dict_parser *ps, npy_dict *d)
{
    memset(d, 0, sizeof *d);
    if (!accept(ps, '{'))
        return malformed(ps, "it does not begin with '{'");
    while (!accept(ps, '}')) {
        repro_status st = parse_entry(ps, d);
        if (st || d->descr_is_list)
            return st;
        if (!accept(ps, ',')) {
            if (accept(ps, '}'))
                break;
            return malformed(ps, "expected ',' or '}' after a value");
        }
    }
    skip_space(ps);
    if (ps->p != ps->end)
        return malformed(ps, "text after the closing '}'");
    if (!d->seen_descr || !d->seen_fortran || !d->seen_shape)
        return malformed(ps, !d->seen_descr     ? "no 'descr' key"
                             : !d->seen_fortran ? "no 'fortran_order' key"
                                                : "no 'shape' key");
    return REPRO_OK;
}

/* ---- checks on what the header says ------------------------------------ */

static void format_shape(const repro_npy *f, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < f->ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ", %lld" : "%lld", (long long)f->shape[i]);
    if (n < size)
        snprintf(buf + n, size - n, f->ndim == 1 ? ",)" : ")");
}

static repro_status check_dtype(const char *path, const npy_dict *d, repro_npy *f,
                                repro_error *err)
{
    if (d->descr_is_list)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': structured dtypes (a list of fields) are not supported; "
                          "supported dtypes: " NPY_SUPPORTED, path);
    int len = d->descr.len > 32 ? 32 : (int)d->descr.len;
    for (size_t i = 0; i < sizeof DESCRS / sizeof DESCRS[0]; i++) {
        if (strlen(DESCRS[i].descr) == d->descr.len &&
            memcmp(DESCRS[i].descr, d->descr.s, d->descr.len) == 0) {
            f->dtype = DESCRS[i].dtype;
            return REPRO_OK;
        }
    }
    if (d->descr.len > 0 && d->descr.s[0] == '>')
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': big-endian dtype '%.*s' is not supported: save little-endian "
                          "data (arr.astype(arr.dtype.newbyteorder('<'))); supported dtypes: "
                          NPY_SUPPORTED, path, len, d->descr.s);
    return repro_fail(err, REPRO_ERR_FORMAT,
                      "'%s': dtype '%.*s' is not supported; supported dtypes: " NPY_SUPPORTED,
                      path, len, d->descr.s);
}

/* The data must be exactly count * element size bytes. */
static repro_status check_size(const char *path, repro_npy *f, repro_error *err)
{
    size_t elem = repro_npy_dtype_size(f->dtype);
    size_t have = f->map_bytes - f->header_bytes;
    /* The product, flagged when it overflows (a zero size makes it 0). */
    bool over = false, zero = false;
    uint64_t count = 1;
    for (int i = 0; i < f->ndim; i++) {
        uint64_t dim = (uint64_t)f->shape[i];
        zero |= dim == 0;
        if (dim != 0 && count > UINT64_MAX / dim)
            over = true;
        else
            count *= dim;
    }
    if (zero) {
        over = false;
        count = 0;
    }
    if (!over && count > UINT64_MAX / elem)
        over = true;
    char shape[160];
    format_shape(f, shape, sizeof shape);
    const char *descr = repro_npy_dtype_descr(f->dtype);
    if (over)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': truncated: the header claims shape %s of '%s', 2^64 bytes of "
                          "data or more; the file holds %zu after the %zu-byte header", path,
                          shape, descr, have, f->header_bytes);
    uint64_t want = count * elem;
    if (want > have)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': truncated: the header claims shape %s of '%s', %llu bytes of "
                          "data after the %zu-byte header; the file holds %zu", path, shape,
                          descr, (unsigned long long)want, f->header_bytes, have);
    if (want < have)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': %llu bytes of data after the %llu the header claims (shape %s "
                          "of '%s')", path, (unsigned long long)(have - want),
                          (unsigned long long)want, shape, descr);
    f->count = (int64_t)count;
    f->data_bytes = (size_t)want;
    return REPRO_OK;
}

static repro_status bad_magic(const char *path, const unsigned char *b, size_t size,
                              repro_error *err)
{
    char first[64] = "the file is empty";
    size_t n = 0;
    for (size_t i = 0; i < size && i < 6; i++)
        n += (size_t)snprintf(first + n, sizeof first - n, i ? " %02x" : "its first bytes are %02x",
                              b[i]);
    return repro_fail(err, REPRO_ERR_FORMAT,
                      "'%s': not an NPY file: it does not begin with the magic \\x93NUMPY "
                      "(93 4e 55 4d 50 59); %s", path, first);
}

/* Magic, version and the header's length; sets f->version and
 * f->header_bytes, and *text to the header text inside the mapping. */
static repro_status read_preamble(const char *path, repro_npy *f, text_span *text,
                                  repro_error *err)
{
    const unsigned char *b = f->map;
    size_t size = f->map_bytes;
    if (size < sizeof NPY_MAGIC || memcmp(b, NPY_MAGIC, sizeof NPY_MAGIC) != 0)
        return bad_magic(path, b, size, err);
    if (size < 8)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': truncated NPY header: the file holds %zu bytes", path, size);
    int major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': NPY version %d.%d is not supported (supported: 1.0, 2.0, 3.0)",
                          path, major, minor);
    size_t prefix = major == 1 ? 10 : 12;
    if (size < prefix)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': truncated NPY header: expected at least %zu bytes, the file "
                          "holds %zu", path, prefix, size);
    size_t len = major == 1 ? (size_t)b[8] | (size_t)b[9] << 8
                            : (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 |
                                  (size_t)b[11] << 24;
    if (len > size - prefix)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': truncated NPY header: expected %zu bytes, the file holds %zu",
                          path, prefix + len, size);
    f->version = major;
    f->header_bytes = prefix + len;
    text->s = (const char *)b + prefix;
    text->len = len;
    return REPRO_OK;
}

static repro_status parse_header(const char *path, repro_npy *f, repro_error *err)
{
    text_span text;
    repro_status st = read_preamble(path, f, &text, err);
    if (st)
        return st;
    dict_parser ps = {text.s, text.s + text.len, path, text, err};
    npy_dict d;
    st = parse_dict(&ps, &d);
    if (!st)
        st = check_dtype(path, &d, f, err);
    if (st)
        return st;
    if (d.fortran)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': fortran_order True is not supported: save with "
                          "np.ascontiguousarray", path);
    f->ndim = d.ndim;
    memcpy(f->shape, d.shape, sizeof f->shape);
    f->data = (const unsigned char *)f->map + f->header_bytes;
    return check_size(path, f, err);
}

/* ---- open, close ---------------------------------------------------------- */

static repro_status map_file(const char *path, repro_npy *f, repro_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return repro_fail(err, REPRO_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    repro_status st = REPRO_OK;
    if (fstat(fd, &sb) != 0) {
        st = repro_fail(err, REPRO_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        st = repro_fail(err, REPRO_ERR_IO, "'%s' is not a regular file", path);
    } else if (sb.st_size > 0) {
        /* mmap rejects a length of 0; an empty file fails the magic check. */
        void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
            st = repro_fail(err, REPRO_ERR_IO, "cannot map '%s' (%lld bytes): %s", path,
                            (long long)sb.st_size, strerror(errno));
        else {
            f->map = m;
            f->map_bytes = (size_t)sb.st_size;
        }
    }
    close(fd);
    return st;
}

repro_status repro_npy_open(const char *path, repro_npy *f, repro_error *err)
{
    memset(f, 0, sizeof *f);
    repro_status st = map_file(path, f, err);
    if (st)
        return st;
    if (!f->map) /* an empty file: nothing was mapped */
        return bad_magic(path, NULL, 0, err);
    st = parse_header(path, f, err);
    if (st)
        repro_npy_close(f);
    return st;
}

void repro_npy_close(repro_npy *f)
{
    if (!f)
        return;
    if (f->map)
        munmap(f->map, f->map_bytes);
    memset(f, 0, sizeof *f);
}

/* ---- elements as floats ---------------------------------------------------- */

void repro_npy_convert_row(const unsigned char *src, repro_npy_dtype dtype, float scale,
                           int64_t n, float *dst)
{
    size_t count = (size_t)n;
    switch (dtype) {
    case REPRO_NPY_F32:
        memcpy(dst, src, count * sizeof(float));
        return;
    case REPRO_NPY_F64:
        for (size_t i = 0; i < count; i++) {
            double v;
            memcpy(&v, src + 8 * i, 8);
            dst[i] = (float)v;
        }
        return;
    case REPRO_NPY_U8:
        for (size_t i = 0; i < count; i++)
            dst[i] = (float)src[i] * scale;
        return;
    case REPRO_NPY_I32:
        for (size_t i = 0; i < count; i++) {
            int32_t v;
            memcpy(&v, src + 4 * i, 4);
            dst[i] = (float)v * scale;
        }
        return;
    case REPRO_NPY_I64:
        for (size_t i = 0; i < count; i++) {
            int64_t v;
            memcpy(&v, src + 8 * i, 8);
            dst[i] = (float)v * scale;
        }
        return;
    }
}
