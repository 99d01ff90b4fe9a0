"""Where the tasks of a pass over a Dask array run: one task per chunk, or, on a
distributed cluster that holds the chunks, one task per worker thread over the chunks
that worker holds (a task costs a few ms of scheduling and messages, a chunk's pass tens
of ms). Either way the results come back per chunk, in chunk order, so that sums over
them do not depend on where anything ran."""

from __future__ import annotations

import numpy as np


def _dask():
    """(dask, dask.array), imported on first use: Dask is an optional dependency."""
    try:
        import dask
        import dask.array as da
    except ImportError:  # pragma: no cover - exercised without the extra
        raise ImportError("Dask inputs need dask: pip install 'ngdx[dask]'") from None
    return dask, da


def _each(fn, chunk_args):
    """fn over several chunks on one worker, in order: their results, as a list."""
    return [fn(*args) for args in chunk_args]


#: The names ``dask.config.set(scheduler=...)`` gives the schedulers of this process.
LOCAL_SCHEDULERS = ("threads", "threading", "sync", "synchronous", "single-threaded",
                    "processes", "multiprocessing")


def _client():
    """The distributed Client the passes will run on, or None (no Client, or a local
    scheduler chosen by ``dask.config.set(scheduler=...)``)."""
    import dask

    if dask.config.get("scheduler", None) in LOCAL_SCHEDULERS:
        return None
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def chunk_groups(X):
    """The chunks of X as the tasks of a pass take them: under a distributed client, with
    every chunk held by a worker, one task per worker thread, with a contiguous share of
    the chunks that worker holds (the scheduler runs a task where its chunks are); else
    None: one task per chunk (local schedulers, chunks streamed or lost with a worker)."""
    client = _client()
    if client is None:
        return None
    import dask
    from distributed import futures_of, wait

    wait(futures_of(X))  # persisting runs in the background: placed when computed
    who = client.who_has(X)  # {} when X holds no futures of this client
    nthreads = client.nthreads()
    by_worker = {}
    for k, key in enumerate(dask.core.flatten(X.__dask_keys__())):
        held = who.get(key)
        if not held:
            return None
        by_worker.setdefault(held[0], []).append(k)
    groups = []
    for worker, chunks in sorted(by_worker.items()):
        parts = min(len(chunks), max(1, nthreads.get(worker, 1)))
        groups += [[int(k) for k in part] for part in np.array_split(chunks, parts)]
    return groups


def chunk_results(fn, X, chunk_args, *, held):
    """``[fn(*chunk_args[k]) for each chunk k of X]``, computed by Dask where the chunks
    are, in chunk order. ``held``: X's chunks are persisted (then, on a distributed
    cluster, grouped by the worker holding them: :func:`chunk_groups`)."""
    dask, _ = _dask()
    groups = chunk_groups(X) if held and len(chunk_args) > 1 else None
    if groups is None:
        task = dask.delayed(fn, pure=True)
        return list(dask.compute(*[task(*args) for args in chunk_args]))
    task = dask.delayed(_each, pure=True)
    out = dask.compute(*[task(fn, [chunk_args[k] for k in g]) for g in groups])
    results = [None] * len(chunk_args)
    for g, part in zip(groups, out):
        for k, r in zip(g, part):
            results[k] = r
    return results
