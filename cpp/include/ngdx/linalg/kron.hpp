// The damped Kronecker-factored solve of K-FAC: a curvature block approximated by
// A kron G (A over a layer's inputs, G over its outputs) is inverted factor by factor.
#pragma once

#include "ngdx/base/common.hpp"

namespace ngdx {

/// out (m x K, row-major) = (A + damping_a I)^-1 V (G + damping_g I)^-1, i.e. the solve of
/// ((A + damping_a I) kron (G + damping_g I)) vec(out) = vec(V) with row-major vec, for
/// symmetric A (m x m) and G (K x K), row-major, only their lower triangles read; V is
/// m x K row-major. Each damped factor is Cholesky-factored with damped_cholesky_factor's
/// positive-definiteness test; returns false, leaving out untouched, when either fails.
bool kron_solve(const double* A, Index m, const double* G, Index K, const double* V,
                double damping_a, double damping_g, double* out);

}  // namespace ngdx
