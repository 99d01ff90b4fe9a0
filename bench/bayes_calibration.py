"""Held-out predictive quality of ngdx.bayes (issue 12's calibration target).

    python bench/bayes_calibration.py            # prints the tables (50 splits: ~1 min)
    python bench/bayes_calibration.py --save     # writes bench/results/DATE-bayes-calibration.md

Protocol. scikit-learn's ``load_breast_cancer`` (569 x 30), a fixed stratified split (70%
train, seed 0), features standardized with the training rows' mean and sd. Bayesian
logistic regression with prior N(0, 1/alpha) on each coefficient (flat on the intercept),
alpha = 1 and alpha chosen by empirical Bayes ("auto"). Three predictive distributions
for the test rows: the MAP's plug-in probability (``ngdx.fit`` with l2 = alpha / n), the
Laplace approximation's and the variational posterior's predictive means
(``Posterior.predict(kind="mean")``). Scores on the test rows: the mean log-likelihood
(higher is better), the expected calibration error (ECE: 10 equal-width bins of the
predicted probability, the row-weighted mean |accuracy - confidence| gap; lower is
better) and the Brier score. Deterministic: no timing, no randomness beyond the split.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

N_BINS = 10


def split(seed=0, train_fraction=0.7):
    """(X_train, y_train, X_test, y_test), standardized by the training rows."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    Xa, Xb, ya, yb = train_test_split(X, y.astype(float), train_size=train_fraction,
                                      random_state=seed, stratify=y)
    mean, sd = Xa.mean(axis=0), Xa.std(axis=0)
    return (np.ascontiguousarray((Xa - mean) / sd), ya,
            np.ascontiguousarray((Xb - mean) / sd), yb)


def ece(p, y, n_bins=N_BINS):
    """Expected calibration error of P(y = 1) = p on labels y (binary reliability bins)."""
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        rows = bins == b
        if rows.any():
            total += rows.sum() * abs(y[rows].mean() - p[rows].mean())
    return total / len(y)


def scores(p, y):
    p = np.clip(p, 1e-15, 1 - 1e-15)
    loglik = float(np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))
    return dict(loglik=loglik, ece=ece(p, y), brier=float(np.mean((p - y) ** 2)))


def evaluate(alpha, seed=0):
    """{method: scores} on the test rows of split ``seed``, and the alpha used."""
    import ngdx

    Xa, ya, Xb, yb = split(seed)
    vi = ngdx.bayes.fit(Xa, ya, "logistic", prior_precision=alpha, tol=1e-10, max_iter=300)
    used = vi.prior_precision
    laplace = ngdx.bayes.fit(Xa, ya, "logistic", prior_precision=used, method="laplace")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ngdx.ConvergenceWarning)
        map_fit = ngdx.fit(Xa, ya, "logistic", l2=used / len(ya), tol=1e-10)
    out = {"MAP plug-in": scores(map_fit.predict(Xb), yb),
           "Laplace": scores(laplace.predict(Xb), yb),
           "variational (ngdx.bayes vi)": scores(vi.predict(Xb), yb)}
    return out, used, vi


def across_splits(alpha, n_splits):
    """Lines of a table: over splits 0..n_splits-1, the variational predictive's score
    minus the MAP's and Laplace's (mean +- standard error, and how often vi is better)."""
    names = ("MAP plug-in", "Laplace")
    diffs = {(m, k): [] for m in names for k in ("loglik", "ece")}
    for seed in range(n_splits):
        res, _, _ = evaluate(alpha, seed)
        vi = res["variational (ngdx.bayes vi)"]
        for m in names:
            for k in ("loglik", "ece"):
                diffs[m, k].append(vi[k] - res[m][k])
    lines = [f"### prior precision {alpha!r}: vi minus the other, over {n_splits} splits", "",
             "| against | test log-likelihood (higher: vi better) | vi better | "
             "ECE (lower: vi better) | vi better |", "|---|---|---|---|---|"]
    for m in names:
        cells = []
        for k, better in (("loglik", np.greater), ("ece", np.less)):
            d = np.array(diffs[m, k])
            cells += [f"{d.mean():+.5f} +- {d.std(ddof=1) / np.sqrt(len(d)):.5f}",
                      f"{int(better(d, 0).sum())}/{len(d)}"]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines + [""]


def report(n_splits=0):
    lines = ["# Held-out predictive quality: MAP, Laplace and variational posteriors", "",
             "`python bench/bayes_calibration.py`: load_breast_cancer, stratified 70/30 "
             "split (seed 0), standardized by the training rows; test rows: mean "
             "log-likelihood (higher is better), ECE with 10 bins and Brier score (lower is "
             "better).", ""]
    for alpha in (1.0, "auto"):
        res, used, vi = evaluate(alpha)
        lines += [f"### prior precision {alpha!r} (used: {used:.6g}; vi: {vi.n_iter} steps, "
                  f"{vi.message.split(':')[0]})", "",
                  "| predictive | test log-likelihood | ECE | Brier |", "|---|---|---|---|"]
        lines += [f"| {name} | {s['loglik']:.5f} | {s['ece']:.5f} | {s['brier']:.5f} |"
                  for name, s in res.items()]
        lines.append("")
    if n_splits:
        lines += ["## Across splits", "",
                  f"The same fits on the stratified splits with seeds 0..{n_splits - 1}: how "
                  "the one split above compares with the spread of splits.", ""]
        for alpha in (1.0, "auto"):
            lines += across_splits(alpha, n_splits)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="write bench/results/DATE-...md")
    parser.add_argument("--splits", type=int, default=50,
                        help="also compare over this many splits (0: the fixed split only)")
    args = parser.parse_args(argv)
    text = report(args.splits)
    print(text)
    if args.save:
        from compare import save_result

        save_result(text, "bayes-calibration")


if __name__ == "__main__":
    main()
