// Batched score accumulation and the damped Cholesky solve.
#include <Eigen/Cholesky>
#include <cmath>
#include <limits>

#include "ngdx/gram.hpp"
#include "ngdx/parallel.hpp"
#include "ngdx/score_gram.hpp"
#include "ngdx/solve.hpp"

namespace ngdx {

void fisher_from_scores(const double* S, Index n, Index p, bool diagonal, double* out,
                        int n_threads) {
  require(n > 0 && p > 0, "the score matrix must be non-empty");
  if (diagonal) {
    auto states = for_each_block<Vector>(
        n, n_threads, [&] { return Vector(Vector::Zero(p)); },
        [&](Vector& acc, Index i0, Index m) {
          acc += ConstRowMatrixMap(S + i0 * p, m, p).cwiseAbs2().colwise().sum().transpose();
        });
    for (std::size_t t = 1; t < states.size(); ++t) states[0] += states[t];
    VectorMap(out, p) = states[0] / static_cast<double>(n);
    return;
  }
  struct State {
    GramWorkspace gram;
    Matrix acc;
  };
  const Index block = gram_block_rows(p);
  const GramKernel& kernel = gram_kernel();
  auto states = for_each_block<State>(
      n, n_threads,
      [&] {
        State st{GramWorkspace(kernel, block, p), Matrix()};
        st.acc = st.gram.zero_accumulator();
        return st;
      },
      [&](State& st, Index i0, Index m) {
        const Index next = std::min(m, n - i0 - m);  // rows of the block after this one
        st.gram.set_rows(S + i0 * p, m, p, false, next > 0 ? S + (i0 + m) * p : nullptr, next);
        st.gram.add(nullptr, st.acc);
      },
      block);
  for (std::size_t t = 1; t < states.size(); ++t) states[0].acc += states[t].acc;
  write_symmetric(states[0].acc, p, 1.0 / static_cast<double>(n), out);
}

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
