"""fedshare.data: the loader of the centers' own CSVs — each form clinical files
take, each refusal naming file, line and column, and scaling per center."""
from __future__ import annotations

import numpy as np
import pytest

from fedshare import data, errors


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def load(paths, **kw):
    return data.load_centers(paths, data.LoadOptions(**kw))


def test_header_and_zero_one_label(tmp_path):
    a = write(tmp_path, "a.csv", "age,bp,sick\n50,120,1\n40,110,0\n")
    b = write(tmp_path, "b.csv", "age,bp,sick\n60,130,0\n")
    t = load([a, b], label="sick")
    assert t.feature_names == ["age", "bp"]
    assert t.X.tolist() == [[50, 120], [40, 110], [60, 130]]
    assert t.y.tolist() == [1, 0, 0]
    assert [o.tolist() for o in t.owners] == [[0, 1], [2]]
    assert t.ledger_label == "records-sick" and "breast" not in t.source


@pytest.mark.parametrize("marker", ["?", "", "NA"])
def test_missing_markers_dropped_and_counted(tmp_path, marker):
    a = write(tmp_path, "a.csv", f"age,bp,sick\n50,{marker},1\n40,110,0\n{marker},1,1\n")
    t = load([a], label="sick")
    assert t.X.tolist() == [[40, 110]]
    c = t.counts[0]
    assert (c["rows"], c["kept"], c["dropped_missing"]) == (3, 1, 2)
    assert c["missing_by_column"] == {"bp": 1, "age": 1}


def test_missing_imputed_with_the_centers_own_mean(tmp_path):
    a = write(tmp_path, "a.csv", "age,sick\n10,1\n?,0\n30,1\n")
    b = write(tmp_path, "b.csv", "age,sick\n100,1\nNA,0\n")
    t = load([a, b], label="sick", missing="impute")
    # center a's mean is 20, center b's 100: never the pooled mean
    assert t.X[:, 0].tolist() == [10, 20, 30, 100, 100]
    assert [c["imputed"] for c in t.counts] == [1, 1]


def test_missing_refused_names_file_line_column(tmp_path):
    a = write(tmp_path, "a.csv", "age,bp,sick\n50,120,1\n40,?,0\n")
    with pytest.raises(errors.InvalidInputError, match=r"a\.csv:3: column 'bp': missing"):
        load([a], label="sick", missing="refuse")


def test_missing_label_row_dropped(tmp_path):
    a = write(tmp_path, "a.csv", "age,sick\n1,1\n2,?\n3,0\n")
    t = load([a], label="sick")
    assert t.X[:, 0].tolist() == [1, 3] and t.counts[0]["dropped_label"] == 1


def test_file_without_header_needs_and_takes_column_names(tmp_path):
    a = write(tmp_path, "a.csv", "63,1,2\n67,0,0\n")
    t = load([a], label="num", header=False, columns=["age", "sex", "num"], positive=">0")
    assert t.feature_names == ["age", "sex"] and t.y.tolist() == [1, 0]
    with pytest.raises(errors.InvalidInputError, match="--columns"):
        load([a], label="num", header=False)


def test_label_rules(tmp_path):
    a = write(tmp_path, "a.csv", "x,num\n1,0\n2,1\n3,4\n4,2\n")
    assert load([a], label="num", positive=">0").y.tolist() == [0, 1, 1, 1]
    assert load([a], label="num", positive=">=2").y.tolist() == [0, 0, 1, 1]
    assert load([a], label="num", positive="2,4").y.tolist() == [0, 0, 1, 1]
    b = write(tmp_path, "b.csv", "x,diagnosis\n1,M\n2,B\n")
    assert load([b], label="diagnosis", positive="M").y.tolist() == [1, 0]
    # a 0-4 label without a rule is refused, naming where
    with pytest.raises(errors.InvalidInputError, match=r"a\.csv:4: column 'num'.*--positive"):
        load([a], label="num")
    with pytest.raises(errors.InvalidInputError, match="not a number"):
        load([a], label="num", positive=">x")


def test_categorical_one_hot(tmp_path):
    a = write(tmp_path, "a.csv", "cp,age,sick\n2,50,1\n1,40,0\n")
    b = write(tmp_path, "b.csv", "cp,age,sick\n4,60,1\n")
    t = load([a, b], label="sick", categorical=["cp"])  # categories found in the files
    assert t.feature_names == ["cp=1", "cp=2", "cp=4", "age"]
    assert t.X.tolist() == [[0, 1, 0, 50], [1, 0, 0, 40], [0, 0, 1, 60]]
    t = load([a, b], label="sick", categorical=["cp=1|2|3|4"])  # given
    assert t.feature_names[:4] == ["cp=1", "cp=2", "cp=3", "cp=4"]
    with pytest.raises(errors.InvalidInputError, match=r"b\.csv:2: column 'cp': '4' is not one"):
        load([a, b], label="sick", categorical=["cp=1|2"])


