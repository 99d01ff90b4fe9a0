"""Row sources: where a fit's rows live (see ``ndarray.py`` for the protocol)."""

from .csr import CSRRows, csr_parts, is_sparse
from .ndarray import ArrayRows

__all__ = ["ArrayRows", "CSRRows", "csr_parts", "is_sparse"]
