"""bench/bayes_calibration.py: its scores are what they say, and its protocol runs."""

import numpy as np
import pytest

import bayes_calibration as bc


def test_ece_by_hand():
    # bins [0.1, 0.2): p 0.15 twice, labels 0, 1 -> |0.5 - 0.15| = 0.35 on 2 rows;
    # bin [0.9, 1.0]: p 0.95 and 1.0, labels 1, 1 -> |1 - 0.975| = 0.025 on 2 rows
    p = np.array([0.15, 0.15, 0.95, 1.0])
    y = np.array([0.0, 1.0, 1.0, 1.0])
    assert bc.ece(p, y) == pytest.approx((2 * 0.35 + 2 * 0.025) / 4, abs=1e-15)
    assert bc.ece(np.full(4, 0.5), np.array([0.0, 1.0, 0.0, 1.0])) == pytest.approx(0.0)


def test_scores_and_split():
    pytest.importorskip("sklearn")
    s = bc.scores(np.array([0.9, 0.2]), np.array([1.0, 0.0]))
    assert s["loglik"] == pytest.approx((np.log(0.9) + np.log(0.8)) / 2)
    assert s["brier"] == pytest.approx((0.01 + 0.04) / 2)
    Xa, ya, Xb, yb = bc.split()
    assert Xa.shape == (398, 30) and Xb.shape == (171, 30)
    np.testing.assert_allclose(Xa.mean(axis=0), 0.0, atol=1e-12)
    out, used, vi = bc.evaluate(1.0)
    assert used == 1.0 and vi.converged
    assert set(out) == {"MAP plug-in", "Laplace", "variational (ngdx.bayes vi)"}
