"""The console without a consortium (fast): who may see and do what (loopback
trust, tokens, roles, CSRF, host and origin checks), bad input answered with a
clear 4xx page and never a stack trace, the bind rule of `fedshare console`,
the policy text written back from the ledger's canonical form, and the chart.
The console against live nodes in a real browser: test_console_browser.py."""
from __future__ import annotations

import html
import subprocess
import sys

import pytest
from starlette.testclient import TestClient

from fedshare import abac, abac_analyze, errors, ledger
from fedshare.console import policytext
from fedshare.console.auth import Principal, load_tokens, TokenFileError
from fedshare.console.chain import Index, MemberInfo
from fedshare.console.web import chart_svg, create_app

NAMES = ["hospital-a", "hospital-b", "regulator"]
SEEDS = {n: bytes([i + 1]) * 32 for i, n in enumerate(NAMES)}
REG_TOKEN = "regulator-token-0123456789"
A_TOKEN = "hospital-a-token-0123456789"


class StubView:
    """The reading side with an empty ledger: no network."""

    def __init__(self):
        self.config = "unused.conf"
        self.members = [MemberInfo(n, ledger.Signer(SEEDS[n]).public_key, n, ("provider",))
                        for n in NAMES]
        self.f, self.replicas, self.stores = 1, 4, {}
        self._index = Index()
        self.reads = 0

    def refresh(self):
        self.reads += 1
        return self._index

    def record(self, *a, **k):
        self.reads += 1
        return None

    def policy_encoding(self, data_id):
        return None

    def nodes(self):
        return []

    def name(self, key):
        return next((m.name for m in self.members if m.key == key), key.hex()[:16])

    def member(self, name):
        return next((m for m in self.members if m.name == name), None)

    def name_of_did(self, did):
        return did

    def trace(self, *a, **k):
        return []

    def verify_stores(self):
        return []

    def observe(self, height):
        pass

    def close(self):
        pass


def client(tokens=None, bind="127.0.0.1", seeds=None):
    app = create_app(StubView(), tokens=tokens, seeds=seeds or {}, bind_host=bind)
    return TestClient(app, raise_server_exceptions=False)


TOKENS = {REG_TOKEN: Principal("regulator"), A_TOKEN: Principal("member", "hospital-a")}


def test_loopback_without_tokens_is_the_local_role():
    r = client().get("/")
    assert r.status_code == 200 and "local" in r.text and "Consortium" in r.text
    assert "did:key:z6Mk" in r.text  # members with their DIDs


def test_tokens_required_when_configured():
    c = client(TOKENS)
    r = c.get("/data")
    assert r.status_code == 401 and "Log in" in r.text
    r = c.get("/api/nodes")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = c.get("/data", headers={"Authorization": "Bearer wrong-token-0123456789"})
    assert r.status_code == 401
    r = c.get("/data", headers={"Authorization": f"Bearer {REG_TOKEN}"})
    assert r.status_code == 200 and "regulator" in r.text
    assert c.get("/health").status_code == 200  # no token needed to know it is up


