/* repro_fail / repro_error_prefix produce the messages users see. */
#include "repro/status.h"
#include "testutil.h"

int main(void)
{
    repro_error err;
    repro_error_clear(&err);
    CHECK(err.status == REPRO_OK);
    CHECK(repro_fail(&err, REPRO_ERR_IO, "cannot open '%s'", "x.yaml") == REPRO_ERR_IO);
    CHECK(strcmp(err.message, "cannot open 'x.yaml'") == 0);
    CHECK(repro_error_prefix(&err, "reading config") == REPRO_ERR_IO);
    CHECK(strcmp(err.message, "reading config: cannot open 'x.yaml'") == 0);
    CHECK(repro_fail(NULL, REPRO_ERR_ARG, "ignored") == REPRO_ERR_ARG);
    CHECK(strcmp(repro_status_name(REPRO_ERR_CONFIG), "config error") == 0);
    return test_finish("test_status");
}
