/* repro_be_zero on the CPU backend clears every byte it is given and none
 * beyond, alone and split over the pool (buffers of 256 KiB and more go in
 * 64 KiB chunks over the threads): odd sizes around the chunk and the
 * threshold, odd start addresses, 1 to 3 threads.
 * ctest-labels: threads */
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "repro/isa.h"
#include "testutil.h"

enum { GUARD = 64 };

static void check_zero(const repro_backend *be, int threads, size_t bytes, size_t offset)
{
    unsigned char *buf = malloc(bytes + offset + GUARD);
    memset(buf, 0xA5, bytes + offset + GUARD);
    repro_error err;
    CHECK(repro_be_zero(be, buf + offset, bytes, &err) == REPRO_OK);
    size_t bad = 0;
    for (size_t i = 0; i < bytes + offset + GUARD; i++) {
        unsigned char want = i >= offset && i < offset + bytes ? 0 : 0xA5;
        bad += buf[i] != want;
    }
    CHECK_MSG(bad == 0, "%d threads, %zu bytes at +%zu: %zu bytes wrong", threads, bytes, offset, bad);
    free(buf);
}

int main(void)
{
    static const size_t sizes[] = {0, 1, 65535, 65536, 262143, 262144, 262145, 1077288, 3 * 65536 * 7 + 13};
    for (int threads = 1; threads <= 3; threads++) {
        repro_backend *be;
        repro_error err;
        CHECK(repro_backend_create_cpu(REPRO_ISA_SCALAR, threads, &be, &err) == REPRO_OK);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (size_t offset = 0; offset < 8; offset += 3)
                check_zero(be, threads, sizes[s], offset);
        repro_backend_destroy(be);
    }
    return test_finish("test_be_zero");
}