def test_login_sets_a_cookie_and_logout_clears_it():
    c = client(TOKENS)
    r = c.post("/login", data={"token": "not-a-token-at-all"}, follow_redirects=False)
    assert r.status_code == 401 and "not valid" in r.text
    r = c.post("/login", data={"token": A_TOKEN}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "fedshare_console=" in cookie and "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    r = c.get("/tasks")
    assert r.status_code == 200 and "hospital-a" in r.text
    c.get("/logout", follow_redirects=False)
    c.cookies.clear()
    assert c.get("/tasks").status_code == 401


def test_the_regulator_reads_but_never_acts():
    c = client(TOKENS, seeds=dict(SEEDS))
    h = {"Authorization": f"Bearer {REG_TOKEN}"}
    page = c.get("/access", headers=h)
    assert page.status_code == 200 and "request-form" not in page.text
    import re
    csrf = re.search(r'name="csrf" value="([0-9a-f]*)"', c.get("/data", headers=h).text)
    r = c.post("/access", headers=h, data={"csrf": csrf.group(1) if csrf else "",
                                            "member": "hospital-a", "data_id": "ab" * 32})
    assert r.status_code == 403


def test_a_member_acts_only_as_itself_and_needs_the_form_token():
    c = client(TOKENS, seeds=dict(SEEDS))
    h = {"Authorization": f"Bearer {A_TOKEN}"}
    page = c.get("/access", headers=h).text
    assert "request-form" in page and "<option>hospital-a</option>" in page
    assert "<option>hospital-b</option>" not in page
    import re
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    form = {"csrf": csrf, "member": "hospital-b", "data_id": "ab" * 32, "action": "train",
            "purpose": "training", "days": "1", "uses": "1"}
    r = c.post("/access", headers=h, data=form)
    assert r.status_code == 403 and "may not act as hospital-b" in r.text
    r = c.post("/access", headers=h, data=dict(form, member="hospital-a", csrf="00" * 32))
    assert r.status_code == 403 and "Form expired" in r.text
    # a good form for a data set the ledger does not have: 404, nothing sent
    r = c.post("/access", headers=h, data=dict(form, member="hospital-a"))
    assert r.status_code == 404 and "Unknown data set" in r.text


def test_a_key_that_is_not_unlocked_cannot_act():
    c = client()  # local role, no key unlocked
    import re
    page = c.get("/access").text
    assert "request-form" not in page
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', c.get("/data").text)
    assert csrf is None  # no form at all
    r = c.post("/access", data={"member": "hospital-a", "data_id": "ab" * 32})
    assert r.status_code == 403


def test_cross_site_posts_and_foreign_hosts_are_refused():
    c = client(seeds=dict(SEEDS))
    r = c.post("/access", headers={"Origin": "http://evil.example"},
               data={"member": "hospital-a"})
    assert r.status_code == 403 and "another site" in r.text
    r = c.get("/", headers={"Host": "evil.example"})  # DNS rebinding
    assert r.status_code == 403 and "loopback" in r.text


@pytest.mark.parametrize("path, status, words", [
    ("/data/xyz", 400, "Malformed data ID"),
    ("/data/" + "g" * 64, 400, "Malformed data ID"),
    ("/data/" + "ab" * 33, 400, "64 hex digits"),
    ("/data/" + "ab" * 32, 404, "Unknown data set"),
    ("/tasks/123", 400, "Malformed task ID"),
    ("/tasks/" + "cd" * 32, 404, "Unknown task"),
    ("/trace?data_id=%3Cscript%3E", 400, "Malformed data ID"),
    ("/trace?member=nobody", 404, "not a member"),
    ("/trace?from=yesterday", 400, "Bad from"),
    ("/trace?from=2026-02-01&to=2026-01-01", 400, "after"),
    ("/trace?data_id=" + "ab" * 32 + "&member=hospital-a", 400, "One subject"),
    ("/no/such/page", 404, "no page"),
])
def test_bad_input_gets_a_clear_page(path, status, words):
    r = client().get(path)
    assert r.status_code == status, r.text
    assert words in r.text and "Traceback" not in r.text
    assert "<script>" not in r.text  # input is escaped, never echoed raw


def test_an_error_inside_a_page_is_a_500_page_without_a_stack_trace():
    view = StubView()

    def boom():
        raise RuntimeError("internal detail that must not leak")
    view.refresh = boom
    c = TestClient(create_app(view), raise_server_exceptions=False)
    r = c.get("/data")
    assert r.status_code == 500 and "Console error" in r.text
    assert "internal detail" not in r.text and "Traceback" not in r.text

    def down():
        raise errors.TimeoutError_("no replica answered")
    view.refresh = down
    r = c.get("/data")
    assert r.status_code == 502 and "did not answer" in r.text


def test_token_file(tmp_path):
    f = tmp_path / "tokens"
    f.write_text(f"# the console's tokens\n{REG_TOKEN} regulator\n{A_TOKEN} member hospital-a\n")
    t = load_tokens(f, NAMES)
    assert t[REG_TOKEN] == Principal("regulator") and t[A_TOKEN].member == "hospital-a"
    for bad, words in (("short regulator\n", "16 characters"),
                       (f"{A_TOKEN} member nobody\n", "not a member"),
                       (f"{A_TOKEN} admin\n", "expected"),
                       (f"{A_TOKEN} regulator\n{A_TOKEN} regulator\n", "twice"),
                       ("# nothing\n", "no tokens")):
        f.write_text(bad)
        with pytest.raises(TokenFileError, match=words):
            load_tokens(f, NAMES)


def test_a_non_loopback_bind_needs_tokens(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("chain_id " + "11" * 32 + "\nf 1\n" + "".join(
        f"replica {i} 127.0.0.1:{40000 + i} {ledger.Signer(bytes([9 + i]) * 32).public_key.hex()}\n"
        for i in range(4)) + "".join(
        f"member {n} {ledger.Signer(SEEDS[n]).public_key.hex()} roles=provider org={n}\n"
        for n in NAMES))
    r = subprocess.run([sys.executable, "-m", "fedshare", "console", "--config", str(conf),
                        "--bind", "0.0.0.0", "--port", "0"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "needs --tokens" in r.stderr
    key = tmp_path / "a.key"
    key.write_text("zz")
    r = subprocess.run([sys.executable, "-m", "fedshare", "console", "--config", str(conf),
                        "--key", f"hospital-a={key}"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "64 hex" in r.stderr
    r = subprocess.run([sys.executable, "-m", "fedshare", "console", "--config", str(conf),
                        "--key", f"nobody={key}"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "not a member" in r.stderr
    # --policy-schema: read once at start, named with its text for the policy page's diffs
    import argparse
    from fedshare import console
    sch = tmp_path / "data.cedarschema"
    sch.write_text("entity Member;")
    parser = argparse.ArgumentParser()
    console.add_parser(parser.add_subparsers())
    args = parser.parse_args(["console", "--config", str(conf), "--policy-schema", str(sch)])
    assert console.settings(args)["policy_schema"] == (str(sch), "entity Member;")
    args = parser.parse_args(["console", "--config", str(conf)])
    assert console.settings(args)["policy_schema"] is None


POLICIES = [
    """
// hospitals train, nothing else
@id("hospitals_train")
@obligation("no_export, log_access")
permit (principal is Member, action == Action::"train", resource is Dataset)
when {
  context.purpose == "training"
  && context.period_end < datetime("2030-01-01T00:00:00Z")
  && principal in [Organisation::"hospital-a", Organisation::"hospital-b"]
  && principal.credentials.contains("irb")
};
""",
    """
forbid (principal, action in [Action::"export", Action::"download"], resource is Dataset)
when { context has export_raw && context.export_raw };
permit (principal, action == Action::"read", resource)
when { (principal in Organisation::"consortium" || principal.clearance >= 3)
       && !(resource.sensitivity > 4) };
permit (principal, action, resource);
permit (principal, action == Action::"x", resource)
when { context.codes.contains([1, -2]) && context.n != -7 && context.s == "a\\"b\\\\c" };
""",
]


@pytest.mark.parametrize("text", POLICIES)
def test_policy_text_round_trips(text):
    """The console shows the text the owner wrote, byte for byte (comments included), and
    that text compiles back to the very set the ledger stores."""
    members = [ledger.Signer(SEEDS[n]).public_key for n in NAMES]
    ps = abac.CedarPolicies(text, version=3, members=members)
    shown = policytext.render(ps.encode())
    assert shown == text
    again = abac.CedarPolicies(shown, version=3, members=members)
    assert again.encode() == ps.encode()
    assert policytext.parts(ps.encode())[:2] == (3, sorted(members))


def test_policy_text_of_bad_bytes():
    ps = abac.CedarPolicies('permit (principal, action == Action::"train", resource);',
                            version=1, members=[bytes(32)])
    enc = ps.encode()
    bad_utf8 = enc[:-1] + b"\xff"
    for bad in (b"", enc[:-1], enc + b"\0", b"ABPX" + enc[4:], enc[:4] + b"\2" + enc[5:],
                bad_utf8):
        with pytest.raises(ValueError):
            policytext.render(bad)


def test_chart_has_one_point_per_round():
    svg = str(chart_svg([0.7, 0.78, 0.86]))
    assert svg.startswith("<svg") and svg.count("<circle") == 3
    assert "round 3: 0.8600" in svg
    assert "no evaluated round" in str(chart_svg([]))


class LedgerStub(StubView):
    """Three data sets (one per member), requests across them and one task of A and B."""

    def __init__(self):
        super().__init__()
        from fedshare.console.chain import Act
        k = {m.name: m.key for m in self.members}
        self.d = {n: bytes([0xD0 + i]) * 32 for i, n in enumerate(NAMES)}
        self.task_id = b"\x7a" * 32
        ix = self._index
        for i, n in enumerate(NAMES):
            ix.datasets[self.d[n]] = Act(1 + i, 0, 0, 0x0F01, k[n], bytes([i]) * 32, b"")
        self.reqs = {}
        for j, (who, whose) in enumerate((("hospital-a", "regulator"),
                                          ("hospital-b", "hospital-a"),
                                          ("regulator", "hospital-b"))):
            tx = bytes([0xE0 + j]) * 32
            ix.requests.append(Act(10 + j, 0, 0, 0x0F12, k[who], tx, b"\x01" + self.d[whose]))
            self.reqs[tx] = {"effect": "permit", "action": "train", "purpose": f"p-{who}-{whose}",
                             "t0": 0, "t1": 1, "rules": [{"id": "r"}], "obligations": []}
        ix.tasks[self.task_id] = Act(20, 0, 0, 0x0F31, k["hospital-a"], self.task_id, b"")
        self.task = {"creator": self.members[0].did, "aggregator": self.members[0].did,
                     "participants": [{"did": self.members[0].did, "data_id": "", "joined": True},
                                      {"did": self.members[1].did, "data_id": "", "joined": True}],
                     "phase": 6, "round": 0, "round_limit": 1, "stop_reason": 2, "metrics": []}

    def record(self, kind, ident, ident2=None, round=0):
        from fedshare.consortium import lib
        if kind == lib.FEDSHARE_REC_DECISION:
            return self.reqs.get(ident)
        if kind == lib.FEDSHARE_REC_TASK and ident == self.task_id:
            return self.task
        return None

    def outcome(self, tx):
        return 0


def test_a_member_sees_what_concerns_it():
    view = LedgerStub()
    app = create_app(view, tokens={A_TOKEN: Principal("member", "hospital-a"),
                                   "hospital-b-token-0123456789": Principal("member", "hospital-b"),
                                   "regulator-member-token-0123": Principal("member", "regulator"),
                                   REG_TOKEN: Principal("regulator")})
    c = TestClient(app, raise_server_exceptions=False)

    def seen(token):
        page = c.get("/access", headers={"Authorization": f"Bearer {token}"}).text
        return {p for p in ("p-hospital-a-regulator", "p-hospital-b-hospital-a",
                            "p-regulator-hospital-b") if p in page}
    assert seen(REG_TOKEN) == {"p-hospital-a-regulator", "p-hospital-b-hospital-a",
                               "p-regulator-hospital-b"}
    # a's own request, and b's request on a's data set; not the regulator's on b's
    assert seen(A_TOKEN) == {"p-hospital-a-regulator", "p-hospital-b-hospital-a"}
    assert seen("hospital-b-token-0123456789") == {"p-hospital-b-hospital-a",
                                                   "p-regulator-hospital-b"}
    tid = view.task_id.hex()
    for token, status in ((A_TOKEN, 200), ("hospital-b-token-0123456789", 200),
                          ("regulator-member-token-0123", 403), (REG_TOKEN, 200)):
        r = c.get(f"/tasks/{tid}", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == status, (token, r.text)
        listed = c.get("/tasks", headers={"Authorization": f"Bearer {token}"}).text
        assert (tid in listed) == (status == 200)


def test_proposing_a_policy_update_checks_the_text_and_signs_it():
    import re
    view = LedgerStub()
    members = [m.key for m in view.members]
    base = abac.CedarPolicies('permit (principal, action == Action::"train", resource);',
                              version=1, members=members)
    view.policy_encoding = lambda did: base.encode()
    app = create_app(view, seeds={"hospital-a": SEEDS["hospital-a"]})
    c = TestClient(app, raise_server_exceptions=False)
    did = view.d["hospital-a"].hex()
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', c.get("/access").text).group(1)
    r = c.post(f"/data/{did}/propose", data={"csrf": csrf, "member": "hospital-a",
                                              "policy": "permit (principal, action ==, resource);"})
    assert r.status_code == 400 and "does not compile" in r.text and "line 1" in r.text
    assert app.state.console.proposals == []
    text = 'permit (principal, action == Action::"read", resource);'
    r = c.post(f"/data/{did}/propose", data={"csrf": csrf, "member": "hospital-a",
                                              "policy": text}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("#proposal-1")
    (prop,) = app.state.console.proposals
    assert prop.version == 2 and set(prop.signatures) == {"hospital-a"}
    assert prop.submitted is None  # 1 of 3 members: no quorum, nothing sent
    nxt = abac.CedarPolicies.decode(prop.nxt)
    assert nxt.version == 2 and nxt.members == base.members
    # the signature is hospital-a's over (current, next): libabac accepts it as one of the set's
    pk, _ = abac.keypair(SEEDS["hospital-a"])
    with pytest.raises(errors.AccessDeniedError):  # one signature is not a quorum
        base.apply_update(base.encode_update(nxt, [(pk, prop.signatures["hospital-a"])]))


def _policy_world(base_text, policy_schema=None):
    """A console over LedgerStub whose data sets have ``base_text`` in force (version 1)."""
    import re
    from fedshare.consortium import lib
    view = LedgerStub()
    base = abac.CedarPolicies(base_text, version=1, members=[m.key for m in view.members])
    view.policy_encoding = lambda did: base.encode()
    rec = {"owner": "hospital-a", "label": "x", "description": "", "height": 1, "timestamp": 0,
           "encrypted_hash": "00" * 32, "status": "active", "uses": 0, "lineage": []}
    inner = view.record
    view.record = lambda kind, ident, *a, **k: (rec if kind == lib.FEDSHARE_REC_DATA
                                                else inner(kind, ident, *a, **k))
    app = create_app(view, seeds={"hospital-a": SEEDS["hospital-a"]},
                     policy_schema=policy_schema)
    c = TestClient(app, raise_server_exceptions=False)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', c.get("/access").text).group(1)
    return app, c, csrf, view.d["hospital-a"].hex()


def _propose(c, csrf, did, text):
    r = c.post(f"/data/{did}/propose", data={"csrf": csrf, "member": "hospital-a",
                                              "policy": text})
    assert r.status_code == 200, r.text
    return html.unescape(r.text)


TRAIN = 'permit (principal, action == Action::"train", resource)\n' \
        'when { context.purpose == "training" };'


@pytest.mark.skipif(not abac_analyze.available(), reason="libabac_analyze not built (no z3)")
def test_signers_see_what_a_policy_update_changes():
    # more permissive: "read" is newly permitted; the page shows the verdict and the request
    app, c, csrf, did = _policy_world(TRAIN)
    more = TRAIN + '\npermit (principal, action == Action::"read", resource) ' \
                   'when { context.purpose == "audit" };'
    # first as a preview: the analysis of the draft, nothing proposed or signed
    r = c.post(f"/data/{did}/preview", data={"csrf": csrf, "member": "hospital-a",
                                              "policy": more})
    page = html.unescape(r.text)
    assert r.status_code == 200 and app.state.console.proposals == []
    assert 'id="verdict-preview">permits more<' in page and 'action Action::"read"' in page
    assert more in page  # the draft stays in the text area
    page = _propose(c, csrf, did, more)
    (prop,) = app.state.console.proposals
    assert prop.analysis["state"] == "new_more_permissive"
    assert 'id="verdict-1">permits more<' in page
    assert 'action Action::"read"' in page and '"purpose": "audit"' in page
    assert "sign</button>" not in page.split('id="analysis-1"')[0]  # shown before the button
    # the request shown is one the proposal permits and version 1 denies (libabac decides)
    assert "A request the proposal permits and version 1 denies" in page
    # an equivalent rewrite (the action test moved into the condition) is "equivalent"
    rewrite = ('permit (principal, action, resource)\n'
               'when { context.purpose == "training" && action == Action::"train" };')
    page = _propose(c, csrf, did, rewrite)
    assert app.state.console.proposals[1].analysis["state"] == "equivalent"
    assert 'id="verdict-2">equivalent<' in page and "(proven)" in page
    # narrower: no more permissive, with a request version 1 permits and the proposal denies
    page = _propose(c, csrf, did, TRAIN.replace('"training"', '"training" && context.site == "a"'))
    assert 'id="verdict-3">no more permissive<' in page
    assert "A request version 1 permits and the proposal denies" in page
    # once another version is in force, the proposals over version 1 are said to be stale
    members = [m.key for m in app.state.console.view.members]
    v2 = abac.CedarPolicies(TRAIN, version=2, members=members).encode()
    app.state.console.view.policy_encoding = lambda d: v2
    page = html.unescape(c.get(f"/data/{did}").text)
    assert page.count("is no longer version 1") == 3


POLICY_SCHEMA = """
entity Member;
entity Dataset;
action train appliesTo { principal: Member, resource: Dataset, context: { purpose: String } };
action read;
"""


@pytest.mark.skipif(not abac_analyze.available(), reason="libabac_analyze not built (no z3)")
def test_the_policy_page_diff_is_under_the_console_schema():
    # `read` is declared without appliesTo: under the schema no request has it, so adding a
    # permit of `read` changes nothing; without the schema it permits more
    more = TRAIN + '\npermit (principal, action == Action::"read", resource);'
    app, c, csrf, did = _policy_world(TRAIN)
    page = _propose(c, csrf, did, more)
    assert 'id="verdict-1">permits more<' in page and "Under the schema" not in page
    app, c, csrf, did = _policy_world(TRAIN, ("data.cedarschema", POLICY_SCHEMA))
    page = _propose(c, csrf, did, more)
    (prop,) = app.state.console.proposals
    assert prop.analysis["state"] == "equivalent" and prop.analysis["schema"] == "data.cedarschema"
    assert 'id="verdict-1">equivalent<' in page
    assert "Under the schema data.cedarschema: only the requests it allows are considered" in page
    r = c.post(f"/data/{did}/preview", data={"csrf": csrf, "member": "hospital-a",
                                              "policy": more})
    assert 'id="verdict-preview">equivalent<' in html.unescape(r.text)


@pytest.mark.skipif(not abac_analyze.available(), reason="libabac_analyze not built (no z3)")
def test_a_difference_the_analyser_could_not_confirm_is_said_to_be_so():
    # the owner is the principal and reads `info` as a record where the principal's is a
    # long: the solver's model has no entity store (docs/policy-analysis.md)
    app, c, csrf, did = _policy_world('permit (principal, action, resource) when { false };')
    page = _propose(c, csrf, did, 'permit (principal, action, resource) when { '
                                  'resource.owner == principal && resource.owner.info.x == 1 '
                                  '&& principal.info == 5 };')
    (prop,) = app.state.console.proposals
    assert prop.analysis["unconfirmed"] == ["new_permits"]
    assert "Not confirmed: Possible difference (not confirmed)" in page
    assert "A request the proposal may permit and version 1 deny (not confirmed)" in page
    assert "A request the proposal permits and version 1 denies" not in page


@pytest.mark.parametrize("exc, says", [
    (abac_analyze.AnalysisUnavailable("not built"), "Policy analysis is not available"),
    (abac_analyze.AnalysisError("time limit"), "The solver gave no answer within its limit (10 s"),
])
def test_signing_stays_possible_and_says_so_without_an_analysis(monkeypatch, exc, says):
    def refuse(*a, **k):
        raise exc
    monkeypatch.setattr(abac_analyze, "policy_diff", refuse)
    app, c, csrf, did = _policy_world(TRAIN)
    page = _propose(c, csrf, did, TRAIN.replace("training", "research"))
    (prop,) = app.state.console.proposals
    assert set(prop.signatures) == {"hospital-a"}  # the proposal was made and signed
    assert says in page and "Nothing is proven" in page
    assert "permits more" not in page and "equivalent" not in page
