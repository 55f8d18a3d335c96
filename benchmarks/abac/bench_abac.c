/* libabac benchmark: decisions per second on one core for generated 10, 100 and 1,000-rule
 * policy sets (JSON lines on stdout).
 *
 *   bench_abac [--quick] [--rules N] [--requests M] [--dump DIR]
 *
 * The generator is deterministic (fixed-seed xorshift). Rules mix permits and forbids,
 * one or more actions, resource types, and 2-5 conditions drawn from the seed paper's kinds
 * (purpose, allowed organisations, validity window, usage counter, credentials, clearance,
 * ownership, group membership, export flag, role), written as Cedar policy text; the entities
 * (one principal and one resource per request, plus groups) and the requests are Cedar's
 * JSON. libabac's Cedar engine reads all three. With --dump, the policy text, the entities,
 * the requests and our decisions are written to DIR so that benchmarks/suites/abac.py hands
 * exactly the same text to Cedar (cedarpy). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "abac.h"
#include "abac/cedar.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static int rint_(int n) {
    return (int)(rnd() % (uint64_t)n);
}

static const char *ACTIONS[] = {"train", "read",     "aggregate", "export",
                                "audit", "evaluate", "download",  "share"};
static const char *CTYPES[] = {"Dataset", "Model", "Report", "Blob"};
static const char *PURPOSES[] = {"training", "research", "audit", "billing"};
static const char *ROLES[] = {"researcher", "clinician", "auditor", "admin"};
#define N_ORGS   12
#define N_CREDS  8
#define N_GROUPS 4
#define T0       1767225600LL /* 2026-01-01 */
#define YEAR     31536000LL

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void sb_printf(sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k >= 0 && (size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        b->cap = b->cap * 2 + (size_t)k + 1024;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            exit(2);
    }
}

/* one condition atom, in both languages */
static void atom(sbuf *c) {
    int k = rint_(11);
    switch (k) {
        case 0: {
            const char *p = PURPOSES[rint_(10) < 7 ? 0 : rint_(4)];
            sb_printf(c, "context.purpose == \"%s\"", p);
            break;
        }
        case 1: {
            int o1 = rint_(N_ORGS), o2 = rint_(N_ORGS), o3 = rint_(N_ORGS), o4 = rint_(N_ORGS);
            sb_printf(c, "[\"org%d\", \"org%d\", \"org%d\", \"org%d\"].contains(principal.org)", o1,
                      o2, o3, o4);
            break;
        }
        case 2: {
            long long t1 = T0 + (long long)rint_(365) * 86400,
                      t2 = t1 + (long long)rint_(700) * 86400;
            sb_printf(c, "context.now >= %lld && context.now < %lld", t1, t2);
            break;
        }
        case 3: {
            int lim = 50 + rint_(200);
            sb_printf(c, "resource.uses < %d", lim);
            break;
        }
        case 4: {
            int cr = rint_(N_CREDS);
            sb_printf(c, "principal.credentials.contains(\"cred%d\")", cr);
            break;
        }
        case 5:
            sb_printf(c, "principal.clearance >= resource.sensitivity");
            break;
        case 6:
            sb_printf(c, "resource.owner == principal.org");
            break;
        case 7: {
            int g = rint_(N_GROUPS);
            sb_printf(c, "principal in Group::\"grp%d\"", g);
            break;
        }
        case 8:
            sb_printf(c, "!context.export_raw");
            break;
        case 9: {
            const char *r = ROLES[rint_(4)];
            sb_printf(c, "principal.role == \"%s\"", r);
            break;
        }
        default: {
            int cl = 1 + rint_(4);
            sb_printf(c, "(principal.role == \"admin\" || principal.clearance > %d)", cl);
            break;
        }
    }
}

/* scope of each generated rule (-1: any), so that most requests ask about something the
 * policy set speaks of, as real requests do */
static int SCOPE_ACT[100000], SCOPE_TYPE[100000], N_SCOPES;

