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
  weighted_gram(RowsView{S, Scalar::f64, p}, n, false, nullptr, 1.0 / static_cast<double>(n),
                n_threads, out);
}

}  // namespace ngdx
