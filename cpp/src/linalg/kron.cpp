// The damped Kronecker-factored solve: two Cholesky factors, four triangular solves.
#include "ngdx/linalg/kron.hpp"

#include "ngdx/linalg/solve.hpp"

namespace ngdx {

bool kron_solve(const double* A, Index m, const double* G, Index K, const double* V,
                double damping_a, double damping_g, double* out) {
  // Both factors before out is written, so that a failure leaves it untouched. A and G
  // are symmetric: their row-major storage read column-major is the same matrix.
  Matrix Ua = Eigen::Map<const Matrix>(A, m, m);
  if (!damped_cholesky_factor(Ua.data(), m, damping_a)) return false;
  Matrix Ug = Eigen::Map<const Matrix>(G, K, K);
  if (!damped_cholesky_factor(Ug.data(), K, damping_g)) return false;
  // U^T U = factor + damping I (upper triangles, as cholesky_solve reads them).
  RowMatrixMap X(out, m, K);
  X = ConstRowMatrixMap(V, m, K);
  Ua.triangularView<Eigen::Upper>().transpose().solveInPlace(X);  // X = A_d^-1 V ...
  Ua.triangularView<Eigen::Upper>().solveInPlace(X);
  Ug.triangularView<Eigen::Upper>().solveInPlace<Eigen::OnTheRight>(X);  // ... G_d^-1
  Ug.triangularView<Eigen::Upper>().transpose().solveInPlace<Eigen::OnTheRight>(X);
  return true;
}

}  // namespace ngdx
