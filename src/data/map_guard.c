/* The SIGBUS guard of map_guard.h. The one global of the data layer, a
 * thread's jump target: a signal handler cannot be given a context. */
#include "data/map_guard.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>

static _Thread_local sigjmp_buf *guard; /* the guarded copy this thread is in, or NULL */
static struct sigaction previous;       /* the handler before ours */
static pthread_once_t installed = PTHREAD_ONCE_INIT;

static void on_sigbus(int sig, siginfo_t *info, void *uctx)
{
    if (guard)
        siglongjmp(*guard, 1); /* SA_NODEFER: SIGBUS is not blocked, no mask to restore */
    /* not ours: as if our handler were not there */
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, info, uctx);
        return;
    }
    if (previous.sa_handler == SIG_IGN)
        return;
    if (previous.sa_handler != SIG_DFL) {
        previous.sa_handler(sig);
        return;
    }
    signal(SIGBUS, SIG_DFL); /* returning re-runs the access, which now kills */
}

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &previous);
}

int repro_map_guarded(void (*copy)(void *ctx), void *ctx)
{
    pthread_once(&installed, install);
    sigjmp_buf env;
    if (sigsetjmp(env, 0)) {
        guard = NULL;
        return -1;
    }
    guard = &env;
    copy(ctx);
    guard = NULL;
    return 0;
}
