/* cuBLAS opened at run time: see cublas_lib.h. */
#ifdef REPRO_HAVE_CUDA

#include "backend/cublas_lib.h"
#include "backend/dl_symbol.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define STR2(x) #x
#define STR(x) STR2(x)
#define CUBLAS_SONAME "libcublas.so." STR(CUBLAS_VER_MAJOR)

repro_status repro_cublas_open(repro_cublas_lib *lib, repro_error *err)
{
    memset(lib, 0, sizeof *lib);
    lib->handle = dlopen(CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
#ifdef REPRO_CUDA_LIBRARY_DIR
    if (!lib->handle)
        lib->handle = dlopen(REPRO_CUDA_LIBRARY_DIR "/" CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
#endif
    if (!lib->handle)
        return repro_fail(err, REPRO_ERR_UNSUPPORTED, "mode: fast on cuda needs cuBLAS (%s): %s", CUBLAS_SONAME,
                          dlerror());
    /* cublas_v2.h maps these names to the _v2 entry points */
    const struct {
        const char *name;
        void *fn; /* where its address goes */
    } want[] = {
        {"cublasCreate_v2", &lib->create},
        {"cublasDestroy_v2", &lib->destroy},
        {"cublasSetStream_v2", &lib->set_stream},
        {"cublasSetMathMode", &lib->set_math_mode},
        {"cublasSgemm_v2", &lib->sgemm},
        {"cublasGetStatusString", &lib->status_string},
    };
    const char *missing = NULL;
    for (size_t i = 0; !missing && i < sizeof want / sizeof *want; i++)
        if (!repro_dl_symbol(lib->handle, want[i].name, want[i].fn))
            missing = want[i].name;
    if (missing) {
        repro_cublas_close(lib);
        return repro_fail(err, REPRO_ERR_UNSUPPORTED, "%s has no %s", CUBLAS_SONAME, missing);
    }
    return REPRO_OK;
}

void repro_cublas_close(repro_cublas_lib *lib)
{
    if (lib->handle)
        dlclose(lib->handle);
    memset(lib, 0, sizeof *lib);
}

#endif /* REPRO_HAVE_CUDA */
