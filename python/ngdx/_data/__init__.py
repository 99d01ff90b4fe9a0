"""Row sources: where a fit's rows live (see ``ndarray.py`` for the protocol)."""

from .ndarray import ArrayRows

__all__ = ["ArrayRows"]
