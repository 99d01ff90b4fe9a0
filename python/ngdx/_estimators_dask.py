"""The estimators' door for Dask arrays: scikit-learn's ``validate_data`` would compute a
Dask X into memory, so a Dask X is checked here by its metadata (the chunks are checked
on the workers by ``ngdx.fit``), and the predictions stay lazy, chunk by chunk."""

from __future__ import annotations

import numpy as np

from ._data.dask import is_dask


def any_dask(*arrays) -> bool:
    return any(is_dask(a) for a in arrays)


def fit_data(estimator, X, y):
    """(X, y) as Dask arrays, X's feature count recorded as ``validate_data`` would."""
    import dask.array as da

    X = X if is_dask(X) else da.from_array(np.asarray(X))
    if X.ndim != 2:
        raise ValueError(f"X: Expected 2D array, got an array of shape {X.shape}")
    estimator.n_features_in_ = int(X.shape[1])
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    y = y if is_dask(y) else da.from_array(np.asarray(y))
    if y.ndim != 1:
        raise ValueError(f"y: Expected a 1-D array, got shape {y.shape}")
    return X, y


def encode_classes(y):
    """(classes_, the labels' codes 0..K-1 as a lazy float64 Dask array): the distinct
    labels are found per chunk and combined (they reach the client, the labels do not)."""
    import dask.array as da

    classes = np.asarray(da.unique(y).compute())
    codes = y.map_blocks(lambda b: np.searchsorted(classes, b).astype(np.float64),
                         dtype=np.float64)
    return classes, codes


def checked_X(estimator, X):
    """A Dask X for prediction, its feature count checked against fit's."""
    if X.ndim != 2 or X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has shape {X.shape}, but {type(estimator).__name__} is expecting "
                         f"{estimator.n_features_in_} features as input")
    return X


def rowwise(f, eta, n_out):
    """f applied to each chunk of the rows of eta (n,) or (n, K): a lazy (n, n_out)."""
    return eta.map_blocks(f, dtype=np.float64, chunks=(eta.chunks[0], (n_out,)),
                          new_axis=1 if eta.ndim == 1 else None)
