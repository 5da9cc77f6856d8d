/* NPY: every dtype x header version written here and read back (float32
 * bit for bit, the others against exact expectations), files written by
 * numpy itself, every kind of bad file (status and message), loading through
 * repro_data_load, and a data set four times larger than the memory cap
 * (RLIMIT_DATA, in a child process) gathered whole through the mapping. */
#include "repro/data.h"
#include "repro/npy.h"

#include <math.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define TMP REPRO_TEST_TMP "/npy_"

/* Under ASan a failed malloc aborts unless told otherwise; the memory-cap
 * test needs it to return NULL. Harmless in a build without ASan. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* ---- a tiny NPY writer ---------------------------------------------------- */

/* Writes magic, version major.minor, the header text `dict` padded with
 * spaces and ended with '\n' so that the whole preamble is a multiple of 64
 * bytes (as numpy does), then `len` bytes of data. */
static void write_npy_raw(const char *path, int major, int minor, const char *dict,
                          const void *data, size_t len)
{
    size_t prefix = major == 1 ? 10 : 12;
    size_t text = strlen(dict) + 1;
    size_t pad = (64 - (prefix + text) % 64) % 64;
    size_t hlen = text + pad;
    unsigned char pre[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major,
                             (unsigned char)minor};
    for (size_t i = 0; i < prefix - 8; i++)
        pre[8 + i] = (unsigned char)(hlen >> (8 * i));
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(pre, 1, prefix, f) == prefix && fputs(dict, f) >= 0;
    for (size_t i = 0; ok && i < pad; i++)
        ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF && (len == 0 || fwrite(data, 1, len, f) == len);
    if (!f || fclose(f) != 0 || !ok) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static void write_npy(const char *path, int version, const char *descr, const char *shape,
                      const void *data, size_t len)
{
    char dict[256];
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
             shape);
    write_npy_raw(path, version, 0, dict, data, len);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- round trips: every dtype x version ----------------------------------- */

enum { ROWS = 4, COLS = 3, CELLS = ROWS * COLS };

/* The raw values of each dtype and the floats gather must give (as bits),
 * with the scale used. Shape [4][3]. */
typedef struct case_data {
    const char *descr;
    repro_npy_dtype dtype;
    float scale;
    unsigned char raw[CELLS * 8];
    size_t raw_len;
    uint32_t want[CELLS];
} case_data;

static void fill_cases(case_data *c)
{
    /* float32: copied bit for bit, NaN payloads, -0, subnormals and all. */
    static const uint32_t f32[CELLS] = {0x00000000, 0x80000000, 0x00000001, 0x807fffff,
                                        0x3f800000, 0x40490fdb, 0x7f7fffff, 0xff800000,
                                        0x7fc00001, 0xffa00000, 0x3dcccccd, 0xc2f6e979};
    c[0] = (case_data){.descr = "<f4", .dtype = REPRO_NPY_F32, .scale = 0.5f, .raw_len = 4 * CELLS};
    memcpy(c[0].raw, f32, sizeof f32);
    memcpy(c[0].want, f32, sizeof f32);
    /* float64: rounded to nearest, ties to even; scale unused. */
    static const double f64[CELLS] = {0.1, 1.0 + 0x1p-24, 1.0 + 0x3p-24, 1.0 + 0x1p-24 + 0x1p-40,
                                      -0.0, 1e300, -1e300, 1e-50,
                                      0x1p-149, 0x1p-150, 3.0, -2.5};
    static const uint32_t f64_want[CELLS] = {0x3dcccccd, 0x3f800000, 0x3f800002, 0x3f800001,
                                             0x80000000, 0x7f800000, 0xff800000, 0x00000000,
                                             0x00000001, 0x00000000, 0x40400000, 0xc0200000};
    c[1] = (case_data){.descr = "<f8", .dtype = REPRO_NPY_F64, .scale = 0.5f, .raw_len = 8 * CELLS};
    memcpy(c[1].raw, f64, sizeof f64);
    memcpy(c[1].want, f64_want, sizeof f64_want);
    /* uint8 as '|u1' and '<u1': (float)v * 0.5f, exact. */
    static const unsigned char u8[CELLS] = {0, 1, 2, 3, 127, 128, 200, 254, 255, 7, 64, 99};
    for (int k = 0; k < 2; k++) {
        c[2 + k] = (case_data){.descr = k ? "<u1" : "|u1", .dtype = REPRO_NPY_U8, .scale = 0.5f,
                               .raw_len = CELLS};
        memcpy(c[2 + k].raw, u8, sizeof u8);
        for (int i = 0; i < CELLS; i++) {
            float v = (float)u8[i] / 2;
            memcpy(&c[2 + k].want[i], &v, 4);
        }
    }
    /* int32, scale 1: rounded to nearest above 2^24. */
    static const int32_t i32[CELLS] = {0, -5, 7, 16777216, 16777217, 16777219,
                                       INT32_MIN, INT32_MAX, -16777217, 1000, -1, 42};
    static const uint32_t i32_want[CELLS] = {0x00000000, 0xc0a00000, 0x40e00000, 0x4b800000,
                                             0x4b800000, 0x4b800002, 0xcf000000, 0x4f000000,
                                             0xcb800000, 0x447a0000, 0xbf800000, 0x42280000};
    c[4] = (case_data){.descr = "<i4", .dtype = REPRO_NPY_I32, .scale = 1.0f, .raw_len = 4 * CELLS};
    memcpy(c[4].raw, i32, sizeof i32);
    memcpy(c[4].want, i32_want, sizeof i32_want);
    /* int64, scale 0.25f: one rounding to float, then an exact multiply. */
    static const int64_t i64[CELLS] = {0, -3, 4, 9007199254740993LL, INT64_MIN, INT64_MAX,
                                       1LL << 40, -(1LL << 62), 16777217, 5, 6, -8};
    static const uint32_t i64_want[CELLS] = {0x00000000, 0xbf400000, 0x3f800000, 0x59000000,
                                             0xde000000, 0x5e000000, 0x52800000, 0xdd800000,
                                             0x4a800000, 0x3fa00000, 0x3fc00000, 0xc0000000};
    c[5] = (case_data){.descr = "<i8", .dtype = REPRO_NPY_I64, .scale = 0.25f, .raw_len = 8 * CELLS};
    memcpy(c[5].raw, i64, sizeof i64);
    memcpy(c[5].want, i64_want, sizeof i64_want);
}

static void test_round_trips(void)
{
    case_data cases[6];
    fill_cases(cases);
    const uint32_t idx[5] = {3, 0, 2, 3, 1};
    for (int c = 0; c < 6; c++) {
        for (int version = 1; version <= 3; version++) {
            char path[512];
            snprintf(path, sizeof path, TMP "rt_%d_v%d.npy", c, version);
            write_npy(path, version, cases[c].descr, "(4, 3)", cases[c].raw, cases[c].raw_len);
            repro_error err = {0};
            repro_npy f;
            repro_status st = repro_npy_open(path, &f, &err);
            CHECK_MSG(st == REPRO_OK, "%s: %s", path, err.message);
            if (st)
                continue;
            CHECK(f.version == version && f.dtype == cases[c].dtype && f.ndim == 2);
            CHECK(f.shape[0] == 4 && f.shape[1] == 3 && f.count == CELLS);
            CHECK(f.header_bytes % 64 == 0 && f.data_bytes == cases[c].raw_len);
            CHECK(memcmp(f.data, cases[c].raw, cases[c].raw_len) == 0);
            repro_npy_close(&f);
            CHECK(f.map == NULL);

            repro_dataset ds;
            st = repro_npy_read_set(path, NULL, true, cases[c].scale, 0, &ds, &err);
            CHECK_MSG(st == REPRO_OK, "%s: %s", path, err.message);
            if (st)
                continue;
            CHECK(ds.n == 4 && ds.n_features == 3 && ds.x == NULL && ds.mapped.data != NULL);
            CHECK(ds.image_h == 0 && ds.image_w == 0 && ds.label == NULL && ds.y == NULL);
            float got[5 * COLS], want[5 * COLS];
            repro_dataset_gather(&ds, idx, 5, got, NULL, NULL);
            for (int i = 0; i < 5; i++)
                for (int j = 0; j < COLS; j++)
                    want[i * COLS + j] = bits_to_float(cases[c].want[idx[i] * COLS + j]);
            char what[64];
            snprintf(what, sizeof what, "%s v%d", cases[c].descr, version);
            CHECK_BITS(got, want, 5 * COLS, what);
            repro_dataset_free(&ds);
            CHECK(ds.mapped.map == NULL && ds.n == 0);
            remove(path);
        }
    }
}

/* [n][h][w] is an image set; a limit keeps the first rows of the mapping. */
static void test_images_and_limit(void)
{
    unsigned char px[5 * 2 * 3];
    for (int i = 0; i < 30; i++)
        px[i] = (unsigned char)(i * 8);
    const char *path = TMP "img.npy";
    write_npy(path, 1, "|u1", "(5, 2, 3)", px, sizeof px);
    repro_error err = {0};
    repro_dataset ds;
    CHECK(repro_npy_read_set(path, NULL, true, 1.0f / 255.0f, 2, &ds, &err) == REPRO_OK);
    CHECK(ds.n == 2 && ds.n_features == 6 && ds.image_h == 2 && ds.image_w == 3);
    const uint32_t idx[2] = {1, 0};
    float x[12];
    repro_dataset_gather(&ds, idx, 2, x, NULL, NULL);
    bool same = true;
    for (int i = 0; i < 6; i++)
        same &= x[i] == (float)px[6 + i] * (1.0f / 255.0f) && x[6 + i] == (float)px[i] * (1.0f / 255.0f);
    CHECK(same);
    repro_dataset_free(&ds);
    remove(path);
}

/* A mapped file cut short under the run (issue 10, defect 7): the read of a
 * page it no longer has is an error naming the file, not SIGBUS; a file
 * changed in place is noticed by repro_dataset_check_unchanged. */
static void test_changed_under_mapping(void)
{
    enum { N = 4096, D = 16 }; /* 256 KiB of floats: many pages */
    float *data = calloc((size_t)N * D, sizeof(float));
    for (int i = 0; i < N * D; i++)
        data[i] = (float)i;
    const char *path = TMP "shrinks.npy";
    write_npy(path, 1, "<f4", "(4096, 16)", data, (size_t)N * D * sizeof(float));
    repro_error err = {0};
    repro_dataset ds;
    CHECK(repro_npy_read_set(path, NULL, true, 1.0f, 0, &ds, &err) == REPRO_OK);
    CHECK(repro_dataset_check_unchanged(&ds, &err) == REPRO_OK);
    uint32_t last = N - 1;
    float row[D];
    CHECK(repro_dataset_gather_checked(&ds, &last, 1, row, NULL, NULL, &err) == REPRO_OK && row[0] == (float)(N - 1) * D);
    CHECK(truncate(path, 4096) == 0);
    CHECK(repro_dataset_gather_checked(&ds, &last, 1, row, NULL, NULL, &err) == REPRO_ERR_IO);
    CHECK_CONTAINS(err.message, "shrinks.npy' changed on disk while training (it was cut short under its mapping");
    CHECK(repro_dataset_check_unchanged(&ds, &err) == REPRO_ERR_IO);
    CHECK_CONTAINS(err.message, "its size changed");
    repro_dataset_free(&ds);

    /* the same size, other bytes: the modification time tells */
    write_npy(path, 1, "<f4", "(4096, 16)", data, (size_t)N * D * sizeof(float));
    CHECK(repro_npy_read_set(path, NULL, true, 1.0f, 0, &ds, &err) == REPRO_OK);
    struct timespec later[2] = {{0, UTIME_OMIT}, {2000000000, 0}};
    CHECK(utimensat(AT_FDCWD, path, later, 0) == 0);
    CHECK(repro_dataset_check_unchanged(&ds, &err) == REPRO_ERR_IO);
    CHECK_CONTAINS(err.message, "it was modified");
    repro_dataset_free(&ds);
    free(data);
    remove(path);
}

/* ---- labels and targets ---------------------------------------------------- */

static void test_labels_and_targets(void)
{
    float feat[3][2] = {{1, 2}, {3, 4}, {5, 6}};
    const char *x = TMP "lx.npy", *y = TMP "ly.npy";
    write_npy(x, 1, "<f4", "(3, 2)", feat, sizeof feat);
    const uint32_t idx[3] = {2, 1, 0};
    /* Labels from every integer dtype, and from floats holding integers. */
    const unsigned char u8[3] = {4, 0, 2};
    const int32_t i32[3] = {4, 0, 2};
    const int64_t i64[3] = {4, 0, 2};
    const float f32[3] = {4, 0, 2};
    const double f64[3] = {4, 0, 2};
    struct { const char *descr; const void *data; size_t len; } ls[5] = {
        {"|u1", u8, 3}, {"<i4", i32, 12}, {"<i8", i64, 24}, {"<f4", f32, 12}, {"<f8", f64, 24}};
    for (int k = 0; k < 5; k++) {
        write_npy(y, 1 + k % 3, ls[k].descr, "(3,)", ls[k].data, ls[k].len);
        repro_error err = {0};
        repro_dataset ds;
        repro_status st = repro_npy_read_set(x, y, true, 1.0f, 0, &ds, &err);
        CHECK_MSG(st == REPRO_OK, "%s: %s", ls[k].descr, err.message);
        if (st)
            continue;
        int32_t lab[3];
        float fx[6];
        repro_dataset_gather(&ds, idx, 3, fx, lab, NULL);
        CHECK(ds.n_classes == 5 && lab[0] == 2 && lab[1] == 0 && lab[2] == 4);
        CHECK(fx[0] == 5 && fx[1] == 6 && fx[4] == 1);
        repro_dataset_free(&ds);
    }
    /* Targets [n] (float32) and [n][2] (float64, rounded). */
    const float t1[3] = {0.5f, -1.25f, 3.0f};
    write_npy(y, 2, "<f4", "(3,)", t1, sizeof t1);
    repro_error err = {0};
    repro_dataset ds;
    CHECK(repro_npy_read_set(x, y, false, 1.0f, 0, &ds, &err) == REPRO_OK);
    CHECK(ds.n_targets == 1 && ds.label == NULL && ds.n_classes == 0);
    float ty[3];
    repro_dataset_gather(&ds, idx, 3, NULL, NULL, ty);
    CHECK(ty[0] == 3.0f && ty[1] == -1.25f && ty[2] == 0.5f);
    repro_dataset_free(&ds);
    const double t2[3][2] = {{0.1, 1}, {2, 3}, {4, 5}};
    write_npy(y, 3, "<f8", "(3, 2)", t2, sizeof t2);
    CHECK(repro_npy_read_set(x, y, false, 1.0f, 2, &ds, &err) == REPRO_OK);
    CHECK(ds.n == 2 && ds.n_targets == 2);
    float ty2[4];
    const uint32_t idx2[2] = {1, 0};
    repro_dataset_gather(&ds, idx2, 2, NULL, NULL, ty2);
    CHECK(ty2[0] == 2 && ty2[1] == 3 && ty2[2] == 0.1f && ty2[3] == 1);
    repro_dataset_free(&ds);
    remove(x);
    remove(y);
}

/* ---- bad input -------------------------------------------------------------- */

/* Opens path as features and expects status st with a message containing
 * each of the needles (the path among them). */
static void expect_open_error(const char *path, repro_status want, const char *needle)
{
    repro_error err = {0};
    repro_npy f;
    repro_status st = repro_npy_open(path, &f, &err);
    CHECK_MSG(st == want, "%s: status %d, want %d (%s)", path, (int)st, (int)want, err.message);
    CHECK_CONTAINS(err.message, path);
    CHECK_CONTAINS(err.message, needle);
    CHECK(f.map == NULL);
}

static void test_bad_files(void)
{
    const float data[12] = {0};
    char path[512];
    snprintf(path, sizeof path, TMP "bad.npy");

    write_bytes(path, "PK\x03\x04zipfile", 11);
    expect_open_error(path, REPRO_ERR_FORMAT,
                      "': not an NPY file: it does not begin with the magic \\x93NUMPY "
                      "(93 4e 55 4d 50 59); its first bytes are 50 4b 03 04 7a 69");
    write_bytes(path, "", 0);
    expect_open_error(path, REPRO_ERR_FORMAT, "the magic \\x93NUMPY (93 4e 55 4d 50 59); the file is empty");

    write_npy_raw(path, 4, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", data, 12);
    expect_open_error(path, REPRO_ERR_FORMAT,
                      "': NPY version 4.0 is not supported (supported: 1.0, 2.0, 3.0)");
    write_npy_raw(path, 1, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", data, 12);
    expect_open_error(path, REPRO_ERR_FORMAT, "NPY version 1.1 is not supported");

    write_npy(path, 1, "<f2", "(3,)", data, 6);
    expect_open_error(path, REPRO_ERR_FORMAT,
                      "': dtype '<f2' is not supported; supported dtypes: '<f4' (float32), "
                      "'<f8' (float64), '|u1' (uint8), '<i4' (int32), '<i8' (int64)");
    write_npy(path, 1, "<u4", "(3,)", data, 12);
    expect_open_error(path, REPRO_ERR_FORMAT, "dtype '<u4' is not supported");
    write_npy_raw(path, 1, 0, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }",
                  data, 12);
    expect_open_error(path, REPRO_ERR_FORMAT, "structured dtypes (a list of fields) are not supported");
    write_npy(path, 1, ">f4", "(3,)", data, 12);
    expect_open_error(path, REPRO_ERR_FORMAT, "': big-endian dtype '>f4' is not supported");
    write_npy(path, 2, ">i8", "(3,)", data, 24);
    expect_open_error(path, REPRO_ERR_FORMAT, "big-endian dtype '>i8' is not supported");

    write_npy_raw(path, 1, 0, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data, 24);
    expect_open_error(path, REPRO_ERR_FORMAT,
                      "': fortran_order True is not supported: save with np.ascontiguousarray");

    /* Malformed dicts, each with its reason. */
    static const struct { const char *dict, *why; } bad[] = {
        {"descr: '<f4'", "(it does not begin with '{')"},
        {"{'descr': '<f4', 'fortran_order': False}", "(no 'shape' key)"},
        {"{'fortran_order': False, 'shape': (3,)}", "(no 'descr' key)"},
        {"{'descr': '<f4', 'shape': (3,)}", "(no 'fortran_order' key)"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}",
         "(a key other than 'descr', 'fortran_order' and 'shape')"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
         "(a key appears twice)"},
        {"{'descr' '<f4', 'fortran_order': False, 'shape': (3,)}", "(expected ':' after a key)"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}",
         "('fortran_order' is neither True nor False)"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': 3}", "('shape' is not a tuple)"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", "('shape' (n) is not a tuple)"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}",
         "(a 'shape' entry is not a non-negative integer)"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3 4)}", "(expected ',' or ')' in 'shape')"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
         "(a 'shape' entry is too large)"},
        {"{'descr': '<f4', 'fortran_order': False 'shape': (3,)}",
         "(expected ',' or '}' after a value)"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} x", "(text after the closing '}')"},
        {"{'descr': '<f4", "(unterminated or escaped string)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_npy_raw(path, 1, 0, bad[i].dict, data, 12);
        char want[256];
        snprintf(want, sizeof want, "': malformed NPY header %s", bad[i].why);
        expect_open_error(path, REPRO_ERR_FORMAT, want);
    }
    /* The message quotes the header, newline escaped, padding cut. */
    write_npy_raw(path, 1, 0, "{'descr': '<f4'}", data, 12);
    expect_open_error(path, REPRO_ERR_FORMAT,
                      "malformed NPY header (no 'fortran_order' key): {'descr': '<f4'}");
    {
        repro_error e = {0};
        repro_npy f;
        repro_npy_open(path, &f, &e);
        size_t len = strlen(e.message);
        CHECK_MSG(len > 0 && e.message[len - 1] == '}', "padding shown: %s", e.message);
    }

    /* Python 2's long suffix and a scalar are fine. */
    write_npy_raw(path, 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (3L,)}", data, 12);
    repro_error err = {0};
    repro_npy f;
    CHECK(repro_npy_open(path, &f, &err) == REPRO_OK && f.ndim == 1 && f.shape[0] == 3);
    repro_npy_close(&f);
    write_npy(path, 1, "<f8", "()", data, 8);
    CHECK(repro_npy_open(path, &f, &err) == REPRO_OK && f.ndim == 0 && f.count == 1);
    repro_npy_close(&f);

    /* More data claimed than held, and data after what is claimed. */
    write_npy(path, 1, "<f4", "(3, 4)", data, 40);
    expect_open_error(path, REPRO_ERR_FORMAT,
                      "': truncated: the header claims shape (3, 4) of '<f4', 48 bytes of data "
                      "after the 128-byte header; the file holds 40");
    write_npy(path, 3, "<i8", "(3,)", data, 23);
    expect_open_error(path, REPRO_ERR_FORMAT,
                      "truncated: the header claims shape (3,) of '<i8', 24 bytes of data after "
                      "the 128-byte header; the file holds 23");
    write_npy(path, 1, "<f8", "(4294967296, 4294967296, 4294967296)", data, 48);
    expect_open_error(path, REPRO_ERR_FORMAT,
                      "truncated: the header claims shape (4294967296, 4294967296, 4294967296) of "
                      "'<f8', 2^64 bytes of data or more; the file holds 48 after the 128-byte header");
    write_npy(path, 1, "<f4", "(4294967296, 4294967296, 4294967296, 0)", data, 0);
    CHECK(repro_npy_open(path, &f, &err) == REPRO_OK && f.count == 0 && f.data_bytes == 0);
    repro_npy_close(&f);
    write_npy(path, 1, "<f4", "(2, 5)", data, 48);
    expect_open_error(path, REPRO_ERR_FORMAT,
                      "': 8 bytes of data after the 40 the header claims (shape (2, 5) of '<f4')");
    /* A header longer than the file. */
    unsigned char cut[20] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xff, 0x00, 0x00, 0x00, '{'};
    write_bytes(path, cut, sizeof cut);
    expect_open_error(path, REPRO_ERR_FORMAT,
                      "': truncated NPY header: expected 267 bytes, the file holds 20");
    write_bytes(path, cut, 9);
    expect_open_error(path, REPRO_ERR_FORMAT,
                      "': truncated NPY header: expected at least 12 bytes, the file holds 9");
    remove(path);

    expect_open_error(TMP "no_such.npy", REPRO_ERR_IO,
                      "cannot open '" TMP "no_such.npy': No such file or directory");
    expect_open_error(REPRO_TEST_TMP, REPRO_ERR_IO, "is not a regular file");
}

