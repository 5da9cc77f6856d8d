/* Processes forked on one host as the world's engine: see comm_local.h. */
#include "train/comm_local.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_LOCAL = 64 };

struct repro_comm_local {
    int rank, size;
    int fd[MAX_LOCAL];     /* fd[q]: the socket to rank q (-1 for this rank) */
    pid_t pid[MAX_LOCAL];  /* rank 0: each child's pid */
    double timeout_sec;
    int aborted;      /* rank 0 killed the children itself */
    int failed_child; /* rank 0: a child failed (named on stderr) */
};

int repro_comm_local_rank(const repro_comm_local *c) { return c->rank; }
int repro_comm_local_size(const repro_comm_local *c) { return c->size; }

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Rank r's GPU: the r-th entry of CUDA_VISIBLE_DEVICES (or r), set before
 * any CUDA call of this process. */
static void pick_gpu(int rank)
{
    const char *v = getenv("CUDA_VISIBLE_DEVICES");
    char mine[64];
    snprintf(mine, sizeof mine, "%d", rank);
    if (v && v[0]) {
        const char *p = v;
        for (int i = 0; i < rank && p; i++)
            if ((p = strchr(p, ',')))
                p++;
        if (p) {
            size_t len = strcspn(p, ",");
            snprintf(mine, sizeof mine, "%.*s", (int)(len < 63 ? len : 63), p);
        }
    }
    setenv("CUDA_VISIBLE_DEVICES", mine, 1);
}

repro_status repro_comm_local_spawn(int n, repro_comm_local **out, repro_error *err)
{
    *out = NULL;
    if (n < 1 || n > MAX_LOCAL)
        return repro_fail(err, REPRO_ERR_ARG, "--procs %d: expected 1..%d", n, MAX_LOCAL);
    repro_comm_local *c = calloc(1, sizeof *c);
    if (!c)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the local world");
    c->size = n;
    const char *t = getenv("REPRO_WORLD_TIMEOUT");
    c->timeout_sec = t && atof(t) > 0 ? atof(t) : 600.0;
    int pair[MAX_LOCAL][MAX_LOCAL]; /* pair[i][j]: rank i's end of the i-j socket */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            int sv[2];
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
                return repro_fail(err, REPRO_ERR_IO, "socketpair: %s", strerror(errno)); /* fds go with exit */
            pair[i][j] = sv[0];
            pair[j][i] = sv[1];
        }
    pid_t parent = getpid();
    fflush(NULL); /* nothing buffered is written twice */
    for (int r = 1; r < n; r++) {
        pid_t pid = fork();
        if (pid < 0)
            return repro_fail(err, REPRO_ERR_IO, "fork: %s", strerror(errno));
        if (pid == 0) {
            c->rank = r;
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* rank 0 gone: so is this rank */
            if (getppid() != parent)
                _exit(1);
            break;
        }
        c->pid[r] = pid;
    }
    for (int i = 0; i < n; i++) /* keep this rank's ends; close the others' */
        for (int j = 0; j < n; j++) {
            if (i == j)
                continue;
            if (i != c->rank) {
                close(pair[i][j]);
                continue;
            }
            c->fd[j] = pair[i][j];
            fcntl(c->fd[j], F_SETFL, fcntl(c->fd[j], F_GETFL) | O_NONBLOCK);
        }
    c->fd[c->rank] = -1;
    pick_gpu(c->rank);
    *out = c;
    return REPRO_OK;
}

/* Names, after `what`, the ranks whose flag is set. */
static void name_ranks(char *buf, size_t size, const int *pending, int n)
{
    buf[0] = '\0';
    for (int q = 0; q < n; q++) {
        size_t len = strlen(buf);
        if (pending[q] && len + 16 < size)
            snprintf(buf + len, size - len, "%s%d", len ? ", " : "", q);
    }
}

