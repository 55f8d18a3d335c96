/* Return codes: every code has its own text, and the four libraries' codes pass through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fedshare.h"

static void test_own_codes_have_distinct_texts(void **state) {
    (void)state;
    const char *unknown = fedshare_strerror(-599);
    for (int c = FEDSHARE_E_INVALID; c >= FEDSHARE_E_TOO_FEW; c--) {
        assert_string_not_equal(fedshare_strerror(c), unknown);
        for (int d = c - 1; d >= FEDSHARE_E_TOO_FEW; d--)
            assert_string_not_equal(fedshare_strerror(c), fedshare_strerror(d));
    }
    assert_string_equal(fedshare_strerror(FEDSHARE_OK), "success");
}

static void test_other_libraries_codes_pass_through(void **state) {
    (void)state;
    const char *unknown = fedshare_strerror(-599);
    /* The first code of each library's range has a real text. */
    assert_string_not_equal(fedshare_strerror(-100), unknown);
    assert_string_not_equal(fedshare_strerror(-200), unknown);
    assert_string_not_equal(fedshare_strerror(-300), unknown);
    assert_string_not_equal(fedshare_strerror(-400), unknown);
    assert_string_equal(fedshare_version_string(), FEDSHARE_VERSION_STRING);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_codes_have_distinct_texts),
        cmocka_unit_test(test_other_libraries_codes_pass_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
