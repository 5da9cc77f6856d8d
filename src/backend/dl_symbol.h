/* dlsym into a function pointer, for the libraries opened at run time
 * (cuBLAS, NCCL): C forbids casting dlsym's void * to a function pointer,
 * so the pointer's bytes are copied. */
#ifndef REPRO_BACKEND_DL_SYMBOL_H
#define REPRO_BACKEND_DL_SYMBOL_H

#include <dlfcn.h>
#include <string.h>

/* *fn_ptr = the symbol `name` of handle; 0 when it has none. */
static inline int repro_dl_symbol(void *handle, const char *name, void *fn_ptr)
{
    void *sym = dlsym(handle, name);
    memcpy(fn_ptr, &sym, sizeof sym);
    return sym != NULL;
}

#endif