/* Data-set level errors: shapes, counts, label and target values. */
static void expect_set_error(const char *x, const char *y, bool y_is_label, const char *needle)
{
    repro_error err = {0};
    repro_dataset ds;
    repro_status st = repro_npy_read_set(x, y, y_is_label, 1.0f, 0, &ds, &err);
    CHECK_MSG(st == REPRO_ERR_FORMAT, "status %d (%s)", (int)st, err.message);
    CHECK_CONTAINS(err.message, needle);
    CHECK(ds.mapped.map == NULL && ds.label == NULL && ds.y == NULL && ds.n == 0);
}

static void test_bad_sets(void)
{
    const float data[12] = {1, 2, 3, 4, 5, 6};
    const char *x = TMP "sx.npy", *y = TMP "sy.npy";
    write_npy(x, 1, "<f4", "(6,)", data, 24);
    expect_set_error(x, NULL, true,
                     "sx.npy': features must have shape [n][d] or [n][h][w], every size > 0; "
                     "the file has 1 dimensions (6 samples)");
    write_npy(x, 1, "<f4", "(0, 3)", data, 0);
    expect_set_error(x, NULL, true, "the file has 2 dimensions (0 samples)");

    write_npy(x, 1, "<f4", "(3, 2)", data, 24);
    const int32_t lab2[2] = {0, 1};
    write_npy(y, 1, "<i4", "(2,)", lab2, 8);
    expect_set_error(x, y, true, "sample count mismatch: '" TMP "sx.npy' holds 3 samples, '"
                                 TMP "sy.npy' holds 2 labels");
    expect_set_error(x, y, false, "holds 2 targets");
    const int32_t lab3[3][1] = {{0}, {1}, {2}};
    write_npy(y, 1, "<i4", "(3, 1)", lab3, 12);
    expect_set_error(x, y, true, "sy.npy': labels must have shape [n]; the file has 2 dimensions");
    const int64_t neg[3] = {0, -1, 2};
    write_npy(y, 1, "<i8", "(3,)", neg, 24);
    expect_set_error(x, y, true, "sy.npy': sample 1 has label -1; labels must be integers in [0, 2^31 - 1)");
    const int64_t huge[3] = {0, 1, 5000000000LL};
    write_npy(y, 1, "<i8", "(3,)", huge, 24);
    expect_set_error(x, y, true, "sample 2 has label 5000000000; labels must be integers");
    const float half[3] = {0, 1.5f, 2};
    write_npy(y, 1, "<f4", "(3,)", half, 12);
    expect_set_error(x, y, true, "sy.npy': sample 1 has label 1.5; labels must be integers");
    const float nan3[3] = {0, 1, NAN};
    write_npy(y, 1, "<f4", "(3,)", nan3, 12);
    expect_set_error(x, y, true, "sample 2 has label nan; labels must be integers");
    expect_set_error(x, y, false, "sy.npy': sample 2, target 0 is nan");
    const double big[3][2] = {{0, 1}, {2, 1e40}, {0, 0}};
    write_npy(y, 1, "<f8", "(3, 2)", big, 48);
    expect_set_error(x, y, false, "sample 1, target 1 is 1e+40, beyond float32's range");
    write_npy(y, 1, "<i4", "(3,)", lab3, 12);
    expect_set_error(x, y, false, "sy.npy': targets must be float32 ('<f4') or float64 ('<f8'), "
                                  "not '<i4' (for class labels set data.y_is_label: true)");
    remove(x);
    remove(y);
}

