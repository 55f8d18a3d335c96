"""A participant that left a task (retired from the consortium while the task
ran: its TASK record entry has ``"left": true``, docs/fedshare-contracts.md
§Membership "Task participants and aggregators") as the places a person looks
show it, unit level (no nodes; the task and round records are built the way
the ledger returns them as JSON):

* the verdict summary and the report's rounds x members table say "member X
  left the task in round k" and mark its later rounds "left", instead of
  counting them against it or shifting the table's columns;
* the console's task page says "left in round k" in the participants list and
  "left the task" in the round tables;
* the Flower strategy no longer waits for it or samples its node, says so
  once (a warning and ``on_left``), and a mod whose member left refuses the
  message with FEDSHARE_E_RETIRED at once rather than hanging.

The metric ``fedshare_task_participants_left`` is checked against live nodes in
tests/python/test_consortium_members.py::test_participant_retires_mid_task."""
from __future__ import annotations

import numpy as np
import pytest

from fedshare._native import code_value

A_PK, B_PK, C_PK = "aa" * 32, "bb" * 32, "cc" * 32


def _update(present: bool, norm: float = 1.0, cos: float = 0.5) -> dict:
    return {"present": present, "blob": "11" * 32 if present else "", "weight": 100 if present
            else 0, "norm": norm if present else 0.0, "cosine": cos if present else 0.0,
            "verdict": "accepted", "evaluated": present}


class _Records:
    """A 3-round task of A, B and C in which C left in round 2 (its round-2
    upload dropped when it was retired; rounds 2 and 3 ran with A and B)."""

    def __init__(self):
        self.task_id = b"\x5c" * 32
        self.task = {
            "creator": "did:key:zA", "aggregator": "did:key:zA", "anomaly_rule": "robust",
            "anomaly_k": 3.5, "anomaly_warmup": 5, "round": 3, "phase": 6, "round_limit": 3,
            "stop_reason": 2, "metrics": [0.8, 0.85, 0.9], "min_updates": 2,
            "participants": [
                {"did": "did:key:zA", "public_key": A_PK, "data_id": "d1" * 32, "joined": True},
                {"did": "did:key:zB", "public_key": B_PK, "data_id": "d2" * 32, "joined": True},
                {"did": "did:key:zC", "public_key": C_PK, "data_id": "d3" * 32, "joined": True,
                 "left": True}]}
        self.rounds = {
            1: [_update(True, 1.0), _update(True, 1.1), _update(True, 0.9)],
            2: [_update(True, 1.0), _update(True, 1.05), _update(False)],
            3: [_update(True, 0.95), _update(True, 1.0), _update(False)]}

    def record_of(self, r: int):
        if r not in self.rounds:
            return None
        return {"round": r, "updates": self.rounds[r], "shares": [], "total_weight": 200,
                "aggregates_refused": 0, "skipped": False, "sum_refused": False,
                "metric_sum": 45.0, "samples": 50}

    # the reading side of fedshare.consortium.Member
    def task_of(self, task_id):
        return self.task if bytes(task_id) == self.task_id else None


class _Member:
    def __init__(self, recs: _Records):
        self.recs = recs

    def task(self, task_id):
        return self.recs.task_of(task_id)

    def round(self, task_id, r):
        return self.recs.record_of(r)


def test_left_rounds_reads_the_round_records():
    from fedshare.verdicts import left_rounds

    recs = _Records()
    assert left_rounds(recs.task, recs.record_of) == {2: 2}
    # it left after its last update was judged (aggregate or evaluate phase of the
    # last round): the round in which it left is the task's current one
    recs.rounds[2][2] = _update(True)
    recs.rounds[3][2] = _update(True)
    assert left_rounds(recs.task, recs.record_of) == {2: 3}
    recs.task["participants"][2].pop("left")
    assert left_rounds(recs.task, recs.record_of) == {}


