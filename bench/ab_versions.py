"""Whole fits of two ngdx versions in one process, alternated round by round (A B, B A, ...),
so that the machine's drift hits both alike: the check that a refactor costs no speed.

    python bench/ab_versions.py OLD_DIR [--rounds 6]

OLD_DIR holds the other version's package as installed (``OLD_DIR/ngdx/__init__.py`` and
its compiled ``_core``), e.g. the unpacked wheel of an older commit:

    git worktree add /tmp/old REV && pip wheel --no-deps -w /tmp/whl /tmp/old
    unzip -q /tmp/whl/ngdx-*.whl -d /tmp/old-pkg        # OLD_DIR = /tmp/old-pkg

The problems are bench/test_bench_fit.py's; every fit must converge to max|grad| <= 1e-10,
and both versions' answers must agree.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from compare import make_data  # noqa: E402
from test_bench_fit import FITS  # noqa: E402

import ngdx  # noqa: E402


def load_other(directory):
    """The package in directory/ngdx, imported under the name ngdx_other."""
    init = pathlib.Path(directory) / "ngdx" / "__init__.py"
    spec = importlib.util.spec_from_file_location("ngdx_other", init,
                                                  submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["ngdx_other"] = module
    spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old_dir")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    old = load_other(args.old_dir)
    print(f"{'problem':<36} {'old min':>8} {'new min':>8} {'ratio':>6} "
          f"{'old med':>8} {'new med':>8} {'ratio':>6}")
    for name, pb in FITS.items():
        X, y = make_data(pb)
        times = {"old": [], "new": []}
        coefs = {}
        for r in range(args.rounds + 1):  # round 0 warms up
            pair = [("old", old), ("new", ngdx)]
            for label, module in (pair if r % 2 == 0 else pair[::-1]):
                gc.collect()
                t0 = time.perf_counter()
                res = module.fit(X, y, pb["model"], "ngd", l2=pb["l2"], tol=1e-10, n_threads=2)
                elapsed = time.perf_counter() - t0
                assert res.converged, (label, res.message)
                coefs[label] = res.coef
                if r > 0:
                    times[label].append(elapsed)
        np.testing.assert_allclose(coefs["new"], coefs["old"], rtol=0, atol=1e-9)
        o, n = np.array(times["old"]), np.array(times["new"])
        print(f"{name:<36} {o.min():8.3f} {n.min():8.3f} {n.min() / o.min():6.3f} "
              f"{np.median(o):8.3f} {np.median(n):8.3f} {np.median(n) / np.median(o):6.3f}",
              flush=True)
        del X, y


if __name__ == "__main__":
    main()