/* ---- through repro_data_load ------------------------------------------------ */

static void test_data_load(void)
{
    const float trx[4][2] = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
    const unsigned char tex[2][2] = {{10, 20}, {30, 40}};
    const int32_t trl[4] = {0, 1, 1, 0};
    const int64_t tel[2] = {2, 0};
    write_npy(TMP "trx.npy", 1, "<f4", "(4, 2)", trx, sizeof trx);
    write_npy(TMP "try.npy", 2, "<i4", "(4,)", trl, sizeof trl);
    write_npy(TMP "tex.npy", 3, "|u1", "(2, 2)", tex, sizeof tex);
    write_npy(TMP "tey.npy", 1, "<i8", "(2,)", tel, sizeof tel);
    static repro_data_config cfg; /* large: keep it off the stack */
    memset(&cfg, 0, sizeof cfg);
    cfg.format = REPRO_DATA_NPY;
    cfg.scale = 0.5f;
    cfg.y_is_label = true;
    strcpy(cfg.train_x, TMP "trx.npy");
    strcpy(cfg.train_y, TMP "try.npy");
    strcpy(cfg.test_x, TMP "tex.npy");
    strcpy(cfg.test_y, TMP "tey.npy");
    repro_dataset train, test;
    repro_error err = {0};
    repro_status st = repro_data_load(&cfg, &train, &test, &err);
    CHECK_MSG(st == REPRO_OK, "%s", err.message);
    if (!st) {
        /* n_classes over both sets; uint8 test features times scale. */
        CHECK(train.n == 4 && test.n == 2 && train.n_classes == 3 && test.n_classes == 3);
        const uint32_t idx[2] = {1, 0};
        float x[4];
        int32_t l[2];
        repro_dataset_gather(&test, idx, 2, x, l, NULL);
        CHECK(x[0] == 15 && x[1] == 20 && x[2] == 5 && x[3] == 10 && l[0] == 0 && l[1] == 2);
        repro_dataset_gather(&train, idx, 2, x, l, NULL);
        CHECK(x[0] == 3 && x[3] == 2 && l[0] == 1 && l[1] == 0);
    }
    repro_dataset_free(&train);
    repro_dataset_free(&test);

    cfg.limit_train = 2;
    cfg.n_classes = 2;
    st = repro_data_load(&cfg, &train, &test, &err);
    CHECK(st == REPRO_ERR_FORMAT);
    CHECK_CONTAINS(err.message, "tey.npy': sample 0 has label 2, out of range for n_classes = 2");
    CHECK(train.n == 0 && train.mapped.map == NULL && test.mapped.map == NULL);
    cfg.n_classes = 0;

    /* Images of the same size but another shape. */
    write_npy(TMP "trx.npy", 1, "<f4", "(4, 1, 2)", trx, sizeof trx);
    write_npy(TMP "tex.npy", 1, "|u1", "(2, 2, 1)", tex, sizeof tex);
    cfg.limit_train = 0;
    st = repro_data_load(&cfg, &train, &test, &err);
    CHECK(st == REPRO_ERR_FORMAT);
    CHECK_CONTAINS(err.message, "train/test image shape mismatch: '" TMP "trx.npy' holds 1x2 "
                                "images, '" TMP "tex.npy' holds 2x1");
    CHECK(train.mapped.map == NULL && test.mapped.map == NULL);

    write_npy(TMP "trx.npy", 1, "<f4", "(4, 2)", trx, sizeof trx);
    write_npy(TMP "tex.npy", 1, "<f4", "(2, 3)", trx, 24);
    st = repro_data_load(&cfg, &train, &test, &err);
    CHECK(st == REPRO_ERR_FORMAT);
    CHECK_CONTAINS(err.message, "train/test feature count mismatch: '" TMP "trx.npy' has 2 "
                                "features per sample, '" TMP "tex.npy' has 3");
    CHECK(train.mapped.map == NULL && test.mapped.map == NULL);

    cfg.test_y[0] = '\0';
    CHECK(repro_data_load(&cfg, &train, &test, &err) == REPRO_ERR_CONFIG);
    CHECK_CONTAINS(err.message, "data.test_x is set but data.test_y is empty");
    cfg.train_y[0] = '\0';
    CHECK(repro_data_load(&cfg, &train, NULL, &err) == REPRO_ERR_CONFIG);
    CHECK_CONTAINS(err.message, "data.format is npy but data.train_y is empty");
    for (const char *const *p = (const char *const[]){"trx", "try", "tex", "tey", NULL}; *p; p++) {
        char path[512];
        snprintf(path, sizeof path, TMP "%s.npy", *p);
        remove(path);
    }
}