def test_verdict_summary_says_the_member_left_rather_than_counting_exclusions():
    """Fails on the code before: the summary said "left out in 0 of 3 rounds" with
    a remark, and the report's table shifted the remaining members' verdicts."""
    from fedshare._demo.experiment import verdict_table
    from fedshare.verdicts import format_table, summary_lines, task_verdicts

    recs = _Records()
    names = {A_PK: "hospital-a", B_PK: "hospital-b", C_PK: "hospital-c"}
    v = task_verdicts(_Member(recs), recs.task_id, names)
    assert v["retired"] == ["hospital-c"] and v["left_in"] == {"hospital-c": 2}
    assert v["took_part"] == {"hospital-a": 3, "hospital-b": 3, "hospital-c": 1}
    lines = summary_lines(v)
    assert "member hospital-a left out in 0 of 3 rounds" in lines
    assert ("member hospital-c left the task in round 2 (retired from the consortium); "
            "left out in 0 of the 1 rounds it took part in") in lines
    assert not any(x.startswith("member hospital-c left out in") for x in lines)
    assert "member hospital-c left the task in round 2" in format_table(v)

    table = verdict_table(v)
    assert table[0] == "| round | hospital-a | hospital-b | hospital-c |"
    rows = {int(x.split("|")[1].split()[0]): [c.strip() for c in x.split("|")[2:-1]]
            for x in table[2:]}
    assert rows[1] == ["✓", "✓", "✓"] or all(c in ("✓", "w") for c in rows[1])
    assert rows[2][2] == "left" and rows[3][2] == "left"
    assert len(rows[2]) == 3 and rows[2][0] != "left" and rows[2][1] != "left"


def test_console_task_page_shows_the_member_that_left():
    """Fails on the code before: the page listed C as joined, its missing
    updates as "missing", and nothing said it left."""
    from starlette.testclient import TestClient

    from fedshare.console.web import create_app
    from fedshare.consortium import lib

    from test_console import REG_TOKEN, StubView
    from fedshare.console.auth import Principal
    from fedshare.console.chain import Act

    recs = _Records()

    class View(StubView):
        def __init__(self):
            super().__init__()
            self._index.tasks[recs.task_id] = Act(20, 0, 0, 0x0F31, self.members[0].key,
                                                  recs.task_id, b"")

        def record(self, kind, ident, ident2=None, round=0):
            if kind == lib.FEDSHARE_REC_TASK and bytes(ident) == recs.task_id:
                return recs.task
            if kind == lib.FEDSHARE_REC_ROUND and bytes(ident) == recs.task_id:
                return recs.record_of(round)
            return None

        def name_of_did(self, did):
            return {"did:key:zA": "hospital-a", "did:key:zB": "hospital-b",
                    "did:key:zC": "hospital-c"}.get(did, did)

    app = create_app(View(), tokens={REG_TOKEN: Principal("regulator")})
    c = TestClient(app, raise_server_exceptions=False)
    r = c.get(f"/tasks/{recs.task_id.hex()}", headers={"Authorization": f"Bearer {REG_TOKEN}"})
    assert r.status_code == 200, r.text
    page = r.text
    assert page.count("left in round 2") == 1  # the participants list, on C's row only
    row_c = page[page.index("<td>hospital-c</td>"):]
    assert "left in round 2" in row_c[:row_c.index("</tr>")]
    # rounds 2 and 3: C's update is not "missing" but "left the task"
    assert page.count("left the task") == 2 and "missing" not in page


class _Ledger:
    """The aggregator's view of the task above, in its upload phase of round 2."""

    did = "did:key:zA"

    def __init__(self, recs: _Records, model: np.ndarray):
        from fedshare.consortium import model_digest

        self.recs = recs
        recs.task.update(phase=1, round=2, global_model=model_digest(model).hex(),
                         key_id="00" * 32, round_limit=5)
        recs.rounds.pop(3)

    def task(self, task_id):
        return self.recs.task

    def round(self, task_id, r):
        return self.recs.record_of(r)

    def wait_phase(self, task_id, r, phases, timeout):
        return self.recs.task

    def threshold_key(self, key_id):
        return object()  # a stand-in handle: nothing here decrypts


