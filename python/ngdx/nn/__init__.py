"""Neural networks trained by natural gradient: K-FAC and the exact Fisher (in progress)."""