/* ---- files written by numpy ---------------------------------------------------- */

/* numpy writes arrays and the expected float32 values (numpy's own
 * astype(float32), which rounds as C does) next to them; uint8 images are
 * compared as (float)v * scale from the raw bytes. */
static const char *NUMPY_SCRIPT =
    "import numpy as np, sys\n"
    "d = sys.argv[1]\n"
    "rng = np.random.default_rng(5)\n"
    "f32 = rng.standard_normal((7, 5)).astype(np.float32)\n"
    "f64 = rng.standard_normal((6, 4)) * 1e3\n"
    "img = rng.integers(0, 256, (9, 28, 28), dtype=np.uint8)\n"
    "i32 = rng.integers(-2**31, 2**31, (5, 3), dtype=np.int32)\n"
    "i64 = rng.integers(-2**62, 2**62, (5, 3), dtype=np.int64)\n"
    "lab = rng.integers(0, 10, 9).astype(np.int64)\n"
    "for name, a in [('f32', f32), ('f64', f64), ('i32', i32), ('i64', i64)]:\n"
    "    np.save(d + name + '.npy', a)\n"
    "    a.astype(np.float32).tofile(d + name + '.want')\n"
    "np.save(d + 'img.npy', img)\n"
    "img.tofile(d + 'img.want')\n"
    "np.save(d + 'lab.npy', lab)\n"
    "for v in [(2, 0), (3, 0)]:\n"
    "    with open(d + 'f64_v%d.npy' % v[0], 'wb') as f:\n"
    "        np.lib.format.write_array(f, f64, version=v)\n"
    "np.save(d + 'fortran.npy', np.asfortranarray(f64))\n"
    "np.save(d + 'big.npy', f32.astype('>f4'))\n"
    "np.save(d + 'f16.npy', f32.astype(np.float16))\n";

