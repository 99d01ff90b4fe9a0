"""Process-wide settings of the compiled core: the default thread count."""

from __future__ import annotations

import numbers

from . import _core

_default_threads = max(1, int(_core.runtime.max_threads()))
#: More threads than this is a mistake, not a setting (each gets its own p x p accumulator).
MAX_THREADS = 1024


def set_num_threads(n_threads: int | None) -> None:
    """Set the default number of threads of ngdx's compiled kernels.

    Parameters
    ----------
    n_threads : int or None
        Threads for every later call that does not pass ``n_threads``; at least 1.
        None restores the default: every core OpenMP sees.

    Notes
    -----
    Results are deterministic for a given thread count; 1 and 2 threads agree to
    about 1e-12 relative (the row blocks are summed in a different grouping).

    Examples
    --------
    >>> import ngdx
    >>> ngdx.set_num_threads(1)
    >>> ngdx.get_num_threads()
    1
    >>> ngdx.set_num_threads(None)  # back to all cores
    """
    global _default_threads
    _default_threads = (_core.runtime.max_threads() if n_threads is None
                        else resolve_threads(n_threads))


def get_num_threads() -> int:
    """Return the default number of threads of ngdx's compiled kernels."""
    return _default_threads


def resolve_threads(n_threads: int | None) -> int:
    """The thread count for one call: ``n_threads``, or the default when None."""
    if n_threads is None:
        return _default_threads
    if (isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral)
            or not 1 <= n_threads <= MAX_THREADS):
        raise ValueError(f"n_threads must be an integer in [1, {MAX_THREADS}] or None, "
                         f"got {n_threads!r}")
    return int(n_threads)
