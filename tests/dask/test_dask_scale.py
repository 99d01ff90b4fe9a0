"""Dask inputs at scale (issue 14): data on disk streamed chunk by chunk (Zarr, a directory
of .npy files, Parquet columns) with the in-memory answer; the client's memory flat while
the workers fit an X far larger than it would hold; a worker killed mid-fit survived."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

import ngdx  # noqa: E402
from ngdx._data import dask_door  # noqa: E402


def data(n=4000, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.poisson(np.exp(X @ (0.3 * rng.normal(size=d)))).astype(float)
    return X, y


def rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b))


@pytest.fixture
def streaming(monkeypatch):
    """Nothing is persisted: every pass reads the chunks from their source."""
    monkeypatch.setattr(dask_door, "PERSIST_SHARE", 0.0)


def streamed(res):
    """Whether the fit read its rows from their source at every pass (none persisted)."""
    from ngdx._stderr import objective_of

    return objective_of(res).rows.persisted is False


def test_zarr_store_is_streamed_with_the_in_memory_answer(tmp_path, streaming):
    pytest.importorskip("zarr")
    X, y = data()
    da.to_zarr(da.from_array(X, chunks=(1000, -1)), str(tmp_path / "X.zarr"))
    Xz = da.from_zarr(str(tmp_path / "X.zarr"))
    with dask.config.set(scheduler="threads"):
        res = ngdx.fit(Xz, y, "poisson", tol=1e-10)
    assert streamed(res)
    assert rel(res.coef, ngdx.fit(X, y, "poisson", tol=1e-10).coef) < 1e-10


def test_npy_files_are_streamed_with_the_in_memory_answer(tmp_path, streaming):
    X, y = data(seed=1)
    parts = np.array_split(np.arange(X.shape[0]), 3)
    for k, idx in enumerate(parts):  # one .npy file per part, memory-mapped when read
        np.save(tmp_path / f"X{k}.npy", X[idx])
    files = sorted(tmp_path.glob("X*.npy"))
    Xd = da.concatenate([da.from_array(np.load(f, mmap_mode="r"), chunks=(500, -1))
                         for f in files])
    with dask.config.set(scheduler="threads"):
        res = ngdx.fit(Xd, y, "poisson", tol=1e-10)
    assert streamed(res)
    assert rel(res.coef, ngdx.fit(X, y, "poisson", tol=1e-10).coef) < 1e-10


def test_parquet_columns_are_streamed_with_the_in_memory_answer(tmp_path, streaming):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X, y = data(seed=2)
    names = [f"x{j}" for j in range(X.shape[1])]
    for k, part in enumerate(np.array_split(np.arange(X.shape[0]), 4)):
        table = pa.table({**{c: X[part, j] for j, c in enumerate(names)}, "y": y[part]})
        pq.write_table(table, tmp_path / f"part-{k}.parquet")
    files = sorted(tmp_path.glob("part-*.parquet"))

    def read(path, cols):
        table = pq.read_table(path, columns=cols)
        return np.column_stack([table.column(c).to_numpy() for c in cols])

    def array(cols):
        return da.concatenate([da.from_delayed(
            dask.delayed(read, pure=True)(f, cols),
            (pq.ParquetFile(f).metadata.num_rows, len(cols)), np.float64) for f in files])

    with dask.config.set(scheduler="threads"):
        res = ngdx.fit(array(names), array(["y"])[:, 0], "poisson", tol=1e-10)
    assert streamed(res)
    assert rel(res.coef, ngdx.fit(X, y, "poisson", tol=1e-10).coef) < 1e-10


def _peak_rss(stop, out):
    import psutil

    proc = psutil.Process()
    while not stop.is_set():
        out[0] = max(out[0], proc.memory_info().rss)
        time.sleep(0.01)


def test_client_memory_stays_flat_while_workers_fit_2_gb():
    psutil = pytest.importorskip("psutil")
    n, d = 5_000_000, 50  # 2 GB of float64, generated on the workers
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster):
        rng = da.random.default_rng(0)
        X = rng.standard_normal((n, d), chunks=(250_000, -1))
        beta = np.linspace(-0.5, 0.5, d)
        y = (X @ beta + rng.logistic(size=n, chunks=250_000) > 0).astype(float)
        before = psutil.Process().memory_info().rss
        stop, peak = threading.Event(), [before]
        watcher = threading.Thread(target=_peak_rss, args=(stop, peak), daemon=True)
        watcher.start()
        try:
            res = ngdx.fit(X, y, "logistic", tol=1e-8)
        finally:
            stop.set()
            watcher.join()
    assert res.converged
    assert np.max(np.abs(res.coef - beta)) < 0.05  # 5e6 rows: the true coefficients
    growth = (peak[0] - before) / 2**20
    assert growth < 200, f"the client grew by {growth:.0f} MB fitting a 2 GB X"


def test_a_worker_killed_mid_fit_is_survived():
    X, y = data(n=20_000, d=8, seed=3)
    ref = ngdx.fit(X, y, "poisson", tol=1e-10)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        killed = []

        def kill_one(result):
            if result.n_iter == 2 and not killed:
                victim = sorted(client.scheduler_info()["workers"])[0]
                try:
                    client.run(os._exit, 1, workers=[victim])
                except Exception:  # the worker dies before it answers
                    pass
                killed.append(victim)

        Xd = da.from_array(X, chunks=(2500, -1))
        res = ngdx.fit(Xd, da.from_array(y, chunks=2500), "poisson", tol=1e-10,
                       callback=kill_one)
        workers = set(client.scheduler_info()["workers"])
    assert killed and killed[0] not in workers  # it died (its nanny started another)
    assert res.converged
    assert rel(res.coef, ref.coef) < 1e-10
