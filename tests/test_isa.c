/* The ISA choice: auto picks the best supported path, names round-trip,
 * unknown and unsupported requests are errors naming them and listing what
 * this CPU supports. */
#include "repro/isa.h"
#include "testutil.h"

int main(void)
{
    repro_isa isa = REPRO_ISA_AVX2;
    repro_error err;
    CHECK(repro_isa_supported(REPRO_ISA_SCALAR));
    CHECK(repro_isa_supported(repro_isa_best()));
    if (repro_isa_supported(REPRO_ISA_AVX512))
        CHECK(repro_isa_best() == REPRO_ISA_AVX512);
    CHECK(repro_isa_choose(NULL, &isa, &err) == REPRO_OK && isa == repro_isa_best());
    CHECK(repro_isa_choose("", &isa, &err) == REPRO_OK && isa == repro_isa_best());
    CHECK(repro_isa_choose("auto", &isa, &err) == REPRO_OK && isa == repro_isa_best());
    const repro_isa all[] = {REPRO_ISA_SCALAR, REPRO_ISA_AVX2, REPRO_ISA_AVX512, REPRO_ISA_NEON};
    for (int i = 0; i < 4; i++) {
        repro_status st = repro_isa_choose(repro_isa_name(all[i]), &isa, &err);
        if (repro_isa_supported(all[i])) {
            CHECK(st == REPRO_OK && isa == all[i]);
        } else {
            printf("NOTE: %s not supported here\n", repro_isa_name(all[i]));
            CHECK(st == REPRO_ERR_UNSUPPORTED);
            CHECK_CONTAINS(err.message, repro_isa_name(all[i]));
            CHECK_CONTAINS(err.message, "supported: scalar");
        }
    }
    CHECK(strcmp(repro_isa_name(REPRO_ISA_AVX2), "avx2") == 0);
    CHECK(strcmp(repro_isa_name(REPRO_ISA_NEON), "neon") == 0);
    CHECK(strcmp(repro_isa_name((repro_isa)REPRO_ISA_COUNT), "unknown") == 0);
    CHECK(!repro_isa_supported((repro_isa)REPRO_ISA_COUNT));
    /* a path of the other architecture is never supported (its twins are not even built) */
#if defined(__x86_64__)
    CHECK(!repro_isa_supported(REPRO_ISA_NEON));
#elif defined(__aarch64__)
    CHECK(!repro_isa_supported(REPRO_ISA_AVX2) && !repro_isa_supported(REPRO_ISA_AVX512));
    if (!repro_isa_cap())
        CHECK(repro_isa_best() == REPRO_ISA_NEON); /* every aarch64 Linux CPU has ASIMD */
#else
    CHECK(repro_isa_best() == REPRO_ISA_SCALAR);
#endif
    CHECK(repro_isa_choose("sse9", &isa, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "unknown ISA path \"sse9\"");
    CHECK_CONTAINS(err.message, "expected auto, scalar, avx2, avx512 or neon");
    CHECK_CONTAINS(err.message, "this CPU supports: scalar");
    return test_finish("test_isa");
}
