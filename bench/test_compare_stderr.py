"""bench/compare_stderr.py runs end to end (--quick) and checks its answers.

    python -m pytest bench/test_compare_stderr.py --benchmark-disable
"""

from __future__ import annotations

import pytest

import compare_stderr

pytest.importorskip("statsmodels")


def test_quick_run_agrees_with_statsmodels(tmp_path):
    out = tmp_path / "report.md"
    assert compare_stderr.main(["--quick", "--out", str(out)]) == 0
    report = out.read_text()
    rows = {cells[0]: cells[1:] for cells in
            ([c.strip() for c in line.strip("|").split("|")] for line in report.splitlines()
             if line.startswith("| ") and not line.startswith("| library"))}
    assert list(rows) == ["ngdx", "statsmodels"]
    for name, cells in rows.items():
        assert "check failed" not in cells[5] and float(cells[5].split()[0]) <= 1e-5, name
        assert float(cells[2]) > 0, name
    assert int(rows["ngdx"][4]) <= 1  # at most one pass over X for the standard errors
    assert "Speedup of fit + standard errors:" in report


def test_check_fails_when_the_answers_differ():
    r = dict(fit=1.0, se=0.1, se_passes=1, n_iter=3, foreign=0.0)
    rows = compare_stderr.table({"ngdx": dict(r, bse=[1.0, 2.0]),
                                 "statsmodels": dict(r, bse=[1.0, 2.001], se_passes=None)})
    assert sum("check failed" in row for row in rows) == 2
