"""Out of core (issue 14): a Zarr store larger than memory, fitted by ngdx on a
LocalCluster whose workers may each hold 4 GB.

    python bench/dask_out_of_core.py --gb 30 --path /data/ngdx-ooc.zarr [--save]

Writes (once: an existing store of the right shape is reused) X, n x 50 float64 with
n = GB * 1e9 / 400, and y, logistic labels, chunk k of 250,000 rows drawn as in
compare_dask.py, uncompressed (a pass then costs what reading the bytes costs). Then,
in a child process, ``LocalCluster(n_workers=2, threads_per_worker=1,
memory_limit="4GB")``: X is read once (a sum over every chunk: the time to read the data
once), then ``ngdx.fit(X, y, "logistic", tol=1e-10)`` streams it (nothing is persisted:
the data are far larger than the workers' memory), while every worker's RSS is polled.
The target: every worker under its 4 GB, and a fit time within 1.5 x (passes x the time
to read the data once).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compare import cpu_model, write_report  # noqa: E402
from compare_dask import MemoryPoll, on_workers, true_coef  # noqa: E402

ROWS = 250_000
LIMIT = "4GB"


def _store(path, n, d):
    """An uncompressed store of X (n, d) and y (n,), kept when it has that shape."""
    import zarr

    X = zarr.open_array(os.path.join(path, "X"), mode="r") if os.path.exists(path) else None
    if X is not None and X.shape == (n, d):
        return
    shutil.rmtree(path, ignore_errors=True)
    zarr.create_array(os.path.join(path, "X"), shape=(n, d), dtype="f8", chunks=(ROWS, d),
                      compressors=None)
    zarr.create_array(os.path.join(path, "y"), shape=(n,), dtype="f8", chunks=(ROWS,),
                      compressors=None)


def write(path, n, d):
    """The store, written chunk by chunk by two worker processes."""
    import dask
    import dask.array as da
    import zarr
    from distributed import Client, LocalCluster

    _store(path, n, d)
    Xz = zarr.open_array(os.path.join(path, "X"), mode="r+")
    if Xz.nchunks_initialized == Xz.nchunks:
        return 0.0
    start = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=LIMIT,
                      dashboard_address=None, silence_logs=50) as cluster, Client(cluster):
        X, y = on_workers("logistic", n, d, ROWS)
        yz = zarr.open_array(os.path.join(path, "y"), mode="r+")
        dask.compute(da.store([X, y], [Xz, yz], lock=False, compute=False))
    return time.perf_counter() - start


def child(path):
    import dask.array as da
    import ngdx
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=LIMIT,
                      dashboard_address=None, silence_logs=50) as cluster, \
            Client(cluster) as client:
        client.run(__import__, "ngdx")
        X = da.from_zarr(os.path.join(path, "X"))
        y = da.from_zarr(os.path.join(path, "y"))
        start = time.perf_counter()
        float(X.sum().compute())
        read = time.perf_counter() - start
        with MemoryPoll(client) as mem:
            start = time.perf_counter()
            res = ngdx.fit(X, y, "logistic", tol=1e-10)
            elapsed = time.perf_counter() - start
        from ngdx._stderr import objective_of

        persisted = objective_of(res).rows.persisted
        peak = max(v for k, v in mem.peak.items() if k != "client") / 2**30
    print(json.dumps(dict(read=read, time=elapsed, passes=res.n_passes + 1, n_iter=res.n_iter,
                          converged=bool(res.converged), persisted=bool(persisted),
                          peak_worker_gb=peak, client_mb=mem.report()[0],
                          coef_err=float(np.max(np.abs(res.coef - true_coef(X.shape[1])))))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=30.0)
    parser.add_argument("--path", default="/tmp/ngdx-ooc.zarr")
    parser.add_argument("--save", action="store_true")
    parser.add_argument("--out")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.path)
    d = 50
    n = int(args.gb * 1e9 / (8 * d)) // ROWS * ROWS
    wrote = write(args.path, n, d)
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--path",
                          args.path], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr[-2000:])
        return 1
    r = json.loads(out.stdout.strip().splitlines()[-1])
    budget = 1.5 * r["passes"] * r["read"]
    lines = [f"# Out of core: ngdx on a {n * d * 8 / 1e9:.1f} GB Zarr store ({datetime.date.today()})",
             "", f"Machine: {cpu_model()}, {os.cpu_count()} cores; n = {n:,}, d = {d}, chunks "
             f"of {ROWS:,} rows, uncompressed; LocalCluster(n_workers=2, threads_per_worker=1, "
             f"memory_limit={LIMIT}). Command: `python bench/dask_out_of_core.py --gb "
             f"{args.gb:g}`." + (f" Writing the store took {wrote:.0f} s." if wrote else ""), "",
             "| read once s | fit s | passes | fit / (passes x read) | iterations | converged | "
             "persisted | peak worker RSS GB | client MB | max abs(coef - true) |",
             "|---|---|---|---|---|---|---|---|---|---|",
             f"| {r['read']:.1f} | {r['time']:.1f} | {r['passes']} | "
             f"{r['time'] / (r['passes'] * r['read']):.2f} | {r['n_iter']} | {r['converged']} | "
             f"{r['persisted']} | {r['peak_worker_gb']:.2f} | {r['client_mb']:.0f} | "
             f"{r['coef_err']:.1e} |", "",
             f"- every worker under {LIMIT}: peak {r['peak_worker_gb']:.2f} GB — "
             f"**{'met' if r['peak_worker_gb'] < 4.0 else 'not met'}**",
             f"- fit within 1.5 x passes x read time ({budget:.0f} s): {r['time']:.0f} s — "
             f"**{'met' if r['time'] <= budget else 'not met'}**"]
    report = "\n".join(lines) + "\n"
    print(report)
    write_report(report, args.out, "dask-out-of-core" if args.save else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
