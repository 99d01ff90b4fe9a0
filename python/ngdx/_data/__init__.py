"""Row sources: where a fit's rows live (see ``ndarray.py`` for the protocol), and the
door that checks a fit's data and picks the source."""

from .csr import CSRRows, csr_parts, is_sparse
from .door import rows_of
from .ndarray import ArrayRows

__all__ = ["ArrayRows", "CSRRows", "csr_parts", "is_sparse", "rows_of"]