class _Grid:
    def __init__(self, nodes):
        self.nodes = nodes

    def get_node_ids(self):
        return list(self.nodes)


def _reply(node: int, error: str = "") -> "object":
    from flwr.app import Message, Metadata, MetricRecord, RecordDict
    from flwr.app.error import Error

    meta = Metadata(run_id=1, message_id=f"r{node}", src_node_id=node, dst_node_id=0,
                    reply_to_message_id=f"m{node}", group_id="1", created_at=0.0, ttl=60.0,
                    message_type="train")
    if error:
        return Message(error=Error(code=0, reason=error), metadata=meta)
    return Message(RecordDict({"metrics": MetricRecord({"num-examples": 10})}), metadata=meta)


def test_flower_strategy_no_longer_waits_for_a_participant_that_left(monkeypatch):
    """Fails on the code before: the strategy kept waiting for (and sampling) three
    nodes, and a node answering that its member left stopped the run."""
    pytest.importorskip("flwr")
    from flwr.app import ArrayRecord, ConfigRecord
    from flwr.supercore.task_identity import TaskIdentity

    # the run Flower's ServerApp would be in (messages are made for it)
    monkeypatch.setattr(TaskIdentity, "_run_id", 1)
    monkeypatch.setattr(TaskIdentity, "_node_id", 0)
    monkeypatch.setattr(TaskIdentity, "_task_id", 1)

    from fedshare import errors, flower

    model = np.zeros(3, np.float32)
    arrays = ArrayRecord([model])
    recs = _Records()
    s = flower.FedshareFedAvg(_Ledger(recs, flower.flatten(arrays)), recs.task_id)
    told = []
    s.on_left = lambda did, k: told.append((did, k))
    msgs = list(s.configure_train(2, arrays, ConfigRecord(), _Grid([1, 2, 3])))
    assert s.participants == 2 and s.min_train_nodes == 2 and s.min_available_nodes == 2
    assert s.left == {2: 2} and told == [("did:key:zC", 2)]
    assert len(msgs) == 3  # the node of C is not known yet: Flower samples every node

    # C's node answers that its member left: not a failure, and it is sent nothing more
    replies = [_reply(1), _reply(2), _reply(3, f"AccessDeniedError: round 2: this member "
                                                f"(did:key:zC) was retired from the "
                                                f"consortium and {flower.LEFT_TASK} in round 2")]
    assert flower._left_nodes(2, "train", replies) == [3]
    flower._raise_failures(2, "train", replies, 2)  # does not raise
    with pytest.raises(errors.Error, match="1 of 3 nodes failed"):
        flower._raise_failures(2, "train", replies[:2] + [_reply(3, "boom")], 2)
    s.left_nodes.add(3)
    msgs = list(s.configure_train(3, arrays, ConfigRecord(), _Grid([1, 2, 3])))
    assert sorted(int(m.metadata.dst_node_id) for m in msgs) == [1, 2]
    assert told == [("did:key:zC", 2)]  # said once


def test_flower_mod_of_a_member_that_left_refuses_at_once():
    from fedshare import errors, flower

    recs = _Records()

    class P:
        task_id = recs.task_id

        class member:
            did = "did:key:zC"
            public_key = bytes.fromhex(C_PK)

            @staticmethod
            def round(task_id, r):
                return recs.record_of(r)

    with pytest.raises(errors.AccessDeniedError, match="left the fedshare task in round 2") as e:
        flower._still_in(P, recs.task, 3)  # type: ignore[arg-type]
    assert e.value.code == code_value("FEDSHARE_E_RETIRED")
    P.member.public_key = bytes.fromhex(A_PK)
    flower._still_in(P, recs.task, 3)  # type: ignore[arg-type]  # A is still in: no error
