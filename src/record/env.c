/* Environment capture: what a run record says about the machine and build.
 * Everything here is informative (bits do not depend on it by design), but
 * when two runs disagree, `repro diff` lists these fields first. */
#include "repro/record.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cblas.h>
#include <openssl/crypto.h>
#include <yaml.h>
#include <zlib.h>
#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#endif

#include "build_info.h"
#include "repro/isa.h"

static cJSON *build_section(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "version", REPRO_VERSION_STRING);
    cJSON_AddStringToObject(o, "git_commit", REPRO_GIT_COMMIT);
    cJSON_AddStringToObject(o, "compiler", REPRO_C_COMPILER);
    cJSON_AddStringToObject(o, "c_flags", REPRO_C_FLAGS);
    cJSON_AddStringToObject(o, "build_type", REPRO_BUILD_TYPE);
    cJSON_AddStringToObject(o, "sanitize", REPRO_SANITIZE);
    return o;
}

static cJSON *os_section(void)
{
    cJSON *o = cJSON_CreateObject();
    struct utsname u;
    if (uname(&u) != 0)
        return o;
    cJSON_AddStringToObject(o, "sysname", u.sysname);
    cJSON_AddStringToObject(o, "release", u.release);
    cJSON_AddStringToObject(o, "version", u.version);
    cJSON_AddStringToObject(o, "machine", u.machine);
    return o;
}

/* The value of the first "key : value" line of /proc/cpuinfo whose key is
 * one of keys (NULL-terminated), into buf; 0 when there is none. */
static int cpuinfo_value(const char *const *keys, char *buf, size_t size)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return 0;
    char line[8192];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        size_t klen = (size_t)(colon - line);
        while (klen > 0 && (line[klen - 1] == ' ' || line[klen - 1] == '\t'))
            klen--;
        for (const char *const *k = keys; *k && !found; k++)
            found = strlen(*k) == klen && strncmp(line, *k, klen) == 0;
        if (found) {
            char *v = colon + 1 + strspn(colon + 1, " \t");
            v[strcspn(v, "\n")] = '\0';
            snprintf(buf, size, "%s", v);
        }
    }
    fclose(f);
    return found;
}

/* Whether the space-separated list has the word. */
static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

static cJSON *cpu_section(void)
{
    static const char *const model_keys[] = {"model name", "Model", "Hardware", "cpu model", NULL};
    static const char *const flag_keys[] = {"flags", "Features", NULL};
    /* The features that choose between our kernel paths. */
    static const char *const features[] = {"avx2", "fma", "avx512f", "avx512bw", "avx512vl",
                                           "avx512dq", NULL};
    char buf[8192];
    cJSON *o = cJSON_CreateObject();
    if (cpuinfo_value(model_keys, buf, sizeof buf))
        cJSON_AddStringToObject(o, "model", buf);
    else
        cJSON_AddNullToObject(o, "model");
    if (cpuinfo_value(flag_keys, buf, sizeof buf)) {
        cJSON *f = cJSON_AddObjectToObject(o, "features");
        for (const char *const *w = features; *w; w++)
            cJSON_AddBoolToObject(f, *w, has_word(buf, *w));
    } else {
        cJSON_AddNullToObject(o, "features");
    }
    cJSON_AddNumberToObject(o, "online_cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
    return o;
}

static cJSON *libraries_section(void)
{
    cJSON *o = cJSON_CreateObject();
#if defined(__GLIBC__)
    char libc[64];
    snprintf(libc, sizeof libc, "glibc %s", gnu_get_libc_version());
    cJSON_AddStringToObject(o, "libc", libc);
#else
    cJSON_AddStringToObject(o, "libc", "unknown");
#endif
    /* Versions of the libraries actually loaded, not of the headers. */
    cJSON_AddStringToObject(o, "zlib", zlibVersion());
    cJSON_AddStringToObject(o, "libyaml", yaml_get_version_string());
    cJSON_AddStringToObject(o, "openssl", OpenSSL_version(OPENSSL_VERSION));
    cJSON_AddStringToObject(o, "cjson", cJSON_Version());
    /* mode: fast's products run on these kernels, which OpenBLAS picks from
     * its own CPU detection (or OPENBLAS_CORETYPE): a CPU model it does not
     * know gets older kernels, other speed and other bits */
    char blas[256];
    snprintf(blas, sizeof blas, "%s (kernels: %s)", openblas_get_config(), openblas_get_corename());
    cJSON_AddStringToObject(o, "openblas", blas);
    return o;
}

cJSON *repro_env_capture(const char *isa_path)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    cJSON *env = cJSON_CreateObject();
    if (!env)
        return NULL;
    cJSON_AddItemToObject(env, "repro", build_section());
    cJSON_AddStringToObject(env, "hostname", host);
    cJSON_AddItemToObject(env, "os", os_section());
    cJSON_AddItemToObject(env, "cpu", cpu_section());
    if (isa_path)
        cJSON_AddStringToObject(env, "isa_path", isa_path);
    else
        cJSON_AddNullToObject(env, "isa_path");
    /* every path this CPU can take (all give the same bits), and the test
     * cap when REPRO_TEST_CPU_ISA_MAX lowered it */
    cJSON *paths = cJSON_AddArrayToObject(env, "isa_supported");
    for (int i = 0; paths && i < REPRO_ISA_COUNT; i++)
        if (repro_isa_supported((repro_isa)i))
            cJSON_AddItemToArray(paths, cJSON_CreateString(repro_isa_name((repro_isa)i)));
    if (repro_isa_cap())
        cJSON_AddStringToObject(env, "isa_cap", repro_isa_cap());
    cJSON_AddItemToObject(env, "libraries", libraries_section());
    return env;
}
