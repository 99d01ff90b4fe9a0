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

bool damped_cholesky_solve(const double* F, Index p, const double* g, double damping, double* x) {
  require(p > 0, "the matrix must be non-empty");
  // F is symmetric: its row-major storage read column-major is F^T = F.
  Matrix A = Eigen::Map<const Matrix>(F, p, p);
  A.diagonal().array() += damping;
  const double scale = A.diagonal().maxCoeff();
  if (!(scale > 0.0) || !std::isfinite(scale)) return false;
  Eigen::LLT<Matrix, Eigen::Upper> llt(A);  // Upper of column-major = lower of row-major F
  if (llt.info() != Eigen::Success) return false;
  const double tiny = static_cast<double>(p) * std::numeric_limits<double>::epsilon() * scale;
  const auto pivots = llt.matrixLLT().diagonal();
  for (Index j = 0; j < p; ++j)
    if (!(pivots[j] * pivots[j] > tiny)) return false;
  VectorMap(x, p) = llt.solve(ConstVectorMap(g, p));
  return true;
}

}  // namespace ngdx
