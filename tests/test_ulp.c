/* repro_ulp_distance: the number of binary32 steps between two floats. */
#include <math.h>
#include <stdint.h>

#include "repro/record.h"
#include "testutil.h"

static float bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int main(void)
{
    CHECK_EQ_U64(repro_ulp_distance(1.0f, 1.0f), 0);
    CHECK_EQ_U64(repro_ulp_distance(1.0f, bits(0x3f800001u)), 1);
    CHECK_EQ_U64(repro_ulp_distance(bits(0x3f800001u), 1.0f), 1);          /* symmetric */
    CHECK_EQ_U64(repro_ulp_distance(1.0f, 2.0f), 0x800000u);                  /* one binade: 2^23 steps */
    CHECK_EQ_U64(repro_ulp_distance(-1.0f, bits(0xbf800001u)), 1);           /* negatives count outward */
    CHECK_EQ_U64(repro_ulp_distance(0.0f, -0.0f), 0);                         /* same place on the line */
    CHECK_EQ_U64(repro_ulp_distance(0.0f, bits(1u)), 1);                      /* smallest subnormal */
    CHECK_EQ_U64(repro_ulp_distance(bits(0x80000001u), bits(1u)), 2);        /* across zero */
    CHECK_EQ_U64(repro_ulp_distance(-1.0f, 1.0f), 2u * 0x3f800000u);
    CHECK_EQ_U64(repro_ulp_distance(bits(0x7f7fffffu), INFINITY), 1);        /* largest finite to inf */
    CHECK_EQ_U64(repro_ulp_distance(-INFINITY, INFINITY), 2u * 0x7f800000u);
    CHECK_EQ_U64(repro_ulp_distance(NAN, 1.0f), UINT64_MAX);
    CHECK_EQ_U64(repro_ulp_distance(1.0f, NAN), UINT64_MAX);
    return test_finish("test_ulp");
}
