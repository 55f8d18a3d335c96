/* libabac benchmark: decisions per second on one core for generated 10, 100 and 1,000-rule
 * policy sets (JSON lines on stdout).
 *
 *   bench_abac [--quick] [--rules N] [--requests M] [--dump DIR]
 *
 * The generator is deterministic (fixed-seed xorshift). Rules mix permits and forbids,
 * one or more actions, resource types, and 2-5 conditions drawn from the seed paper's kinds
 * (purpose, allowed organisations, validity window, usage counter, credentials, clearance,
 * ownership, group membership, export flag, role). With --dump, the same policies are also
 * written in Cedar syntax with the requests (JSON) and our decisions, so that
 * benchmarks/suites/abac.py can have Cedar decide exactly the same thing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "abac.h"

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
static const char *TYPES[] = {"dataset", "model", "report", "blob"};
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

static const char *SCHEMA =
    "subject { org: string, role: string, credentials: set<string>, clearance: int }\n"
    "resource { owner: string, uses: int, sensitivity: int }\n"
    "context { purpose: string, now: timestamp, export_raw: bool }\n";

/* one condition atom, in both languages */
static void atom(sbuf *a, sbuf *c) {
    int k = rint_(11);
    switch (k) {
        case 0: {
            const char *p = PURPOSES[rint_(10) < 7 ? 0 : rint_(4)];
            sb_printf(a, "context.purpose == \"%s\"", p);
            sb_printf(c, "context.purpose == \"%s\"", p);
            break;
        }
        case 1: {
            int o1 = rint_(N_ORGS), o2 = rint_(N_ORGS), o3 = rint_(N_ORGS), o4 = rint_(N_ORGS);
            sb_printf(a, "subject.org in [\"org%d\", \"org%d\", \"org%d\", \"org%d\"]", o1, o2, o3,
                      o4);
            sb_printf(c, "[\"org%d\", \"org%d\", \"org%d\", \"org%d\"].contains(principal.org)", o1,
                      o2, o3, o4);
            break;
        }
        case 2: {
            long long t1 = T0 + (long long)rint_(365) * 86400,
                      t2 = t1 + (long long)rint_(700) * 86400;
            sb_printf(a, "context.now >= time(%lld) && context.now < time(%lld)", t1, t2);
            sb_printf(c, "context.now >= %lld && context.now < %lld", t1, t2);
            break;
        }
        case 3: {
            int lim = 50 + rint_(200);
            sb_printf(a, "resource.uses < %d", lim);
            sb_printf(c, "resource.uses < %d", lim);
            break;
        }
        case 4: {
            int cr = rint_(N_CREDS);
            sb_printf(a, "\"cred%d\" in subject.credentials", cr);
            sb_printf(c, "principal.credentials.contains(\"cred%d\")", cr);
            break;
        }
        case 5:
            sb_printf(a, "subject.clearance >= resource.sensitivity");
            sb_printf(c, "principal.clearance >= resource.sensitivity");
            break;
        case 6:
            sb_printf(a, "resource.owner == subject.org");
            sb_printf(c, "resource.owner == principal.org");
            break;
        case 7: {
            int g = rint_(N_GROUPS);
            sb_printf(a, "subject in \"grp%d\"", g);
            sb_printf(c, "principal in Group::\"grp%d\"", g);
            break;
        }
        case 8:
            sb_printf(a, "!context.export_raw");
            sb_printf(c, "!context.export_raw");
            break;
        case 9: {
            const char *r = ROLES[rint_(4)];
            sb_printf(a, "subject.role == \"%s\"", r);
            sb_printf(c, "principal.role == \"%s\"", r);
            break;
        }
        default: {
            int cl = 1 + rint_(4);
            sb_printf(a, "(subject.role == \"admin\" || subject.clearance > %d)", cl);
            sb_printf(c, "(principal.role == \"admin\" || principal.clearance > %d)", cl);
            break;
        }
    }
}

/* scope of each generated rule (-1: any), so that most requests ask about something the
 * policy set speaks of, as real requests do */
static int SCOPE_ACT[100000], SCOPE_TYPE[100000], N_SCOPES;

