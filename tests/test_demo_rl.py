"""``python -m ngdx demo --model rl``: TRPO, NPG and VPG on CartPole-v1."""

from __future__ import annotations

import sys

import pytest

from ngdx.__main__ import main

LABELS = ("trpo", "npg", "vpg")


def rows(out):
    """{label: the row's cells} of the rl demo's table."""
    return {line.split()[0]: line.split() for line in out.splitlines()
            if line.split() and line.split()[0] in LABELS}


def test_demo_rl_prints_a_row_per_method_and_writes_the_plot(tmp_path, capsys):
    pytest.importorskip("gymnasium")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    assert main(["demo", "--model", "rl", "--steps", "2048", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "CartPole-v1" in out and "2048 steps" in out
    table = rows(out)
    assert set(table) == set(LABELS)
    for cells in table.values():
        # method, final return, eval mean, "+-", eval std, steps to 475 or "-", time, max KL
        assert len(cells) == 8 and cells[3] == "+-"
        assert cells[5] == "-" or int(cells[5]) <= 2048
        assert 0 <= float(cells[2]) <= 500 and float(cells[6]) > 0
    # the measured KL of every update: TRPO's within max_kl = 0.01, NPG's (no line search,
    # one shrink past 1.5 max_kl) within 1.5 max_kl
    assert float(table["trpo"][7]) <= 0.01 and float(table["npg"][7]) <= 0.015
    png = tmp_path / "ngdx-demo-rl.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert str(png) in out


def test_demo_rl_without_matplotlib_prints_the_table(tmp_path, capsys, monkeypatch):
    pytest.importorskip("gymnasium")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["demo", "--model", "rl", "--steps", "1024", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert set(rows(out)) == set(LABELS) and "no plot:" in out
    assert not (tmp_path / "ngdx-demo-rl.png").exists()


def test_demo_rl_without_gymnasium_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # import gymnasium raises ImportError
    assert main(["demo", "--model", "rl", "--out", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert 'pip install ".[rl]"' in captured.err and not rows(captured.out)
    assert not list(tmp_path.iterdir())
