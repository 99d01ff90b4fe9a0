// Batched score accumulation: the empirical Fisher S^T S / n of a caller's score matrix.
#include "ngdx/linalg/score_gram.hpp"

#include "ngdx/base/parallel.hpp"
#include "ngdx/linalg/gram.hpp"

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
    const Vector& total =
        reduce_in_order(states, [](Vector& acc, const Vector& part) { acc += part; });
    VectorMap(out, p) = total / static_cast<double>(n);
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

}  // namespace ngdx
