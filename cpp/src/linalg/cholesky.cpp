// The damped Cholesky factor and solves.
#include <Eigen/Cholesky>
#include <cmath>
#include <limits>

#include "ngdx/linalg/solve.hpp"

namespace ngdx {

bool damped_cholesky_factor(double* A, Index p, double damping) {
  require(p > 0, "the matrix must be non-empty");
  // A is symmetric: its row-major storage read column-major is A^T = A, and the upper
  // triangle of that view is the row-major lower triangle. Factored in place: no copy.
  Eigen::Map<Matrix> M(A, p, p);
  M.diagonal().array() += damping;
  const double scale = M.diagonal().maxCoeff();
  if (!(scale > 0.0) || !std::isfinite(scale)) return false;
  Eigen::LLT<Eigen::Ref<Matrix>, Eigen::Upper> llt(M);
  if (llt.info() != Eigen::Success) return false;
  const double tiny = static_cast<double>(p) * std::numeric_limits<double>::epsilon() * scale;
  for (Index j = 0; j < p; ++j)
    if (!(M(j, j) * M(j, j) > tiny)) return false;
  return true;
}

void cholesky_solve(const double* factor, Index p, const double* g, double* x) {
  const Eigen::Map<const Matrix> U(factor, p, p);  // U^T U = A + damping I
  VectorMap out(x, p);
  out = ConstVectorMap(g, p);
  U.triangularView<Eigen::Upper>().transpose().solveInPlace(out);
  U.triangularView<Eigen::Upper>().solveInPlace(out);
}

bool damped_cholesky_solve(const double* F, Index p, const double* g, double damping, double* x) {
  Matrix A = Eigen::Map<const Matrix>(F, p, p);
  if (!damped_cholesky_factor(A.data(), p, damping)) return false;
  cholesky_solve(A.data(), p, g, x);
  return true;
}

}  // namespace ngdx
