/* Return codes: every code has its own text, and the four libraries' codes pass through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fedshare.h"
#include "fedshare/node.h"

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

/* fedshare_config_load makes relative paths absolute, which lengthens the
 * ledger text: in a deep directory, a file of short "data_dir a" lines and one
 * long line used to write past the text buffer (the long line was copied
 * without a bounds check). It is refused now, with the line named. */
static void test_config_load_long_expansion(void **state) {
    (void)state;
    char dir[1024] = "/tmp/fs_cfg.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char top[32];
    snprintf(top, sizeof top, "%s", dir);
    char comp[201];
    memset(comp, 'd', 200);
    comp[200] = 0;
    for (int i = 0; i < 4; i++) { /* about 830 bytes of directory */
        size_t n = strlen(dir);
        snprintf(dir + n, sizeof dir - n, "/%s", comp);
        assert_int_equal(mkdir(dir, 0700), 0);
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/c.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 17; i++) /* 17 × ~840 expanded bytes: within the buffer */
        fputs("data_dir a\n", f);
    fputc('#', f); /* then a 6000-byte line that no longer fits */
    for (int i = 0; i < 6000; i++)
        fputc('x', f);
    fputc('\n', f);
    fclose(f);
    char *text = NULL;
    uint32_t line = 0;
    int rc = fedshare_config_load(path, &text, NULL, NULL, &line);
    free(text);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", top);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(rc, FEDSHARE_E_CONFIG);
    assert_int_equal(line, 18);
}

/* Options structs come with an _INIT macro and an _init() function that agree
 * (docs/c-conventions.md). */
static void test_options_init_and_macro_agree(void **state) {
    (void)state;
    fedshare_node_options want = FEDSHARE_NODE_OPTIONS_INIT, got;
    memset(&got, 0xa5, sizeof got);
    assert_int_equal(fedshare_node_options_init(&got), FEDSHARE_OK);
    assert_int_equal(got.version, FEDSHARE_NODE_OPTIONS_VERSION);
    assert_int_equal(got.id, want.id);
    assert_null(got.data_dir);
    assert_null(got.seed);
    assert_int_equal(got.metrics_port, -1);
    assert_int_equal(got.sync, want.sync);
    assert_int_equal(got.blob_quota_mib, 0);
    assert_null(got.log);
    assert_int_equal(got.log_level, 0);
    assert_int_equal(fedshare_node_options_init(NULL), FEDSHARE_E_INVALID);

    fedshare_task_spec m = FEDSHARE_TASK_SPEC_INIT, f;
    memset(&f, 0xa5, sizeof f);
    fedshare_task_spec_init(&f);
    assert_int_equal(m.version, f.version);
    assert_memory_equal(m.model_id, f.model_id, 32);
    assert_memory_equal(m.aggregator, f.aggregator, 32);
    assert_int_equal(m.n_participants, f.n_participants);
    assert_null(m.participants);
    assert_true(m.learning_rate == f.learning_rate);
    assert_int_equal(m.batch_size, f.batch_size);
    assert_int_equal(m.upload_every, f.upload_every);
    assert_int_equal(m.round_limit, f.round_limit);
    assert_true(m.stop_threshold == f.stop_threshold);
    assert_int_equal(m.stop_patience, f.stop_patience);
    assert_true(m.anomaly_k == f.anomaly_k);
    assert_int_equal(m.anomaly_warmup, f.anomaly_warmup);
    assert_null(f.codec);
    assert_int_equal(m.codec_len, f.codec_len);
    assert_int_equal(m.min_updates, f.min_updates);
    assert_int_equal(m.anomaly_rule, f.anomaly_rule);
    assert_int_equal(m.anomaly_rule, FEDSHARE_RULE_ROBUST2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_codes_have_distinct_texts),
        cmocka_unit_test(test_other_libraries_codes_pass_through),
        cmocka_unit_test(test_config_load_long_expansion),
        cmocka_unit_test(test_options_init_and_macro_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
