"""The three-hospital experiment end to end with real nodes and the real data,
and the raw-data leak check: every byte the trainer processes send (recorded by
a TCP proxy in front of each node) and every byte the nodes store (their LMDB
files) is searched for the hospitals' records; none may appear."""
from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import threading

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from fedshare._demo import experiment  # noqa: E402


class Recorder:
    """A TCP proxy per replica that forwards both ways and keeps what clients send."""

    def __init__(self, target):
        self.target = target
        self.sent = bytearray()
        self.lock = threading.Lock()
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(64)
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            u = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(c, u, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, False), daemon=True).start()

    def _pump(self, a, b, record):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                if record:
                    with self.lock:
                        self.sent += d
                b.sendall(d)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def patterns(X: np.ndarray, y: np.ndarray):
    """What a leak of the records would look like on the wire or on disk: each raw
    non-integer value as float64 (both byte orders), each record as float32/float64 rows and
    as its CSV text, and the label vector as bytes, float32 and float64."""
    out = set()
    for row in X:
        for v in row:
            # a lone 0.0, 1.0 or 0.1 is eight bytes a stream may hold for other reasons
            # (the task's learning rate is 0.1): only values with 4+ significant digits
            # and only values whose float64 bytes are not mostly zero: 1152.0 is
            # 40 92 00 00 00 00 00 00, which is also a little-endian counter (37,440)
            # that a store may hold (blob usage); whole rows below stay exact
            if len(repr(float(v)).replace("-", "").replace(".", "").strip("0")) >= 4:
                for b in (struct.pack("<d", v), struct.pack(">d", v)):
                    if b.count(0) <= 3:
                        out.add(b)
        for dt in ("<f4", ">f4", "<f8", ">f8"):
            out.add(row.astype(dt).tobytes())
        out.add(",".join(repr(float(v)) for v in row).encode())
    for dt in ("u1", "<f4", ">f4", "<f8", ">f8"):
        out.add(y.astype(dt).tobytes())
    return out


def test_short_task_with_real_data_and_no_raw_data_leaves(tmp_path):
    exp = experiment.Experiment(tmp_path / "work", seed=3)
    recorders = []
    try:
        # trainers connect through recorders
        lines = []
        for line in exp.cons.config.read_text().splitlines():
            t = line.split()
            if t and t[0] == "replica":
                host, port = t[2].rsplit(":", 1)
                r = Recorder((host, int(port)))
                recorders.append(r)
                t[2] = f"127.0.0.1:{r.port}"
                line = " ".join(t)
            lines.append(line)
        proxied = tmp_path / "work" / "trainers.conf"
        proxied.write_text("\n".join(lines) + "\n")
        exp.trainer_config = proxied
        ds = experiment.load_default()
        res = exp.run_config(ds, None, "logreg", "even", lr=0.1, rounds=3)
        assert res.fed_rounds >= 1
        assert res.max_dev <= res.codec_bound
        assert res.fed_accuracy > 0.85 and res.central_accuracy > 0.85
        trail = experiment.trace_data(exp.cons.config, bytes.fromhex(res.data_ids[1]),
                                      exp.names)
        acts = [t["act"] for t in trail]
        assert acts[0] == "data registered" and "decryption share posted" in acts
        assert acts[-1] == "model evaluated"
        tamper = experiment.tamper_test(exp.cons, experiment.REG, 1)
        assert tamper["clean_before"] and tamper["named_block"] is not None

        sent = b"".join(bytes(r.sent) for r in recorders)
        assert len(sent) > 10000  # the trainers did talk through the recorders
        stored = b"".join((tmp_path / "work" / f"node{i}" / "data.mdb").read_bytes()
                          for i in range(4))
        # the records of each hospital, exactly as its trainer read them
        for h in range(3):
            csv = tmp_path / "work" / f"{experiment.HOSPITALS[h]}-logreg-even.csv"
            arr = np.loadtxt(csv, delimiter=",", skiprows=1)
            X, y = arr[:, :-1], arr[:, -1]
            for p in patterns(X, y):
                assert p not in sent, f"hospital {h}'s raw data went over the wire"
                assert p not in stored, f"hospital {h}'s raw data is in a node's store"
            # and the check itself finds a leak where there is one
            assert any(p in csv.read_bytes() for p in patterns(X, y))
    finally:
        exp.close()
        for r in recorders:
            r.srv.close()