@pytest.mark.parametrize("bad,what", [("abc", "not a number"), ("nan", "not a finite"),
                                      ("inf", "not a finite"), ("-Infinity", "not a finite"),
                                      ("1e999", "not a finite")])
def test_unusable_values_refused_naming_file_line_column(tmp_path, bad, what):
    a = write(tmp_path, "a.csv", "age,bp,sick\n50,120,1\n")
    b = write(tmp_path, "b.csv", f"age,bp,sick\n50,120,1\n40,{bad},0\n")
    with pytest.raises(errors.InvalidInputError, match=rf"b\.csv:3: column 'bp': .*{what}"):
        load([a, b], label="sick")


def test_structure_refusals(tmp_path):
    a = write(tmp_path, "a.csv", "age,sick\n1,0\n")
    b = write(tmp_path, "b.csv", "age,bp,sick\n1,2,0\n")
    with pytest.raises(errors.InvalidInputError, match="columns differ"):
        load([a, b], label="sick")
    c = write(tmp_path, "c.csv", "age,sick\n1,0,5\n")
    with pytest.raises(errors.InvalidInputError, match=r"c\.csv:2: 3 fields"):
        load([c], label="sick")
    with pytest.raises(errors.InvalidInputError, match="no column named 'label'"):
        load([a], label="label")
    d = write(tmp_path, "d.csv", "age,sick\n?,0\n")
    with pytest.raises(errors.InvalidInputError, match="no usable rows"):
        load([d], label="sick")


def test_scaling_per_center_never_pooled():
    X = np.array([[0.0], [2.0], [100.0], [104.0]])
    owners = [np.array([0, 1]), np.array([2, 3])]
    Z, sc = data.scale(X, owners, owners)
    assert Z[:, 0].tolist() == [-1, 1, -1, 1]  # each center around its own mean
    assert sc[0]["mean"] == [1.0] and sc[1]["mean"] == [102.0]
    Zf, scf = data.scale(X, owners, owners, mode="federated")
    mu, sd = X.mean(), X.std()
    assert np.allclose(Zf[:, 0], (X[:, 0] - mu) / sd, atol=1e-6)  # from per-center sums
    assert scf[0] == scf[1]
    with pytest.raises(errors.InvalidInputError):
        data.scale(X, owners, owners, mode="pooled")


# --- `fedshare train` reads a member's clinical CSV the same way ---------------


def train_args(tmp_path, csv, *extra):
    from fedshare._cli.train import build_parser

    key = tmp_path / "k"
    key.write_text("ab" * 32)
    conf = tmp_path / "c.conf"
    conf.write_text("")
    return build_parser().parse_args(["--config", str(conf), "--key", str(key), "--task",
                                      "cd" * 32, "--data", str(csv), *extra])


def test_train_reads_clinical_csvs(tmp_path, capsys):
    from fedshare._cli.train import _load_data

    csv = tmp_path / "m.csv"
    csv.write_text("63,2,?,0\n67,4,286,2\n37,3,250,0\n41,2,204,1\n")
    args = train_args(tmp_path, csv, "--label", "num", "--no-header", "--columns",
                      "age,cp,chol,num", "--positive", ">0", "--categorical", "cp=1|2|3|4",
                      "--missing", "drop")
    X, y, names = _load_data(args)
    assert names == ["age", "cp=1", "cp=2", "cp=3", "cp=4", "chol"]
    assert X.tolist() == [[67, 0, 0, 0, 1, 286], [37, 0, 0, 1, 0, 250], [41, 0, 1, 0, 0, 204]]
    assert y.tolist() == [1, 0, 1]
    assert "4 rows, 3 kept (1 dropped for a missing value" in capsys.readouterr().err


def test_train_refuses_naming_file_line_column(tmp_path, capsys):
    from fedshare._cli.train import main as train_main

    csv = tmp_path / "m.csv"
    csv.write_text("age,chol,num\n63,233,0\n67,inf,2\n")
    conf, key = tmp_path / "c.conf", tmp_path / "k"
    conf.write_text("")
    key.write_text("ab" * 32)
    base = ["--config", str(conf), "--key", str(key), "--task", "cd" * 32, "--data", str(csv),
            "--label", "num"]
    assert train_main(base + ["--positive", ">0"]) == 2
    err = capsys.readouterr().err
    assert "m.csv:3: column 'chol'" in err and "not a finite number" in err
    assert err.count("\n") == 1  # one line, nothing sent
    assert train_main(base + ["--positive", ">0", "--categorical", "cp"]) == 2
    assert "the same at every member" in capsys.readouterr().err
    sc = tmp_path / "s.json"
    sc.write_text('{"mean": [0, 0], "std": [1, 1]}')
    assert train_main(base + ["--scale", str(sc), "--scale-own"]) == 2
    assert "give one" in capsys.readouterr().err