static float *read_floats(const char *path, size_t count)
{
    float *v = malloc(count * sizeof(float));
    FILE *f = fopen(path, "rb");
    if (!v || !f || fread(v, sizeof(float), count, f) != count) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    return v;
}

static void check_numpy_file(const char *name, const char *want_name, int64_t n, int64_t nf)
{
    char path[512], want_path[512];
    snprintf(path, sizeof path, TMP "np_%s.npy", name);
    snprintf(want_path, sizeof want_path, TMP "np_%s.want", want_name);
    repro_error err = {0};
    repro_dataset ds;
    repro_status st = repro_npy_read_set(path, NULL, true, 1.0f, 0, &ds, &err);
    CHECK_MSG(st == REPRO_OK, "%s: %s", name, err.message);
    if (st)
        return;
    CHECK(ds.n == n && ds.n_features == nf);
    uint32_t *idx = malloc((size_t)n * sizeof *idx);
    float *x = malloc((size_t)(n * nf) * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        idx[i] = (uint32_t)(n - 1 - i);
    repro_dataset_gather(&ds, idx, n, x, NULL, NULL);
    float *want = read_floats(want_path, (size_t)(n * nf));
    bool same = true;
    for (int64_t i = 0; i < n; i++)
        same &= test_bits_equal(x + i * nf, want + (n - 1 - i) * nf, (size_t)nf, name);
    CHECK_MSG(same, "%s differs from numpy's astype(float32)", name);
    free(want);
    free(x);
    free(idx);
    repro_dataset_free(&ds);
}

static void test_numpy(void)
{
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
        printf("note: numpy is not available to /usr/bin/python3; the numpy cross-check is skipped\n");
        return;
    }
    const char *script = TMP "write.py";
    write_bytes(script, NUMPY_SCRIPT, strlen(NUMPY_SCRIPT));
    CHECK(system("/usr/bin/python3 " TMP "write.py " TMP "np_") == 0);
    check_numpy_file("f32", "f32", 7, 5);
    check_numpy_file("f64", "f64", 6, 4);
    check_numpy_file("f64_v2", "f64", 6, 4);
    check_numpy_file("f64_v3", "f64", 6, 4);
    check_numpy_file("i32", "i32", 5, 3);
    check_numpy_file("i64", "i64", 5, 3);

    /* [9][28][28] uint8 images with the IDX default scale, and int64 labels. */
    repro_error err = {0};
    repro_dataset ds;
    const float scale = 1.0f / 255.0f;
    repro_status st = repro_npy_read_set(TMP "np_img.npy", TMP "np_lab.npy", true, scale, 0, &ds, &err);
    CHECK_MSG(st == REPRO_OK, "%s", err.message);
    if (!st) {
        CHECK(ds.n == 9 && ds.n_features == 784 && ds.image_h == 28 && ds.image_w == 28);
        CHECK(ds.label != NULL && ds.n_classes >= 1 && ds.n_classes <= 10);
        unsigned char raw[9 * 784];
        FILE *f = fopen(TMP "np_img.want", "rb");
        CHECK(f && fread(raw, 1, sizeof raw, f) == sizeof raw);
        if (f)
            fclose(f);
        static float x[9 * 784], want[9 * 784];
        const uint32_t idx[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
        repro_dataset_gather(&ds, idx, 9, x, NULL, NULL);
        for (int i = 0; i < 9 * 784; i++)
            want[i] = (float)raw[i] * scale;
        CHECK_BITS(x, want, 9 * 784, "numpy uint8 images");
    }
    repro_dataset_free(&ds);

    expect_open_error(TMP "np_fortran.npy", REPRO_ERR_FORMAT,
                      "fortran_order True is not supported: save with np.ascontiguousarray");
    expect_open_error(TMP "np_big.npy", REPRO_ERR_FORMAT, "big-endian dtype '>f4' is not supported");
    expect_open_error(TMP "np_f16.npy", REPRO_ERR_FORMAT, "dtype '<f2' is not supported");
    const char *names[] = {"f32", "f64", "i32", "i64", "img", "lab", "f64_v2", "f64_v3",
                           "fortran", "big", "f16"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, TMP "np_%s.npy", names[i]);
        remove(path);
        snprintf(path, sizeof path, TMP "np_%s.want", names[i]);
        remove(path);
    }
    remove(script);
}

