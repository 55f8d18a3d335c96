"""The console in a real browser (Debian's headless chromium driven by selenium
through Debian's chromedriver) against a live consortium: four node processes,
three hospitals' data sets and policies, access decisions, a task of two
encrypted rounds (console_world.py), and `fedshare console` as its own process.
Every page is opened and its content checked against the ledger; an access
request is submitted and a policy update signed from the browser; the chain
check names the first bad block of a tampered copy. Screenshots of each page
land in the test's temporary folder (screenshots/)."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from fedshare import ledger
from fedshare.consortium import config_ledger_text, lib
from fedshare.node import node_argv

from console_world import A, AGG, B, C, REG, ROUNDS, build
from fedshare_cluster import MEMBERS, Consortium, free_port

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
UNLOCKED = (A, B, C, AGG)  # four of five members: a policy update can reach its quorum here


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console")
    cons = Consortium(tmp)
    proc = None
    try:
        cons.start_all()
        w = build(cons)
        # a consistent copy of node 0's store with the data sets' label changed in it
        tampered = tmp / "tampered"
        tampered.mkdir()
        subprocess.run(["mdb_copy", str(tmp / "data0"), str(tampered)], check=True, timeout=60)
        raw = (tampered / "data.mdb").read_bytes()
        assert raw.count(b"ehr-synthetic") >= 3
        (tampered / "data.mdb").write_bytes(raw.replace(b"ehr-synthetic", b"EHR-SYNTHETIC"))
        args = [sys.executable, "-m", "fedshare", "console", "--config", str(cons.config),
                "--port", "0", "--store", f"node0={tmp / 'data0'}",
                "--store", f"tampered={tampered}"]
        for i in UNLOCKED:
            name = MEMBERS[i][0]
            (tmp / f"{name}.seed").write_text(cons.seeds[i].hex())
            args += ["--key", f"{name}={tmp / (name + '.seed')}"]
        for i, port in cons.metrics.items():
            args += ["--metrics", f"{i}={port}"]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                stderr=open(tmp / "console.log", "wb"), start_new_session=True)
        line = proc.stdout.readline().decode()  # 'console http://127.0.0.1:PORT/' once serving
        assert line.startswith("console http://127.0.0.1:"), (tmp / "console.log").read_text()
        w.url = line.split()[1].rstrip("/")
        w.shots = tmp / "screenshots"
        w.shots.mkdir()
        w.lc = ledger.Client(ledger.Config(config_ledger_text(cons.config)))
        w.lc.read_mode = "linearizable"
        yield w
        w.lc.close()
        for m in w.members:
            m.close()
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        cons.close()


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM and CHROMEDRIVER, "Debian's chromium and chromium-driver are needed (make deps)"
    opts = Options()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,1100", "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def open_page(drv, w, path: str, shot: str):
    drv.get(w.url + path)
    drv.save_screenshot(str(w.shots / f"{shot}.png"))
    return drv


def cells(drv, table_id: str):
    return [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in drv.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")]


def test_consortium_page_members_nodes_and_live_height(world, browser):
    w, drv = world, open_page(browser, world, "/", "consortium")
    rows = cells(drv, "members")
    assert [r[0] for r in rows] == [n for n, _, _ in MEMBERS]
    assert [r[1] for r in rows] == [m.did for m in w.members]
    nodes = cells(drv, "nodes")
    assert len(nodes) == 4 and all("up" in r[2] for r in nodes)
    top = w.lc.height()
    assert all(int(r[3]) >= top - 1 and r[5] == "3" for r in nodes)  # height, peers
    # live: a new act elsewhere shows up without reloading the page
    now = int(time.time())
    w.members[C].request_access(w.data[A], "train", "training", now, now + 600)
    target = w.lc.height()
    WebDriverWait(drv, 30).until(
        lambda d: int(d.find_element(By.ID, "height").text) >= target)
    drv.save_screenshot(str(w.shots / "consortium-live.png"))


def test_data_sets_page_matches_the_registry(world, browser):
    w, drv = world, open_page(browser, world, "/data", "datasets")
    rows = {r[0]: r for r in cells(drv, "datasets")}
    assert set(rows) == {d.hex() for d in w.data}
    for i, d in zip((A, B, C), w.data):
        rec = w.members[REG].data(d)
        r = rows[d.hex()]
        assert r[1] == MEMBERS[i][0] and r[2] == rec["label"] and r[3] == str(rec["height"])


def test_data_set_page_policy_versions_and_requests(world, browser):
    w = world
    drv = open_page(browser, w, f"/data/{w.data[B].hex()}", "dataset")
    pol = drv.find_element(By.ID, "policy").text
    assert ("permit (principal is Member, action == Action::\"train\", resource is Dataset)"
            in pol)
    assert '@id("hospitals_train")' in pol and '@obligation("no_export")' in pol
    versions = cells(drv, "versions")
    assert versions[0][:2] == ["1", "policy set"] and "applied" in versions[0][4]
    assert "hospital-b" in versions[0][5]  # the owner's first version
    reqs = cells(drv, "requests")
    effects = sorted(r[5] for r in reqs)
    assert effects == ["deny", "permit"]  # the marketing request and the training one
    permit = next(r for r in reqs if r[5] == "permit")
    assert permit[6].strip() == "hospitals_train" and permit[7].strip() == "no_export"


def test_access_request_from_the_browser(world, browser):
    w = world
    drv = open_page(browser, w, "/access", "access")
    before = len(w.lc.trace(lib.FEDSHARE_TRACE_MEMBER, w.members[B].public_key))
    Select(drv.find_element(By.NAME, "member")).select_by_visible_text("hospital-b")
    Select(drv.find_element(By.NAME, "data_id")).select_by_value(w.data[C].hex())
    drv.find_element(By.ID, "submit-request").click()
    WebDriverWait(drv, 60).until(lambda d: d.find_elements(By.ID, "effect"))
    drv.save_screenshot(str(w.shots / "decision.png"))
    assert drv.find_element(By.ID, "effect").text == "permit"
    assert "hospitals_train" in drv.page_source
    # on the ledger: one more act of hospital-b, an access request with a permit decision
    trail = w.lc.trace(lib.FEDSHARE_TRACE_MEMBER, w.members[B].public_key)
    assert len(trail) == before + 1
    h, i = trail[-1]
    tx = w.lc.block(h).transactions[i]
    assert tx.op == lib.FEDSHARE_OP_ACCESS_REQUEST and tx.payload[1:33] == w.data[C]
    d = w.members[REG].decision(tx.hash)
    assert d["effect"] == "permit" and d["rules"] and d["height"] == h
    # and the access page lists it
    drv = open_page(browser, w, "/access", "access-after")
    assert drv.find_element(By.CSS_SELECTOR, f'tr[data-tx="{tx.hash.hex()}"]')


def test_task_page_rounds_and_chart(world, browser):
    w = world
    drv = open_page(browser, w, f"/tasks/{w.task.hex()}", "task")
    t = w.members[REG].task(w.task)
    assert "done" in drv.find_element(By.ID, "phase").text
    rounds = drv.find_elements(By.CSS_SELECTOR, ".round")
    assert len(rounds) == ROUNDS == t["round"]
    for r, el in enumerate(rounds, start=1):
        rec = w.members[REG].round(w.task, r)
        hashes = [e.text for e in el.find_elements(By.CSS_SELECTOR, ".update-hash")]
        assert hashes == [u["blob"] for u in rec["updates"]]
        verdicts = [e.text for e in el.find_elements(By.CSS_SELECTOR, ".verdict")]
        assert verdicts == [u["verdict"] for u in rec["updates"]]
        assert el.find_element(By.CSS_SELECTOR, ".aggregate").text == rec["aggregate"]
    chart = drv.find_element(By.CSS_SELECTOR, "#chart svg")
    assert len(chart.find_elements(By.TAG_NAME, "circle")) == ROUNDS
    shown = [e.text for e in drv.find_elements(By.CSS_SELECTOR, ".metric")]
    assert shown == [f"{x:.4f}" for x in t["metrics"]] == [f"{x:.4f}" for x in w.metrics]
    drv = open_page(browser, w, "/tasks", "tasks")
    assert cells(drv, "tasks")[0][0] == w.task.hex()


def test_trace_page_checks_every_inclusion_proof(world, browser):
    w = world
    drv = open_page(browser, w, f"/trace?data_id={w.data[B].hex()}", "trace")
    rows = cells(drv, "trace")
    trail = w.lc.trace(lib.FEDSHARE_TRACE_DATA, w.data[B])
    assert [(int(r[0]), int(r[1])) for r in rows] == trail
    assert rows[0][3] == "data registered" and rows[0][4] == "hospital-b"
    assert all(r[7] == "✓ checked" for r in rows)
    assert "each inclusion proof checked" in drv.find_element(By.ID, "trace-summary").text
    # by member through the form
    drv = open_page(browser, w, "/trace", "trace-form")
    Select(drv.find_element(By.NAME, "member")).select_by_visible_text("aggregator")
    drv.find_element(By.CSS_SELECTOR, "#trace-form button").click()
    WebDriverWait(drv, 30).until(lambda d: d.find_elements(By.ID, "trace-summary"))
    rows = cells(drv, "trace")
    assert len(rows) == len(w.lc.trace(lib.FEDSHARE_TRACE_MEMBER, w.members[AGG].public_key))
    assert {r[4] for r in rows} == {"aggregator"}
    # a time range alone: every act in it; a data set's trail after its last act: none
    top = w.lc.height()
    drv = open_page(browser, w, "/trace?from=2000-01-01", "trace-time")
    rows = [r for r in cells(drv, "trace") if int(r[0]) <= top]
    assert len(rows) == sum(len(w.lc.block(h).transactions) for h in range(1, top + 1))
    assert "each inclusion proof checked" in drv.find_element(By.ID, "trace-summary").text
    last = w.lc.block(w.lc.trace(lib.FEDSHARE_TRACE_DATA, w.data[B])[-1][0]).timestamp
    drv = open_page(browser, w, f"/trace?data_id={w.data[B].hex()}&from={last // 1000 + 1}",
                    "trace-empty")
    assert cells(drv, "trace") == [] and ": 0 acts" in drv.find_element(By.ID, "trace-summary").text
    # a refused act says why
    drv = open_page(browser, w, f"/trace?data_id={w.data[B].hex()}", "trace")
    assert any("refused (-512: " in r[5] for r in cells(drv, "trace"))


def test_chain_check_names_the_first_bad_block(world, browser):
    w = world
    drv = open_page(browser, w, "/chain", "chain-before")
    drv.find_element(By.ID, "run-check").click()
    WebDriverWait(drv, 60).until(lambda d: d.find_elements(By.ID, "chain"))
    drv.save_screenshot(str(w.shots / "chain.png"))
    rows = {r[0]: r for r in cells(drv, "chain")}
    assert rows["node0"][1] == "verifies" and rows["node0"][2] == ""
    first = min(w.members[REG].data(d)["height"] for d in w.data)
    assert rows["tampered"][1] == "FAILS" and rows["tampered"][2] == str(first)


def test_policy_update_signed_by_a_quorum_in_the_browser(world, browser):
    w = world
    did = w.data[C].hex()
    drv = open_page(browser, w, f"/data/{did}", "policy-before")
    area = drv.find_element(By.NAME, "policy")
    text = area.get_attribute("value").replace('"training"', '"research"')
    area.clear()
    area.send_keys(text)
    Select(drv.find_element(By.CSS_SELECTOR, "#propose select")) \
        .select_by_visible_text("hospital-c")
    from fedshare import abac_analyze

    def analysed(ident):
        if not abac_analyze.available():
            assert "not available" in drv.find_element(By.ID, f"analysis-{ident}").text
            return
        verdict = drv.find_element(By.ID, f"verdict-{ident}").text
        assert verdict == "permits more and denies some", verdict
        shown = [e.text for e in
                 drv.find_elements(By.CSS_SELECTOR, f"#analysis-{ident} pre.request")]
        assert '"purpose": "research"' in shown[0] and '"purpose": "training"' in shown[1]
        assert '"period_end": datetime("' in shown[0]  # written as in Cedar, not as JSON
    # the proposer sees what the draft changes against version 1 before signing anything
    drv.find_element(By.ID, "preview-button").click()
    WebDriverWait(drv, 30).until(lambda d: d.find_elements(By.ID, "analysis-preview"))
    drv.save_screenshot(str(w.shots / "policy-preview.png"))
    analysed("preview")
    assert not drv.find_elements(By.ID, "proposal-1")  # nothing proposed or signed yet
    assert '"research"' in drv.find_element(By.NAME, "policy").get_attribute("value")
    drv.find_element(By.ID, "propose-button").click()
    # before anyone else signs, the proposal's card shows the same analysis
    WebDriverWait(drv, 30).until(lambda d: d.find_elements(By.ID, "analysis-1"))
    drv.save_screenshot(str(w.shots / "policy-proposed.png"))
    analysed(1)
    for signer in ("hospital-a", "hospital-b", "aggregator"):  # 4 of 5 > 2/3
        WebDriverWait(drv, 30).until(lambda d: d.find_elements(By.ID, "proposal-1"))
        form = drv.find_element(By.CSS_SELECTOR, "#proposal-1 form")
        Select(form.find_element(By.NAME, "member")).select_by_visible_text(signer)
        form.find_element(By.TAG_NAME, "button").click()
    WebDriverWait(drv, 60).until(lambda d: "applied in transaction" in d.page_source)
    drv.save_screenshot(str(w.shots / "policy-after.png"))
    assert "(version 2)" in drv.page_source
    assert '"research"' in drv.find_element(By.ID, "policy").text
    v2 = cells(drv, "versions")[-1]
    assert v2[0] == "2" and "applied" in v2[4]
    assert all(n in v2[5] for n in ("hospital-a", "hospital-b", "hospital-c", "aggregator"))
    # the ledger holds version 2, and its hash is what the page showed
    from fedshare import abac
    enc = bytes.fromhex(w.members[REG].record(lib.FEDSHARE_REC_POLICY, w.data[C])["policy"])
    assert abac.CedarPolicies.decode(enc).version == 2
    assert hashlib.sha256(enc).digest() == abac.CedarPolicies.decode(enc).hash()


def test_bad_input_pages_in_the_browser(world, browser):
    w = world
    drv = open_page(browser, w, "/data/not-a-data-id", "bad-data-id")
    assert "Malformed data ID" in drv.page_source and "Traceback" not in drv.page_source
    drv = open_page(browser, w, "/tasks/" + "ab" * 32, "unknown-task")
    assert "Unknown task" in drv.page_source
    assert re.search(r"no task has the ID (ab){32}", drv.find_element(By.ID, "problem").text)


def test_node_serves_the_console_beside_it(tmp_path):
    """`fedshare node --console 0`: a read-only console in the node's process, with the
    node's own metrics; it stops with the node."""
    import json
    import urllib.error
    import urllib.request

    cons = Consortium(tmp_path)
    proc = None
    try:
        for i in (1, 2, 3):
            cons.start(i)
        port = cons.metrics.setdefault(0, free_port())
        argv = node_argv(cons.config, id=0, key=tmp_path / "node0.key",
                         data_dir=tmp_path / "data0", sync=False, metrics_port=port,
                         extra=["--console", "0"])
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                stderr=open(tmp_path / "node0.log", "wb"), start_new_session=True)
        assert proc.stdout.readline().startswith(b"ready 0 ")
        line = proc.stdout.readline().decode()
        assert line.startswith("console http://127.0.0.1:"), (tmp_path / "node0.log").read_text()
        url = line.split()[1]
        page = urllib.request.urlopen(url, timeout=30).read().decode()
        assert all(did in page for did in _dids(cons))
        nodes = json.loads(urllib.request.urlopen(url + "api/nodes", timeout=30).read())
        assert nodes["nodes"][0]["up"] is True and nodes["nodes"][1]["up"] is None
        assert nodes["nodes"][0]["metrics"]["fedshare_peers"] == 3
        with pytest.raises(urllib.error.HTTPError) as e:  # read-only: no key, no act
            urllib.request.urlopen(urllib.request.Request(url + "access", data=b"member=x"),
                                   timeout=30)
        assert e.value.code == 403
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=5)
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        cons.close()


def _dids(cons):
    from fedshare.did import did_from_public_key
    return [did_from_public_key(cons.public_key(i)) for i in range(len(MEMBERS))]