def test_demo_command_errors(tmp_path):
    csvs = [tmp_path / f"{h}.csv" for h in "abc"]
    for c in csvs:
        c.write_text("x,label\n1,0\n")
    r = subprocess.run([sys.executable, "-m", "fedshare", "demo", "--data", *map(str, csvs)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "--data needs --label" in r.stderr
    r = subprocess.run([sys.executable, "-m", "fedshare", "demo", "--data", "a.csv", "b.csv",
                        "c.csv"], capture_output=True, text=True, timeout=60, cwd=tmp_path / "..")
    assert r.returncode == 2 and "a.csv: No such file" in r.stderr  # checked first, one line
    assert r.stderr.count("\n") == 1
    r = subprocess.run([sys.executable, "-m", "fedshare", "demo", "--model", "rnn"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_csv_input_is_checked(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("x,y,label\n1,2,1\n3,4,0\n")
    b = tmp_path / "b.csv"
    b.write_text("x,z,label\n1,2,1\n")
    with pytest.raises(experiment.errors.InvalidInputError):
        experiment.load_csvs([str(a), str(b), str(a)], "label")
    with pytest.raises(experiment.errors.InvalidInputError):
        experiment.load_csvs([str(a), str(a), str(a)], "nolabel")
    c = tmp_path / "c.csv"
    c.write_text("x,y,label\n1,2,7\n")
    with pytest.raises(experiment.errors.InvalidInputError):
        experiment.load_csvs([str(a), str(a), str(c)], "label")
    ds, owners = experiment.load_csvs([str(a), str(a), str(a)], "label")
    assert ds.X.shape == (6, 2) and [len(o) for o in owners] == [2, 2, 2]


def test_demo_with_four_centers_and_their_test_files(tmp_path):
    """`fedshare demo --data` with four centers' CSVs and a held-out test CSV each:
    four trainer processes, a 3-of-4 key, accuracy per center and averaged with
    95 % intervals, the stop rule read over the union of the centers' evaluation
    records."""
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    names = [n.replace(" ", "_") for n in d.feature_names]
    perm = np.random.default_rng(5).permutation(len(d.target))
    parts = np.array_split(perm, 4)  # 143, 142, 142, 142 records
    data, tests = [], []
    for h, idx in enumerate(parts):
        for kind, sub, out in (("train", idx[:110], data), ("test", idx[110:], tests)):
            path = tmp_path / f"center{h}-{kind}.csv"
            rows = [",".join(names + ["malignant"])]
            rows += [",".join(repr(float(v)) for v in d.data[i]) + f",{int(d.target[i] == 0)}"
                     for i in sub]
            path.write_text("\n".join(rows) + "\n")
            out.append(str(path))
    report = tmp_path / "report"
    r = subprocess.run([sys.executable, "-m", "fedshare", "demo", "--data", *data,
                        "--test", *tests, "--label", "malignant", "--model", "logreg",
                        "--rounds", "3", "--report", str(report), "--json"],
                       capture_output=True, text=True, timeout=900)
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    assert "the 4-center experiment" in out and "3-of-4 consortium key" in out
    # per center (A … D) and the mean over the four, for each model
    for label in ("centralized", "plain FedAvg", "encrypted"):
        line = next(x for x in out.splitlines() if x.strip().startswith(f"{label}: per center"))
        assert all(f"{c} " in line for c in "ABCD") and "mean over 4 centers" in line
        assert "95 % CI" in line
    # the stop rule's metric covers every center's evaluation records (20 % of 110 each)
    assert "stop rule on 88 evaluation records" in out
    md = (report / "report.md").read_text()
    assert "## Accuracy per center (95 % intervals)" in md
    for h in "abcd":
        assert f"| hospital-{h} (3" in md  # 33 or 32 test records each
    assert "**mean over 4 centers**" in md and "pooled test records (129)" in md
    keys = {json.loads(x)["name"]: json.loads(x)["value"] for x in out.splitlines()
            if x.startswith("{")}
    assert {"accuracy_gap_pp", "rounds_extra", "accuracy_gap_pp_pooled",
            "max_dev_encrypted_vs_plain"} <= set(keys)
    recs = {json.loads(x)["name"]: json.loads(x) for x in out.splitlines() if x.startswith("{")}
    # the gap: per-center test records, mean over the centers, with its interval
    gap = recs["accuracy_gap_pp"]
    assert gap["measured_on"] == "per-center test records, mean over centers"
    assert gap["ci95"][0] <= gap["value"] <= gap["ci95"][1] and gap["test_records"] == 129
    assert set(recs["rounds_extra"]["per_config"]) == {"logreg/given"}
    # rounds to reach the centralized model's accuracy on the per-center test records
    tgt, c, extra = recs["rounds_extra_test"]["per_config"]["logreg/given"]
    assert 0 < tgt <= 100 and 1 <= c <= 3 and (extra is None or extra >= 1 - c)
    assert "the centralized model's test accuracy at its stop" in out
    assert "gap centralized − encrypted, mean over centers" in out
    assert "PASS" in out


def test_demo_center_count_and_test_files_are_checked(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("x,label\n1,0\n2,1\n")
    r = subprocess.run([sys.executable, "-m", "fedshare", "demo", "--data", str(a),
                        "--label", "label"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "2 to 10 CSVs" in r.stderr
    r = subprocess.run([sys.executable, "-m", "fedshare", "demo", "--data", *[str(a)] * 11,
                        "--label", "label"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "not 11" in r.stderr
    r = subprocess.run([sys.executable, "-m", "fedshare", "demo", "--data", str(a), str(a),
                        "--test", str(a), "--label", "label"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "one CSV per center: 2, not 1" in r.stderr
    r = subprocess.run([sys.executable, "-m", "fedshare", "demo", "--test", str(a)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "--test needs --data" in r.stderr
    assert experiment.key_threshold(2) == 2 and experiment.key_threshold(4) == 3
    assert experiment.key_threshold(10) == 6
    lo, hi = experiment.wilson_interval(1.0, 30)
    assert hi == 1.0 and 0.88 < lo < 0.89  # 30 of 30 right: [0.886, 1]
    m, lo, hi = experiment.center_mean_interval([0.9, 1.0], [100, 30])
    assert m == pytest.approx(0.95) and lo < 0.95 < hi


def test_center_gap_interval_is_paired_and_never_empty():
    a = [np.array([1, 1, 1, 0], bool), np.array([1, 1], bool)]
    b = [np.array([1, 1, 0, 0], bool), np.array([1, 1], bool)]
    g, lo, hi = experiment.center_gap_interval(a, b)
    assert g == pytest.approx(0.125)  # (1/4 + 0) / 2 centers
    # center 0: s² = 1/4 over 4 records; center 1 agrees everywhere: 1/3 over 2
    h = 1.96 * np.sqrt((0.25 / 4 + (1 / 3) / 2) / 4)
    assert lo == pytest.approx(g - h) and hi == pytest.approx(g + h)
    g, lo, hi = experiment.center_gap_interval(b, b)
    assert g == 0 and lo < 0 < hi


def test_correct_agrees_with_the_accuracy_the_trainers_report():
    import torch

    from fedshare import torch as ft

    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 5)).astype(np.float32)
    y = (rng.random(50) < 0.5).astype(np.float32)
    for name in ("logreg", "mlp"):
        w = ft.flatten_parameters(experiment._make_model(name, 5, 4))
        model = experiment._make_model(name, 5, 9)
        ft.restore_parameters(model, w)
        c = experiment._correct(name, 5, w, X, y)
        assert c.shape == (50,) and c.mean() == ft.accuracy(model, X, y)
    del torch