/* ---- larger than the memory cap ------------------------------------------------- */

enum { BIG_COLS = 256, BIG_ROWS = 204800 }; /* 200 MiB of float32 */
#define BIG_CAP ((size_t)64 << 20)

/* Element (r, c) of the big file: an integer below 2^20, exact in float. */
static float big_value(size_t r, size_t c)
{
    return (float)((r * 257 + c) & 0xfffff);
}

static void write_big(const char *path)
{
    enum { CHUNK_ROWS = 8192 }; /* 8 MiB per write */
    float *chunk = malloc((size_t)CHUNK_ROWS * BIG_COLS * sizeof(float));
    write_npy(path, 1, "<f4", "(204800, 256)", NULL, 0);
    FILE *f = fopen(path, "ab");
    bool ok = chunk && f;
    for (size_t r0 = 0; ok && r0 < BIG_ROWS; r0 += CHUNK_ROWS) {
        for (size_t r = 0; r < CHUNK_ROWS; r++)
            for (size_t c = 0; c < BIG_COLS; c++)
                chunk[r * BIG_COLS + c] = big_value(r0 + r, c);
        ok = fwrite(chunk, sizeof(float) * BIG_COLS, CHUNK_ROWS, f) == CHUNK_ROWS;
    }
    if (!f || fclose(f) != 0 || !ok) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    free(chunk);
}

