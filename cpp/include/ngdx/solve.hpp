// Damped Cholesky solve of (F + damping I) x = g.
#pragma once

#include "ngdx/common.hpp"

namespace ngdx {

/// Solves (F + damping I) x = g for symmetric F (p x p, only the lower triangle is read).
/// Returns false, leaving x untouched, when F + damping I is not numerically positive
/// definite: a Cholesky pivot L_jj^2 <= p * eps * max_j (F + damping I)_jj, or a NaN.
bool damped_cholesky_solve(const double* F, Index p, const double* g, double damping, double* x);

}  // namespace ngdx
