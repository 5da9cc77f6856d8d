/* repro/status.h: how every repro function reports failure.
 *
 * Functions that can fail return a repro_status and, when given a non-NULL
 * repro_error, fill it with a message that names the file, key, line or
 * value at fault. The library never aborts on user input and keeps no
 * global error state: the caller owns the repro_error. */
#ifndef REPRO_STATUS_H
#define REPRO_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum repro_status {
    REPRO_OK = 0,
    REPRO_ERR_ARG,         /* a caller passed an invalid argument */
    REPRO_ERR_IO,          /* a file could not be opened, read or written */
    REPRO_ERR_FORMAT,      /* a file's contents are malformed or truncated */
    REPRO_ERR_CONFIG,      /* a configuration is invalid (syntax, key, type, range) */
    REPRO_ERR_NOMEM,       /* an allocation failed */
    REPRO_ERR_NUMERIC,     /* a NaN or infinity appeared where it must not */
    REPRO_ERR_UNSUPPORTED, /* asked for something this build or mode cannot do exactly */
    REPRO_ERR_STATE,       /* an operation was refused in the current state (e.g. run exists) */
    REPRO_ERR_INTERNAL     /* a bug in repro: please report it */
} repro_status;

enum { REPRO_ERROR_MESSAGE_MAX = 1024 };

typedef struct repro_error {
    repro_status status;
    char message[REPRO_ERROR_MESSAGE_MAX];
} repro_error;

/* Records status and a printf-style message in err (if err is non-NULL) and
 * returns status, so a failing path can say `return repro_fail(err, ...)`. */
repro_status repro_fail(repro_error *err, repro_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prefixes err's message with context ("reading config x.yaml: ..."),
 * keeping its status. Returns err->status (REPRO_OK when err is NULL). */
repro_status repro_error_prefix(repro_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Clears err to REPRO_OK with an empty message. */
void repro_error_clear(repro_error *err);

/* A short stable name for a status: "ok", "io error", "config error", ... */
const char *repro_status_name(repro_status status);

#ifdef __cplusplus
}
#endif
#endif