/* The process's data size (VmData, private writable mappings, which is what
 * RLIMIT_DATA limits), or 0 when /proc does not say. */
static size_t vm_data_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmData: %zu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

/* In the child: cap the data size at 64 MiB above what it holds now (a
 * sanitizer's shadow memory is already counted), show that a buffer the size
 * of the data set cannot be allocated, then load the set and gather every
 * row, in shuffled batches, checking every value. Exit status: 0 ok, 1 a
 * check failed, 77 the cap could not be set. */
static int capped_child(const char *path)
{
    test_failures_ = 0; /* count only the child's own checks */
    size_t base = vm_data_bytes();
    struct rlimit rl;
    if (base == 0 || getrlimit(RLIMIT_DATA, &rl) != 0)
        return 77;
    rl.rlim_cur = base + BIG_CAP;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
        return 77;
    if (setrlimit(RLIMIT_DATA, &rl) != 0)
        return 77;
    size_t bytes = (size_t)BIG_ROWS * BIG_COLS * sizeof(float);
    void *whole = malloc(bytes);
    CHECK_MSG(whole == NULL, "a malloc of %zu bytes succeeded under a %zu-byte cap", bytes, BIG_CAP);
    free(whole);

    repro_error err = {0};
    repro_dataset ds;
    repro_status st = repro_npy_read_set(path, NULL, true, 1.0f, 0, &ds, &err);
    CHECK_MSG(st == REPRO_OK, "%s", err.message);
    if (st)
        return 1;
    CHECK(ds.n == BIG_ROWS && ds.n_features == BIG_COLS && ds.x == NULL);
    enum { B = 512 };
    static uint32_t idx[B];
    static float x[B * BIG_COLS];
    bool same = true;
    /* Batches visit rows r = (k * 40009) mod n: a stride coprime with n, so
       every row once, jumping all over the file. */
    for (size_t k0 = 0; k0 < BIG_ROWS; k0 += B) {
        for (size_t k = 0; k < B; k++)
            idx[k] = (uint32_t)(((k0 + k) * 40009u) % BIG_ROWS);
        repro_dataset_gather(&ds, idx, B, x, NULL, NULL);
        for (size_t k = 0; k < B; k++)
            for (size_t c = 0; c < BIG_COLS; c++)
                same &= x[k * BIG_COLS + c] == big_value(idx[k], c);
    }
    CHECK_MSG(same, "a gathered row differs from the file");
    repro_dataset_free(&ds);
    return test_failures_ ? 1 : 0;
}

static void test_larger_than_cap(void)
{
    const char *path = TMP "big.npy";
    write_big(path);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        _exit(capped_child(path));
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status), "the capped child died (status 0x%x)", status);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        printf("note: RLIMIT_DATA could not be set here; the memory-cap test is skipped\n");
    else
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the capped child failed (exit %d)", WEXITSTATUS(status));
    remove(path);
}

int main(void)
{
    test_round_trips();
    test_images_and_limit();
    test_changed_under_mapping();
    test_labels_and_targets();
    test_bad_files();
    test_bad_sets();
    test_data_load();
    test_numpy();
    test_larger_than_cap();
    return test_finish("test_npy");
}