repro_status repro_comm_local_allgather(repro_comm_local *c, const void *mine, void *recv, const size_t *bytes,
                                        int64_t step, const char *host, repro_error *err)
{
    int n = c->size;
    size_t displ[MAX_LOCAL], in_done[MAX_LOCAL], out_done[MAX_LOCAL];
    int pending[MAX_LOCAL];
    size_t off = 0;
    for (int q = 0; q < n; q++) {
        displ[q] = off;
        off += bytes[q];
        in_done[q] = q == c->rank ? bytes[q] : 0;
        out_done[q] = q == c->rank ? bytes[c->rank] : 0;
    }
    memmove((char *)recv + displ[c->rank], mine, bytes[c->rank]);
    double deadline = now_sec() + c->timeout_sec;
    for (;;) {
        struct pollfd pfd[MAX_LOCAL];
        int who[MAX_LOCAL], m = 0;
        for (int q = 0; q < n; q++) {
            short ev = (short)((in_done[q] < bytes[q] ? POLLIN : 0) | (out_done[q] < bytes[c->rank] ? POLLOUT : 0));
            if (ev) {
                pfd[m] = (struct pollfd){.fd = c->fd[q], .events = ev};
                who[m++] = q;
            }
        }
        if (m == 0)
            return REPRO_OK;
        double left = deadline - now_sec();
        int ready = left > 0 ? poll(pfd, (nfds_t)m, (int)(left * 1000) + 1) : 0;
        if (ready < 0 && errno == EINTR)
            continue; /* a signal (Ctrl-C): the step's stop flag carries it */
        if (ready <= 0) {
            for (int q = 0; q < n; q++)
                pending[q] = in_done[q] < bytes[q] || out_done[q] < bytes[c->rank];
            char names[256];
            name_ranks(names, sizeof names, pending, n);
            return repro_fail(err, REPRO_ERR_IO, "step %lld on %s: no answer from rank %s within %g s "
                              "(REPRO_WORLD_TIMEOUT): it hung or died", (long long)step, host, names,
                              c->timeout_sec);
        }
        for (int i = 0; i < m; i++) {
            int q = who[i];
            ssize_t k = 0;
            if (pfd[i].revents & POLLIN) {
                k = read(c->fd[q], (char *)recv + displ[q] + in_done[q], bytes[q] - in_done[q]);
                if (k > 0)
                    in_done[q] += (size_t)k;
            } else if (pfd[i].revents & POLLOUT) {
                k = send(c->fd[q], (const char *)mine + out_done[q], bytes[c->rank] - out_done[q], MSG_NOSIGNAL);
                if (k > 0)
                    out_done[q] += (size_t)k;
            } else if (pfd[i].revents & (POLLHUP | POLLERR)) {
                k = 0;
            } else {
                continue;
            }
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
                return repro_fail(err, REPRO_ERR_IO, "step %lld on %s: rank %d is gone (its connection closed: it "
                                  "died or failed)", (long long)step, host, q);
        }
    }
}

/* Rank 0: names a child that has already ended (before this rank stopped
 * the others, so the first cause) and reaps it. */
static void report_child(repro_comm_local *c, int q, int status)
{
    if (WIFSIGNALED(status))
        fprintf(stderr, "repro train: rank %d (pid %d) was killed by signal %d\n", q, (int)c->pid[q],
                WTERMSIG(status));
    else if (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 130)
        fprintf(stderr, "repro train: rank %d (pid %d) exited with status %d\n", q, (int)c->pid[q],
                WEXITSTATUS(status));
    else
        return;
    c->failed_child = 1;
}

void repro_comm_local_abort(repro_comm_local *c)
{
    for (int q = 0; q < c->size; q++) /* closing the sockets wakes every rank waiting on this one */
        if (q != c->rank && c->fd[q] >= 0)
            close(c->fd[q]), c->fd[q] = -1;
    if (c->rank != 0)
        return;
    struct timespec grace = {0, 50 * 1000 * 1000}; /* a rank that died has its exit status by now */
    nanosleep(&grace, NULL);
    for (int q = 1; q < c->size; q++) {
        int status;
        if (c->pid[q] > 0 && waitpid(c->pid[q], &status, WNOHANG) == c->pid[q]) {
            report_child(c, q, status);
            c->pid[q] = 0;
        }
    }
    for (int q = 1; q < c->size; q++) /* SIGKILL: a stopped (hung) rank must go too, and none may checkpoint */
        if (c->pid[q] > 0)
            kill(c->pid[q], SIGKILL);
    c->aborted = 1;
}

int repro_comm_local_finish(repro_comm_local *c, int rc)
{
    for (int q = 0; q < c->size; q++)
        if (q != c->rank && c->fd[q] >= 0)
            close(c->fd[q]);
    for (int q = 1; c->rank == 0 && q < c->size; q++) {
        int status = 0;
        if (c->pid[q] <= 0 || waitpid(c->pid[q], &status, 0) != c->pid[q])
            continue;
        if (!(c->aborted && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) /* not the ones it stopped */
            report_child(c, q, status);
    }
    if (c->failed_child && !rc)
        rc = 1;
    free(c);
    return rc;
}
