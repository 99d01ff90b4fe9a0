"""Pictures of convergence (needs matplotlib: ``pip install "ngdx[plot]"``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np

if TYPE_CHECKING:  # matplotlib is an optional extra: imported for the annotations only
    from matplotlib.axes import Axes

    from ._result import FitResult

__all__ = ["convergence"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "ngdx.plot needs matplotlib, an optional extra: pip install \"ngdx[plot]\" "
            "(or, from a source checkout, pip install \".[plot]\")"
        ) from exc
    return plt


def convergence(results: FitResult | list[FitResult] | tuple[FitResult, ...],
                labels: Sequence[str] | None = None,
                x: Literal["iteration", "time"] = "iteration", ax: Axes | None = None, *,
                suboptimality: bool = True, log_x: bool = True) -> Axes:
    """Plot the objective of one or more fits against iteration or time.

    Parameters
    ----------
    results : FitResult, or a list or tuple of FitResult
        Results of [`ngdx.fit`][ngdx.fit] (their ``history``).
    labels : sequence of str, optional
        One legend label per result (default: ``"fit 0"``, ``"fit 1"``, ...).
    x : {"iteration", "time"}
        Horizontal axis: accepted steps, or seconds since each fit started.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure's).
    suboptimality : bool
        Plot ``objective - best`` on a log scale, where ``best`` is the lowest objective
        any of the results reached (default); else the objective itself.
    log_x : bool
        A logarithmic horizontal axis (symmetric-log for iterations, linear below 10), so
        that fits of 5 and of 5000 steps can be read on one plot (default True).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ImportError
        When matplotlib is not installed (it names the ``plot`` extra).
    ValueError
        On an unknown ``x`` or a number of labels that does not match.

    Examples
    --------
    >>> import numpy as np, ngdx, ngdx.plot
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3)); y = (X[:, 0] + rng.normal(size=300) > 0).astype(float)
    >>> fits = [ngdx.fit(X, y, method=m, max_iter=500) for m in ("gd", "ngd")]
    >>> ax = ngdx.plot.convergence(fits, labels=["gd", "ngd"], x="iteration")
    >>> ax.get_xlabel()
    'iteration'
    """
    if x not in ("iteration", "time"):
        raise ValueError(f"unknown x {x!r}; valid: iteration, time")
    if not isinstance(results, (list, tuple)):
        results = [results]
    if labels is None:
        labels = [f"fit {i}" for i in range(len(results))]
    if len(labels) != len(results):
        raise ValueError(f"{len(labels)} labels for {len(results)} results")
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    best = min(float(np.min(r.history["objective"])) for r in results)
    for res, label in zip(results, labels):
        loss = np.asarray(res.history["objective"], dtype=float)
        xs = np.arange(len(loss)) if x == "iteration" else np.asarray(res.history["time"])
        if suboptimality:
            gap = loss - best
            # the best point itself has gap 0: show it at the floor of the log axis
            floor = max(np.finfo(float).eps * abs(best), 1e-300)
            ys = np.maximum(gap, floor)
        else:
            ys = loss
        ax.plot(xs, ys, marker="o" if len(loss) < 30 else None, markersize=3, label=label)
    if suboptimality:
        ax.set_yscale("log")
        ax.set_ylabel("objective - best")
    else:
        ax.set_ylabel("objective")
    ax.set_xlabel("iteration" if x == "iteration" else "time (s)")
    if log_x:
        if x == "iteration":
            ax.set_xscale("symlog", linthresh=10)
            ax.set_xlim(left=0)
        else:
            ax.set_xscale("log")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return ax
