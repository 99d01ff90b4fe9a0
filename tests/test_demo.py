"""The first command of a new user, and the plotting function it uses."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import ngdx
from ngdx import _core
from ngdx.__main__ import main

matplotlib = pytest.importorskip("matplotlib")  # the "plot" extra, part of ".[test]"
matplotlib.use("Agg")


def test_demo_prints_the_table_and_writes_the_plot(tmp_path, capsys):
    assert main(["demo", "--n", "3000", "--d", "6", "--max-iter", "200", "--out",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for label in ("gd", "diag", "ngd (empirical Fisher)", "ngd (true Fisher)",
                  "ngd (KL trust region)", "newton"):
        assert f"\n{label} " in out
    png = tmp_path / "ngdx-demo-logistic.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert str(png) in out
    # the seeds' toy problem: separable without a penalty, converged with one
    assert "separable" in out and "l2 = 1e-3: converged=True" in out
    rows = {line[:24].strip(): line.split() for line in out.splitlines()
            if line[:24].strip() in ("gd", "ngd (true Fisher)")}
    assert rows["ngd (true Fisher)"][-1] == "True"
    assert int(rows["ngd (true Fisher)"][-5]) < int(rows["gd"][-5])  # fewer iterations


def test_demo_multinomial_includes_kfac(tmp_path, capsys):
    main(["demo", "--model", "multinomial", "--n", "2000", "--d", "4", "--max-iter", "100",
          "--out", str(tmp_path)])
    assert "\nkfac " in capsys.readouterr().out
    assert (tmp_path / "ngdx-demo-multinomial.png").exists()


MLP_LABELS = ("kfac", "ngd (exact Fisher)", "adam", "gd")


def mlp_rows(out):
    """{label: the row's cells} of the network demo's table."""
    return {line[:24].strip(): line.split() for line in out.splitlines()
            if line[:24].strip() in MLP_LABELS}


def test_demo_mlp_trains_one_network_four_ways_and_plots_the_loss(tmp_path, capsys):
    assert main(["demo", "--model", "mlp", "--n", "200", "--max-iter", "15", "--out",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "(10, 32, 3) tanh network" in out
    rows = mlp_rows(out)
    assert set(rows) == set(MLP_LABELS)
    iters = {k: int(v[-6]) for k, v in rows.items()}
    loss = {k: float(v[-4]) for k, v in rows.items()}
    passes = {k: int(v[-1]) for k, v in rows.items()}
    assert iters == dict.fromkeys(MLP_LABELS, 15)
    # the same iterations: both natural gradients far below both first-order methods
    assert max(loss["kfac"], loss["ngd (exact Fisher)"]) < 0.8 * min(loss["adam"], loss["gd"])
    assert passes["kfac"] > iters["kfac"]  # the exact-Fisher rescaling takes passes too
    png = tmp_path / "ngdx-demo-mlp.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert str(png) in out


def test_demo_mlp_without_matplotlib_prints_the_table(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    main(["demo", "--model", "mlp", "--n", "100", "--max-iter", "2", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert set(mlp_rows(out)) == set(MLP_LABELS) and "no plot:" in out
    assert not (tmp_path / "ngdx-demo-mlp.png").exists()


def test_info_and_help(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"ngdx {ngdx.__version__}" in out
    assert f"Gram kernel {_core.runtime.gram_kernel()}" in out and "portable" in out
    main([])
    assert "demo" in capsys.readouterr().out


def fits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(float)
    return [ngdx.fit(X, y, method=m, max_iter=300) for m in ("gd", "ngd")]


def test_convergence_plot_draws_one_line_per_fit():
    results = fits()
    for x in ("iteration", "time"):
        ax = ngdx.plot.convergence(results, labels=["gd", "ngd"], x=x)
        lines = ax.get_lines()
        assert [line.get_label() for line in lines] == ["gd", "ngd"]
        xs = lines[1].get_xdata()
        key = "time" if x == "time" else None
        expected = results[1].history["time"] if key else np.arange(results[1].n_iter + 1)
        np.testing.assert_allclose(xs, expected)
        assert ax.get_yscale() == "log"
        matplotlib.pyplot.close(ax.figure)


def test_convergence_plot_rejects_bad_arguments():
    results = fits()
    with pytest.raises(ValueError, match="unknown x 'epoch'; valid: iteration, time"):
        ngdx.plot.convergence(results, x="epoch")
    with pytest.raises(ValueError, match="1 labels for 2 results"):
        ngdx.plot.convergence(results, labels=["a"])


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "ngdx\[plot\]"'):
        ngdx.plot.convergence(fits())