static void gen_rules(int n, sbuf *a, sbuf *c) {
    N_SCOPES = n;
    for (int k = 0; k < n; k++) {
        int forbid = rint_(100) < 10;
        SCOPE_ACT[k] = SCOPE_TYPE[k] = -1;
        const char *eff = forbid ? "forbid" : "permit";
        sb_printf(a, "%s r%d (subject, action", eff, k);
        sb_printf(c, "%s (principal, action", eff);
        int ka = rint_(10);
        if (ka < 7) {
            int xi = rint_(8);
            const char *x = ACTIONS[xi];
            SCOPE_ACT[k] = xi;
            sb_printf(a, " == \"%s\"", x);
            sb_printf(c, " == Action::\"%s\"", x);
        } else if (ka < 9) {
            int x = rint_(8), y = (x + 1 + rint_(7)) % 8;
            SCOPE_ACT[k] = x;
            sb_printf(a, " in [\"%s\", \"%s\"]", ACTIONS[x], ACTIONS[y]);
            sb_printf(c, " in [Action::\"%s\", Action::\"%s\"]", ACTIONS[x], ACTIONS[y]);
        }
        sb_printf(a, ", resource");
        sb_printf(c, ", resource");
        if (rint_(100) < 85) {
            int t = rint_(4);
            SCOPE_TYPE[k] = t;
            sb_printf(a, " is \"%s\"", TYPES[t]);
            sb_printf(c, " is %s", CTYPES[t]);
        }
        sb_printf(a, ")\n  when { ");
        sb_printf(c, ")\n  when { ");
        int na = forbid ? 2 + rint_(2) : 2 + rint_(3);
        for (int j = 0; j < na; j++) {
            if (j) {
                sb_printf(a, " && ");
                sb_printf(c, " && ");
            }
            atom(a, c);
        }
        sb_printf(a, " }");
        sb_printf(c, " };\n");
        if (!forbid && rint_(2))
            sb_printf(a, " obligations [no_export%s]", rint_(2) ? ", log_access" : "");
        sb_printf(a, ";\n");
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

static char ORGS[N_ORGS][8], CREDS[N_CREDS][8], GROUPS[N_GROUPS][8];

static int fill(abac_request *q, const req *r, int k) {
    char id[32];
    int rc = 0;
    abac_request_reset(q);
    rc |= abac_request_set_action(q, ACTIONS[r->action], strlen(ACTIONS[r->action]));
    snprintf(id, sizeof id, "u%d", k);
    rc |= abac_request_set_entity(q, ABAC_SUBJECT, id, strlen(id), "user", 4);
    snprintf(id, sizeof id, "d%d", k);
    rc |= abac_request_set_entity(q, ABAC_RESOURCE, id, strlen(id), TYPES[r->type],
                                  strlen(TYPES[r->type]));
    for (int g = 0; g < N_GROUPS; g++)
        if (r->groups & (1u << g))
            rc |= abac_request_add_ancestor(q, ABAC_SUBJECT, GROUPS[g], strlen(GROUPS[g]));
    rc |= abac_request_set_string(q, ABAC_SUBJECT, "org", ORGS[r->org], strlen(ORGS[r->org]));
    rc |= abac_request_set_string(q, ABAC_SUBJECT, "role", ROLES[r->role], strlen(ROLES[r->role]));
    rc |= abac_request_set_int(q, ABAC_SUBJECT, "clearance", r->clearance);
    const char *cv[N_CREDS];
    size_t cl[N_CREDS], nc = 0;
    for (int c = 0; c < N_CREDS; c++)
        if (r->creds & (1u << c)) {
            cv[nc] = CREDS[c];
            cl[nc++] = strlen(CREDS[c]);
        }
    rc |= abac_request_set_string_set(q, ABAC_SUBJECT, "credentials", cv, cl, nc);
    rc |=
        abac_request_set_string(q, ABAC_RESOURCE, "owner", ORGS[r->owner], strlen(ORGS[r->owner]));
    rc |= abac_request_set_int(q, ABAC_RESOURCE, "uses", r->uses);
    rc |= abac_request_set_int(q, ABAC_RESOURCE, "sensitivity", r->sens);
    rc |= abac_request_set_string(q, ABAC_CONTEXT, "purpose", PURPOSES[r->purpose],
                                  strlen(PURPOSES[r->purpose]));
    rc |= abac_request_set_timestamp(q, ABAC_CONTEXT, "now", r->now);
    rc |= abac_request_set_bool(q, ABAC_CONTEXT, "export_raw", r->export_raw);
    return rc;
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
    sbuf a = {malloc(1 << 16), 0, 1 << 16}, c = {malloc(1 << 16), 0, 1 << 16};
    gen_rules(n_rules, &a, &c);
    req *rs = malloc(sizeof(req) * (size_t)m);
    gen_reqs(rs, m);
    abac_compile_options o = ABAC_COMPILE_OPTIONS_INIT;
    o.schema = SCHEMA;
    o.schema_len = strlen(SCHEMA);
    abac_policyset *ps;
    char msg[256];
    uint32_t l, col;
    double t0 = now_s();
    int rc = abac_policyset_compile(a.p, a.n, &o, &ps, &l, &col, msg, sizeof msg);
    double t_compile = now_s() - t0;
    if (rc) {
        fprintf(stderr, "compile: %s at %u:%u: %s\n", abac_strerror(rc), l, col, msg);
        return 1;
    }
    abac_request **q = malloc(sizeof(*q) * (size_t)m);
    for (int k = 0; k < m; k++) {
        if (abac_request_new(ps, abac_request_arena_size(ps, 64, 1024), &q[k]) ||
            fill(q[k], &rs[k], k)) {
            fprintf(stderr, "request %d failed\n", k);
            return 1;
        }
    }
    abac_decision *d;
    if (abac_decision_new(ps, &d))
        return 1;
    int permits = 0;
    long rules_decided = 0;
    sbuf dec = {malloc(1 << 16), 0, 1 << 16};
    for (int k = 0; k < m; k++) {
        int e = abac_decide(ps, q[k], d, 0);
        permits += e == ABAC_PERMIT;
        rules_decided += (long)abac_decision_rule_count(d);
        if (dump) {
            sb_printf(&dec, "%s", e == ABAC_PERMIT ? "permit" : "deny");
            for (size_t i = 0; i < abac_decision_rule_count(d); i++)
                sb_printf(&dec, " r%zu", abac_decision_rule(d, i));
            sb_printf(&dec, "\n");
        }
    }
    /* decide only: requests built beforehand */
    double budget = quick ? 0.15 : 1.0;
    long iters = 0;
    volatile int sink = 0;
    t0 = now_s();
    double el;
    do {
        for (int k = 0; k < m; k++)
            sink += abac_decide(ps, q[k], d, 0);
        iters += m;
        el = now_s() - t0;
    } while (el < budget);
    double dps = (double)iters / el;
    /* build + decide: reset and fill the request from C strings each time */
    long iters2 = 0;
    t0 = now_s();
    do {
        for (int k = 0; k < m; k++) {
            fill(q[k], &rs[k], k);
            sink += abac_decide(ps, q[k], d, 0);
        }
        iters2 += m;
        el = now_s() - t0;
    } while (el < budget);
    double dps2 = (double)iters2 / el;
    (void)sink;
    printf("{\"suite\": \"abac\", \"name\": \"decisions_per_s_%d\", \"value\": %.0f, \"unit\": "
           "\"1/s\", \"rules\": %d, \"requests\": %d, \"permit_share\": %.3f, "
           "\"mean_deciding_rules\": %.3f, \"what\": \"abac_decide on pre-built requests\"}\n",
           n_rules, dps, n_rules, m, (double)permits / m, (double)rules_decided / m);
    printf("{\"suite\": \"abac\", \"name\": \"decisions_with_request_build_per_s_%d\", "
           "\"value\": %.0f, \"unit\": \"1/s\", \"rules\": %d, \"what\": \"reset + 13 "
           "attributes set + abac_decide\"}\n",
           n_rules, dps2, n_rules);
    printf("{\"suite\": \"abac\", \"name\": \"compile_ms_%d\", \"value\": %.3f, \"unit\": "
           "\"ms\", \"rules\": %d}\n",
           n_rules, t_compile * 1e3, n_rules);
    fflush(stdout);
    if (dump) {
        write_file(dump, "policies.abac", a.p, a.n);
        write_file(dump, "policies.cedar", c.p, c.n);
        write_file(dump, "schema.abac", SCHEMA, strlen(SCHEMA));
        write_file(dump, "decisions.txt", dec.p, dec.n);
        sbuf j = {malloc(1 << 16), 0, 1 << 16};
        sb_printf(&j, "[\n");
        for (int k = 0; k < m; k++) {
            const req *r = &rs[k];
            sb_printf(&j,
                      "{\"action\": \"%s\", \"type\": \"%s\", \"org\": \"org%d\", \"role\": "
                      "\"%s\", \"clearance\": %d, \"owner\": \"org%d\", \"uses\": %d, "
                      "\"sensitivity\": %d, \"purpose\": \"%s\", \"now\": %lld, \"export_raw\": "
                      "%s, \"credentials\": [",
                      ACTIONS[r->action], TYPES[r->type], r->org, ROLES[r->role], r->clearance,
                      r->owner, r->uses, r->sens, PURPOSES[r->purpose], r->now,
                      r->export_raw ? "true" : "false");
            int first = 1;
            for (int cc = 0; cc < N_CREDS; cc++)
                if (r->creds & (1u << cc)) {
                    sb_printf(&j, "%s\"cred%d\"", first ? "" : ", ", cc);
                    first = 0;
                }
            sb_printf(&j, "], \"groups\": [");
            first = 1;
            for (int g = 0; g < N_GROUPS; g++)
                if (r->groups & (1u << g)) {
                    sb_printf(&j, "%s\"grp%d\"", first ? "" : ", ", g);
                    first = 0;
                }
            sb_printf(&j, "]}%s\n", k + 1 < m ? "," : "");
        }
        sb_printf(&j, "]\n");
        write_file(dump, "requests.json", j.p, j.n);
        free(j.p);
    }
    for (int k = 0; k < m; k++)
        abac_request_free(q[k]);
    free(q);
    abac_decision_free(d);
    abac_policyset_free(ps);
    free(rs);
    free(a.p);
    free(c.p);
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
    for (int k = 0; k < N_ORGS; k++)
        snprintf(ORGS[k], sizeof ORGS[k], "org%d", k);
    for (int k = 0; k < N_CREDS; k++)
        snprintf(CREDS[k], sizeof CREDS[k], "cred%d", k);
    for (int k = 0; k < N_GROUPS; k++)
        snprintf(GROUPS[k], sizeof GROUPS[k], "grp%d", k);
    if (rules > 0)
        return bench(rules, m, quick, dump);
    int sizes[] = {10, 100, 1000};
    for (int k = 0; k < 3; k++)
        if (bench(sizes[k], m, quick, NULL))
            return 1;
    return 0;
}
