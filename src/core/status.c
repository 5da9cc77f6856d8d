/* Error reporting: see include/repro/status.h. */
#include "repro/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

repro_status repro_fail(repro_error *err, repro_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

repro_status repro_error_prefix(repro_error *err, const char *fmt, ...)
{
    if (!err)
        return REPRO_OK;
    char prefix[REPRO_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Join by hand: the result is cut to fit, which snprintf would warn about. */
    char joined[REPRO_ERROR_MESSAGE_MAX];
    size_t n = strlen(prefix);
    memcpy(joined, prefix, n);
    size_t room = sizeof joined - 1 - n;
    const char *rest[2] = {": ", err->message};
    for (int part = 0; part < 2; part++) {
        size_t len = strlen(rest[part]);
        if (len > room)
            len = room;
        memcpy(joined + n, rest[part], len);
        n += len;
        room -= len;
    }
    joined[n] = '\0';
    memcpy(err->message, joined, n + 1);
    return err->status;
}

void repro_error_clear(repro_error *err)
{
    if (err) {
        err->status = REPRO_OK;
        err->message[0] = '\0';
    }
}

const char *repro_status_name(repro_status status)
{
    switch (status) {
    case REPRO_OK: return "ok";
    case REPRO_ERR_ARG: return "invalid argument";
    case REPRO_ERR_IO: return "i/o error";
    case REPRO_ERR_FORMAT: return "format error";
    case REPRO_ERR_CONFIG: return "config error";
    case REPRO_ERR_NOMEM: return "out of memory";
    case REPRO_ERR_NUMERIC: return "numeric error";
    case REPRO_ERR_UNSUPPORTED: return "unsupported";
    case REPRO_ERR_STATE: return "refused";
    case REPRO_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}
