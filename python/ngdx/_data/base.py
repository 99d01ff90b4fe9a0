"""What every row source shares: the rows' labels, weights and intercept column, the
thread count, and the count of passes over the data."""

from __future__ import annotations

import numpy as np

#: Memory of one block of per-row scores in :meth:`RowSource.group_scores` (b x p floats).
SCORE_BLOCK_BYTES = 2**23


def scores_by_group(n_rows, p, block_scores, sample_weight, codes, n_groups):
    """(G, p): for each group, the sum over its rows of s_i times the row's score.
    ``block_scores(start, stop, out)`` writes the scores of rows start..stop-1 into out
    (stop - start, p), one reused buffer of SCORE_BLOCK_BYTES, so n x p is never
    allocated; ``codes`` (n,) are the rows' groups 0..G-1."""
    out = np.zeros((n_groups, p))
    block = max(1, min(n_rows, SCORE_BLOCK_BYTES // (8 * p)))
    buffer = np.empty((block, p))
    for start in range(0, n_rows, block):
        stop = min(start + block, n_rows)
        S = buffer[: stop - start]
        block_scores(start, stop, S)
        if sample_weight is not None:
            S *= sample_weight[start:stop, None]
        np.add.at(out, codes[start:stop], S)
    return out


class RowSource:
    """Base of the row sources (``ArrayRows``, ``CSRRows``, ``DaskRows``): the state their
    methods share.

    Subclasses set ``X``, ``n_rows`` and ``n_features`` and implement ``fused_pass``,
    ``fisher_vector_product``, ``curvature_weights``, ``gram``, ``column_scale``,
    ``row_gram``, ``matmul`` and ``rmatmul``, each counting its passes over X in
    ``n_passes``.
    """

    #: Whether X, y and the weights are NumPy arrays in this process (a Dask source: not).
    in_memory = True

    def __init__(self, y, sample_weight, fit_intercept, n_threads):
        self.y, self.sample_weight = y, sample_weight
        self.fit_intercept = bool(fit_intercept)
        self.n_threads = int(n_threads)
        self.n_passes = 0
        self._row_gram = None

    @property
    def nbytes(self) -> int:
        """The bytes of X (the data a pass reads)."""
        return int(self.X.nbytes)

    def compute(self, value):
        """``value`` as NumPy: an expression of this source's arrays (``matmul``'s product,
        ``y``) is already one in memory; a Dask source computes it."""
        return value

    @property
    def weight_sum(self) -> float:
        """The sum of the sample weights (n without them): the mean's denominator."""
        return float(self.n_rows if self.sample_weight is None else self.sample_weight.sum())

    def group_scores(self, model, theta, n_classes, codes, n_groups):
        """(G, p): for each group g, sum over its rows of s_i times the row's score
        (the gradient of log p(y_i | x_i, theta), in theta order), s the sample weights.

        One pass over X, block by block: a block's (b, p) scores are summed into their
        groups' rows and the block's buffer is reused, so n x p is never allocated.
        ``codes`` (n,) are the group indices 0..G-1 of the rows.
        """
        self.n_passes += 1
        return scores_by_group(
            self.n_rows, theta.size,
            lambda start, stop, S: self._block_scores(model, start, stop, theta, n_classes, S),
            self.sample_weight, codes, n_groups)

    def _block_scores(self, model, start, stop, theta, n_classes, out):
        """The scores of rows start..stop-1 into out (stop - start, p): no pass counted."""
        raise NotImplementedError
