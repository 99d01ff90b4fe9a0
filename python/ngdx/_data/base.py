"""What every row source shares: the rows' labels, weights and intercept column, the
thread count, and the count of passes over the data."""

from __future__ import annotations


class RowSource:
    """Base of the row sources (``ArrayRows``, ``CSRRows``): the state their methods share.

    Subclasses set ``X``, ``n_rows`` and ``n_features`` and implement ``fused_pass``,
    ``fisher_vector_product``, ``curvature_weights``, ``gram``, ``column_scale``,
    ``row_gram``, ``matmul`` and ``rmatmul``, each counting its passes over X in
    ``n_passes``.
    """

    def __init__(self, y, sample_weight, fit_intercept, n_threads):
        self.y, self.sample_weight = y, sample_weight
        self.fit_intercept = bool(fit_intercept)
        self.n_threads = int(n_threads)
        self.n_passes = 0
        self._row_gram = None

    @property
    def weight_sum(self) -> float:
        """The sum of the sample weights (n without them): the mean's denominator."""
        return float(self.n_rows if self.sample_weight is None else self.sample_weight.sum())