static void gen_rules(int n, sbuf *c) {
    N_SCOPES = n;
    for (int k = 0; k < n; k++) {
        int forbid = rint_(100) < 10;
        SCOPE_ACT[k] = SCOPE_TYPE[k] = -1;
        const char *eff = forbid ? "forbid" : "permit";
        sb_printf(c, "%s (principal, action", eff);
        int ka = rint_(10);
        if (ka < 7) {
            int xi = rint_(8);
            const char *x = ACTIONS[xi];
            SCOPE_ACT[k] = xi;
            sb_printf(c, " == Action::\"%s\"", x);
        } else if (ka < 9) {
            int x = rint_(8), y = (x + 1 + rint_(7)) % 8;
            SCOPE_ACT[k] = x;
            sb_printf(c, " in [Action::\"%s\", Action::\"%s\"]", ACTIONS[x], ACTIONS[y]);
        }
        sb_printf(c, ", resource");
        if (rint_(100) < 85) {
            int t = rint_(4);
            SCOPE_TYPE[k] = t;
            sb_printf(c, " is %s", CTYPES[t]);
        }
        sb_printf(c, ")\n  when { ");
        int na = forbid ? 2 + rint_(2) : 2 + rint_(3);
        for (int j = 0; j < na; j++) {
            if (j) {
                sb_printf(c, " && ");
            }
            atom(c);
        }
        sb_printf(c, " };\n");
        if (!forbid && rint_(2)) /* draws once made for obligations: the sets stay as before */
            (void)rint_(2);
    }
}

typedef struct req {
    int action, type, org, role, clearance, owner, uses, sens, purpose, export_raw;
    long long now;
    unsigned creds, groups;
} req;

static void gen_reqs(req *r, int m) {
    for (int k = 0; k < m; k++) {
        r[k].action = rint_(8);
        r[k].type = rint_(4);
        if (rint_(10) < 7) { /* about what some rule covers */
            int s = rint_(N_SCOPES);
            if (SCOPE_ACT[s] >= 0)
                r[k].action = SCOPE_ACT[s];
            if (SCOPE_TYPE[s] >= 0)
                r[k].type = SCOPE_TYPE[s];
        }
        r[k].org = rint_(N_ORGS);
        r[k].role = rint_(4);
        r[k].clearance = rint_(6);
        r[k].owner = rint_(10) < 3 ? r[k].org : rint_(N_ORGS);
        r[k].uses = rint_(250);
        r[k].sens = rint_(6);
        r[k].purpose = rint_(10) < 7 ? 0 : rint_(4);
        r[k].export_raw = rint_(10) < 2;
        r[k].now = T0 + (long long)(rnd() % (uint64_t)(2 * YEAR));
        r[k].creds = 0;
        for (int c = 0; c < N_CREDS; c++)
            if (rint_(10) < 6)
                r[k].creds |= 1u << c;
        r[k].groups = (unsigned)rint_(1 << N_GROUPS) & (unsigned)rint_(1 << N_GROUPS);
    }
}

static const char *ORG_NAMES(int k) {
    static char names[N_ORGS][8];
    snprintf(names[k], sizeof names[k], "org%d", k);
    return names[k];
}

/* Cedar's JSON entities: the groups, then one principal and one resource per request */
static void gen_entities(sbuf *e, const req *r, int m) {
    sb_printf(e, "[");
    for (int g = 0; g < N_GROUPS; g++)
        sb_printf(e,
                  "%s{\"uid\": {\"type\": \"Group\", \"id\": \"grp%d\"}, \"attrs\": {}, "
                  "\"parents\": []}",
                  g ? ",\n" : "", g);
    for (int k = 0; k < m; k++) {
        sb_printf(e,
                  ",\n{\"uid\": {\"type\": \"User\", \"id\": \"u%d\"}, \"attrs\": {\"org\": "
                  "\"%s\", \"role\": \"%s\", \"clearance\": %d, \"credentials\": [",
                  k, ORG_NAMES(r[k].org), ROLES[r[k].role], r[k].clearance);
        int first = 1;
        for (int c = 0; c < N_CREDS; c++)
            if (r[k].creds & (1u << c)) {
                sb_printf(e, "%s\"cred%d\"", first ? "" : ", ", c);
                first = 0;
            }
        sb_printf(e, "]}, \"parents\": [");
        first = 1;
        for (int g = 0; g < N_GROUPS; g++)
            if (r[k].groups & (1u << g)) {
                sb_printf(e, "%s{\"type\": \"Group\", \"id\": \"grp%d\"}", first ? "" : ", ", g);
                first = 0;
            }
        sb_printf(e, "]}");
        sb_printf(e,
                  ",\n{\"uid\": {\"type\": \"%s\", \"id\": \"d%d\"}, \"attrs\": {\"owner\": "
                  "\"%s\", \"uses\": %d, \"sensitivity\": %d}, \"parents\": []}",
                  CTYPES[r[k].type], k, ORG_NAMES(r[k].owner), r[k].uses, r[k].sens);
    }
    sb_printf(e, "]\n");
}

