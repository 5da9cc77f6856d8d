/* SHA-256 through libcrypto's EVP interface, as lowercase hex: the
 * fingerprints in the ledger, run record and data file hashes. */
#include "repro/record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct repro_sha256 {
    EVP_MD_CTX *ctx;
};

static void to_hex(const unsigned char md[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

repro_sha256 *repro_sha256_new(void)
{
    repro_sha256 *h = malloc(sizeof *h);
    if (!h)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
    }
    return h;
}

void repro_sha256_update(repro_sha256 *h, const void *data, size_t n)
{
    if (n)
        EVP_DigestUpdate(h->ctx, data, n);
}

void repro_sha256_final(repro_sha256 *h, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(h->ctx, md, &len);
    to_hex(md, hex);
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void repro_sha256_hex(const void *data, size_t n, char hex[65])
{
    /* EVP_Digest is the one-shot form and needs no allocation of ours. */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
    to_hex(md, hex);
}

repro_status repro_sha256_file(const char *path, char hex[65], repro_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return repro_fail(err, REPRO_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    repro_sha256 *h = repro_sha256_new();
    if (!h) {
        fclose(f);
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory hashing '%s'", path);
    }
    unsigned char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        repro_sha256_update(h, buf, got);
    int failed = ferror(f);
    fclose(f);
    repro_sha256_final(h, hex);
    if (failed) {
        hex[0] = '\0';
        return repro_fail(err, REPRO_ERR_IO, "error reading '%s'", path);
    }
    return REPRO_OK;
}
