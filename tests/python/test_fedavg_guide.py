"""The Python example of docs/guides/fedavg.md runs as written."""
import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "fedavg.md"


def test_guide_python_example_runs():
    code = re.search(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S).group(1)
    ns: dict = {}
    exec(compile(code, str(GUIDE), "exec"), ns)
    assert ns["codec"].slot_bits == 32 and ns["codec"].values_per_plaintext == 63
    assert list(ns["verdicts"]) == [2, 2, 2]
    assert ns["F"].stop_decision([0.80, 0.8005, 0.801, 0.8015]) == "converged"
    assert len(ns["pid"]) == 32