/* one request in Cedar's JSON request form; returns its offset in @p j */
static size_t gen_request(sbuf *j, const req *r, int k) {
    size_t off = j->n;
    sb_printf(j,
              "{\"principal\": {\"type\": \"User\", \"id\": \"u%d\"}, \"action\": {\"type\": "
              "\"Action\", \"id\": \"%s\"}, \"resource\": {\"type\": \"%s\", \"id\": \"d%d\"}, "
              "\"context\": {\"purpose\": \"%s\", \"now\": %lld, \"export_raw\": %s}}",
              k, ACTIONS[r->action], CTYPES[r->type], k, PURPOSES[r->purpose], r->now,
              r->export_raw ? "true" : "false");
    return off;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void write_file(const char *dir, const char *name, const char *data, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

static int bench(int n_rules, int m, int quick, const char *dump) {
    rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)n_rules;
    sbuf c = {malloc(1 << 16), 0, 1 << 16};
    gen_rules(n_rules, &c);
    req *rs = malloc(sizeof(req) * (size_t)m);
    gen_reqs(rs, m);
    sbuf ents = {malloc(1 << 16), 0, 1 << 16}, rj = {malloc(1 << 16), 0, 1 << 16};
    gen_entities(&ents, rs, m);
    size_t *roff = malloc(sizeof(size_t) * ((size_t)m + 1));
    for (int k = 0; k < m; k++) {
        roff[k] = gen_request(&rj, &rs[k], k);
        sb_printf(&rj, "\n");
    }
    roff[m] = rj.n;

    abac_cedar_policies *ps;
    char msg[256];
    uint32_t l, col;
    double t0 = now_s();
    int rc = abac_cedar_policies_parse(&ps, c.p, c.n, &l, &col, msg, sizeof msg);
    double t_compile = now_s() - t0;
    if (rc) {
        fprintf(stderr, "parse: %s at %u:%u: %s\n", abac_strerror(rc), l, col, msg);
        return 1;
    }
    /* entities from Cedar's JSON, timed over repeated loads */
    double budget = quick ? 0.15 : 1.0;
    abac_cedar_entities *es = NULL;
    long loaded = 0;
    double el;
    t0 = now_s();
    do {
        abac_cedar_entities_free(es);
        es = NULL;
        if (abac_cedar_entities_parse_json(&es, ents.p, ents.n, msg, sizeof msg)) {
            fprintf(stderr, "entities: %s\n", msg);
            return 1;
        }
        loaded += (long)abac_cedar_entity_count(es);
        el = now_s() - t0;
    } while (el < budget);
    double eps = (double)loaded / el;

    abac_cedar_request **q = malloc(sizeof(*q) * (size_t)m);
    for (int k = 0; k < m; k++) {
        if (abac_cedar_request_parse_json(&q[k], rj.p + roff[k], roff[k + 1] - roff[k], msg,
                                          sizeof msg)) {
            fprintf(stderr, "request %d: %s\n", k, msg);
            return 1;
        }
    }
    abac_cedar_response *d;
    if (abac_cedar_response_new(&d, ps, 0))
        return 1;
    int permits = 0;
    long rules_decided = 0, errors = 0;
    sbuf dec = {malloc(1 << 16), 0, 1 << 16};
    for (int k = 0; k < m; k++) {
        int e = abac_cedar_is_authorized(ps, es, q[k], d);
        permits += e == ABAC_PERMIT;
        rules_decided += (long)abac_cedar_response_reason_count(d);
        errors += (long)abac_cedar_response_error_count(d);
        if (dump) {
            sb_printf(&dec, "%s", e == ABAC_PERMIT ? "permit" : "deny");
            for (size_t i = 0; i < abac_cedar_response_reason_count(d); i++)
                sb_printf(&dec, " %s", abac_cedar_policy_id(ps, abac_cedar_response_reason(d, i)));
            sb_printf(&dec, "\n");
        }
    }
    /* decide only: requests and entities loaded beforehand */
    long iters = 0;
    volatile int sink = 0;
    t0 = now_s();
    do {
        for (int k = 0; k < m; k++)
            sink += abac_cedar_is_authorized(ps, es, q[k], d);
        iters += m;
        el = now_s() - t0;
    } while (el < budget);
    double dps = (double)iters / el;
    /* read the request from its JSON text + decide */
    long iters2 = 0;
    t0 = now_s();
    do {
        for (int k = 0; k < m; k++) {
            abac_cedar_request *one;
            if (abac_cedar_request_parse_json(&one, rj.p + roff[k], roff[k + 1] - roff[k], NULL,
                                              0) == 0) {
                sink += abac_cedar_is_authorized(ps, es, one, d);
                abac_cedar_request_free(one);
            }
        }
        iters2 += m;
        el = now_s() - t0;
    } while (el < budget);
    double dps2 = (double)iters2 / el;
    (void)sink;
    printf("{\"suite\": \"abac\", \"name\": \"decisions_per_s_%d\", \"value\": %.0f, \"unit\": "
           "\"1/s\", \"rules\": %d, \"requests\": %d, \"permit_share\": %.3f, "
           "\"mean_deciding_rules\": %.3f, \"mean_erroring_rules\": %.3f, \"what\": "
           "\"abac_cedar_is_authorized on pre-read requests (Cedar policy text)\"}\n",
           n_rules, dps, n_rules, m, (double)permits / m, (double)rules_decided / m,
           (double)errors / m);
    printf("{\"suite\": \"abac\", \"name\": \"decisions_with_request_build_per_s_%d\", "
           "\"value\": %.0f, \"unit\": \"1/s\", \"rules\": %d, \"what\": \"request read from "
           "Cedar JSON + abac_cedar_is_authorized\"}\n",
           n_rules, dps2, n_rules);
    printf("{\"suite\": \"abac\", \"name\": \"entities_load_per_s_%d\", \"value\": %.0f, "
           "\"unit\": \"1/s\", \"entities\": %zu, \"json_bytes\": %zu, \"what\": \"entities from "
           "Cedar's JSON (parse, index, transitive ancestors)\"}\n",
           n_rules, eps, abac_cedar_entity_count(es), ents.n);
    printf("{\"suite\": \"abac\", \"name\": \"compile_ms_%d\", \"value\": %.3f, \"unit\": "
           "\"ms\", \"rules\": %d, \"what\": \"Cedar policy text parsed\"}\n",
           n_rules, t_compile * 1e3, n_rules);
    fflush(stdout);
    if (dump) {
        write_file(dump, "policies.cedar", c.p, c.n);
        write_file(dump, "entities.json", ents.p, ents.n);
        write_file(dump, "requests.jsonl", rj.p, rj.n);
        write_file(dump, "decisions.txt", dec.p, dec.n);
    }
    for (int k = 0; k < m; k++)
        abac_cedar_request_free(q[k]);
    free(q);
    free(roff);
    abac_cedar_response_free(d);
    abac_cedar_entities_free(es);
    abac_cedar_policies_free(ps);
    free(rs);
    free(c.p);
    free(ents.p);
    free(rj.p);
    free(dec.p);
    return 0;
}

int main(int argc, char **argv) {
    int quick = 0, rules = 0, m = 1000;
    const char *dump = NULL;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "--quick"))
            quick = 1;
        else if (!strcmp(argv[k], "--rules") && k + 1 < argc)
            rules = atoi(argv[++k]);
        else if (!strcmp(argv[k], "--requests") && k + 1 < argc)
            m = atoi(argv[++k]);
        else if (!strcmp(argv[k], "--dump") && k + 1 < argc)
            dump = argv[++k];
        else {
            fprintf(stderr,
                    "usage: bench_abac [--quick] [--rules N] [--requests M] [--dump DIR]\n");
            return 2;
        }
    }
    if (m < 1 || m > 1000000 || rules > 100000)
        return 2;
    if (rules > 0)
        return bench(rules, m, quick, dump);
    int sizes[] = {10, 100, 1000};
    for (int k = 0; k < 3; k++)
        if (bench(sizes[k], m, quick, NULL))
            return 1;
    return 0;
}
