"""bench/compare_nn.py runs end to end (--quick) and its protocol does what it says.

    python -m pytest bench/test_compare_nn.py --benchmark-disable

The --quick run takes about a minute (every fit in its own process, two at a time).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import compare_nn
from _nn_problems import PROBLEMS, make, objective, teacher_params
from _nn_solvers import METHODS


def rows_of(report, problem):
    """{method: [cells]} of one problem's table in a report."""
    part = report.split(f"### {problem}:")[1].split("###")[0]
    return {cells[0]: cells[1:] for cells in
            ([c.strip() for c in line.strip("|").split("|")] for line in part.splitlines()
             if line.startswith("| ") and not line.startswith("| method"))}


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("nn") / "report.md"
    assert compare_nn.main(["--quick", "--jobs", "2", "--out", str(out)]) == 0
    return out.read_text()


def test_quick_run_fits_every_method_on_every_problem(quick_report):
    torch = compare_nn.have_torch()
    for name in PROBLEMS:
        rows = rows_of(quick_report, name)
        expected = [m for m in METHODS if torch or not m.startswith("torch")]
        assert list(rows) == expected, name
        for method, cells in rows.items():
            assert "Error" not in cells[-1] and "timeout" not in cells[-1], (name, method)
            assert "check failed" not in cells[5], (name, method)
            assert int(cells[4]) > 0  # passes over the data were counted
            score = float(cells[6])
            assert score <= 1.0


def test_the_anchor_that_sets_L_star_reaches_it_at_its_end(quick_report):
    for name in ("digits", "teacher-classification", "teacher-regression"):
        part = quick_report.split(f"### {name}:")[1]
        by = re.search(r"L\* = ([-\d.e+]+) \(the final objective of ([\w ]+)\)", part)
        assert by, name
        cells = rows_of(quick_report, name)[by.group(2)]
        assert cells[1] != "not reached" and int(cells[2]) <= int(cells[4])
        assert float(cells[5]) == pytest.approx(float(by.group(1)), rel=1e-5)


def test_the_autoencoder_compares_only_test_r2_with_scikit_learn(quick_report):
    rows = rows_of(quick_report, "digits-autoencoder")
    for method in ("sklearn adam", "sklearn sgd", "sklearn lbfgs"):
        assert rows[method][1:3] == ["n/a", "n/a"]
        assert rows[method][5] == "n/a (squared error)"
    if compare_nn.have_torch():  # PyTorch's logistic-output anchors set L*
        assert rows["ngdx kfac"][1] != "n/a"
    else:  # scikit-learn's squared error is no anchor for ngdx's objective
        section = quick_report.split("digits-autoencoder")[1]
        assert "No anchor optimizes ngdx's objective here: no L*." in section
        assert rows["ngdx kfac"][1] == "n/a"


def test_without_torch_its_methods_are_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(compare_nn, "have_torch", lambda: False)
    out = tmp_path / "report.md"
    compare_nn.main(["--quick", "--problems", "teacher-regression", "--methods",
                     "torch lbfgs", "sklearn lbfgs", "--out", str(out)])
    report = out.read_text()
    assert "Skipped (PyTorch not installed" in report and "torch lbfgs" in report
    assert list(rows_of(report, "teacher-regression")) == ["sklearn lbfgs"]


# ---------------------------------------------------------------------- the protocol
def test_time_to_target_is_the_first_point_at_or_below_it():
    run = {"points": [[0.1, 1, 3.0], [0.2, 2, None], [0.3, 4, 1.0], [0.4, 6, 0.5]]}
    assert compare_nn.to_target(run, 1.0) == (0.3, 4)
    assert compare_nn.to_target(run, 1.0 - 1e-12) == (0.3, 4)  # rounding of L*
    assert compare_nn.to_target(run, 0.4) is None


def test_best_of_grid_is_the_lowest_final_objective():
    runs = [dict(final=2.0, time=1.0, comparable=True), {"error": "x"},
            dict(final=1.0, time=5.0, comparable=True)]
    assert compare_nn.best_of_grid(runs)["final"] == 1.0
    assert compare_nn.best_of_grid([{"error": "x"}]) is None
    scores = [dict(score=0.5, comparable=False), dict(score=0.7, comparable=False)]
    assert compare_nn.best_of_grid(scores)["score"] == 0.7


def test_problems_are_deterministic_and_held_out():
    a, b = make("teacher-regression", True), make("teacher-regression", True)
    np.testing.assert_array_equal(a["X"], b["X"])
    np.testing.assert_array_equal(a["y_test"], b["y_test"])
    assert not np.isin(a["X_test"][:, 0], a["X"][:, 0]).any()
    full = PROBLEMS["teacher-classification"]
    assert [W.shape for W, _ in teacher_params(full["layer_sizes"], "relu", 1)] == [
        (50, 128), (128, 128), (128, 10)]
    digits = make("digits", True)
    assert set(np.unique(digits["y"])) == set(range(10))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 4 iterations
def test_sklearn_loss_is_ngdx_objective(tmp_path):
    """The mapping the table relies on: scikit-learn's coefs_/intercepts_ are ngdx's
    params, and its lbfgs loss (with alpha = l2 n) plus the offset is ngdx's objective."""
    from _nn_solvers import Trace, sklearn_fit

    for name in ("digits", "teacher-regression"):
        pb = make(name, True)
        trace = Trace(str(tmp_path / f"{name}.bin"))
        trace.start()
        params, _ = sklearn_fit("lbfgs")(pb, None, 1, trace)
        trace.close()
        values = [v for _, _, v, _ in trace.points]
        assert min(abs(v - objective(pb, params)) for v in values) < 1e-10
