// Damped Cholesky solve of (F + damping I) x = g.
#pragma once

#include "ngdx/base/common.hpp"

namespace ngdx {

/// Solves (F + damping I) x = g for symmetric F (p x p, only the lower triangle is read).
/// Returns false, leaving x untouched, when F + damping I is not numerically positive
/// definite: a Cholesky pivot L_jj^2 <= p * eps * max_j (F + damping I)_jj, or a NaN.
bool damped_cholesky_solve(const double* F, Index p, const double* g, double damping, double* x);

/// Factors A + damping I in place (A p x p row-major, symmetric; only its lower triangle
/// is read), for any number of cholesky_solve calls. Same positive-definiteness test and
/// return value as damped_cholesky_solve; A's contents are unspecified after false.
bool damped_cholesky_factor(double* A, Index p, double damping);

/// Solves (A + damping I) x = g with the factor left in A by damped_cholesky_factor.
void cholesky_solve(const double* factor, Index p, const double* g, double* x);

}  // namespace ngdx
