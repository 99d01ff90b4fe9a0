"""The data's door: check X, y and the sample weights once and build their row source
(in memory: ``ArrayRows`` or ``CSRRows``; a Dask array: ``DaskRows``)."""

from __future__ import annotations

from .._validation import as_float_array, as_labels, as_rows_design, check_sample_weight
from .csr import CSRRows
from .dask import is_dask
from .dask_door import dask_rows
from .ndarray import ArrayRows


def rows_of(X, y, sample_weight, family, *, coef_init, n_classes, fit_intercept, n_threads):
    """``(rows, K, labels, weights)``: the row source of a fit's data, its number of classes
    (1 for a one-output model) and what the null-model start reads of y: the labels and
    sample weights themselves in memory, a summary of them for a Dask source."""
    if any(is_dask(a) for a in (X, y, sample_weight)):
        return dask_rows(X, y, sample_weight, family, coef_init=coef_init,
                         n_classes=n_classes, fit_intercept=fit_intercept, n_threads=n_threads)
    X, sparse = as_rows_design(X)
    n = X.shape[0]
    y_arr = as_float_array(y, "y", 1)
    K = family.n_classes(y_arr, coef_init, n_classes)
    y_arr = as_labels(y_arr, family.name, n, K)
    sw = check_sample_weight(sample_weight, n)
    source = CSRRows if sparse else ArrayRows
    rows = source(X, y_arr, sample_weight=sw, fit_intercept=fit_intercept, n_threads=n_threads)
    return rows, K, y_arr, sw
