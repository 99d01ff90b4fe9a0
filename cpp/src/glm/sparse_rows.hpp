// Reading a CSR matrix row by row (private to the sparse kernels' translation units).
#pragma once

#include <string>
#include <vector>

#include "ngdx/base/parallel.hpp"
#include "ngdx/glm/row_family.hpp"
#include "ngdx/glm/sparse.hpp"

namespace ngdx::sparse {

/// One row of X gathered as (column, value) pairs, with the intercept's implicit 1
/// appended as column d when the problem fits one: then theta (dp x K, row-major) times
/// the row is the whole linear predictor, and every kernel treats the intercept as one
/// more nonzero.
template <class I>
class RowReader {
 public:
  RowReader() = default;
  explicit RowReader(const SparseProblem<I>& problem) : pb_(&problem) {}

  /// Gathers row i; a column index outside [0, d) is a std::invalid_argument (the
  /// indices are checked here, where they are read, instead of in a pass of their own).
  void read(Index i) {
    const CsrMatrix<I>& X = pb_->X;
    const Index begin = static_cast<Index>(X.indptr[i]), end = static_cast<Index>(X.indptr[i + 1]);
    size_ = 0;
    const Index need = end - begin + 1;
    if (static_cast<Index>(cols_.size()) < need) {
      cols_.resize(need);
      vals_.resize(need);
    }
    for (Index a = begin; a < end; ++a) {
      const Index j = static_cast<Index>(X.indices[a]);
      if (j < 0 || j >= X.d)  // the message is built only on failure: this runs per nonzero
        throw std::invalid_argument("X has column index " + std::to_string(j) + " at row " +
                                    std::to_string(i) + ", outside [0, " +
                                    std::to_string(X.d) + ")");
      cols_[size_] = j;
      vals_[size_++] = X.data[a];
    }
    if (pb_->fit_intercept) {
      cols_[size_] = X.d;
      vals_[size_++] = 1.0;
    }
  }
  Index size() const { return size_; }
  const Index* cols() const { return cols_.data(); }
  const double* vals() const { return vals_.data(); }

  /// out (K) = the row times M (dp x K, row-major): eta for theta, X v for v.
  void times(const double* M, Index K, double* out) const {
    for (Index k = 0; k < K; ++k) out[k] = 0.0;
    for (Index a = 0; a < size_; ++a) {
      const double x = vals_[a];
      const double* m = M + cols_[a] * K;
      for (Index k = 0; k < K; ++k) out[k] += x * m[k];
    }
  }
  /// G (dp x K, row-major) += the row's outer product with z (K): the gradient's and the
  /// Fisher-vector product's X^T Z, one row at a time.
  void add_outer(const double* z, Index K, double* G) const {
    for (Index a = 0; a < size_; ++a) {
      const double x = vals_[a];
      double* g = G + cols_[a] * K;
      for (Index k = 0; k < K; ++k) g[k] += x * z[k];
    }
  }

 private:
  const SparseProblem<I>* pb_ = nullptr;
  std::vector<Index> cols_;
  std::vector<double> vals_;
  Index size_ = 0;
};

/// The weight of row i (1 without sample weights).
template <class I>
double row_weight(const SparseProblem<I>& pb, Index i) {
  return pb.sample_weight ? pb.sample_weight[i] : 1.0;
}

/// Per-thread state of the kernels that need only each row's linear predictor.
template <class I>
struct EtaState {
  RowReader<I> row;
  std::vector<double> eta, eta_q, scratch;
  double sum = 0.0;
};

/// Runs fn(state, i) over the rows of the dense kernels' row blocks and thread partition,
/// after reading row i and its eta at theta (and eta_q at theta_q when given); returns
/// the per-thread states in thread order.
template <class I, class Fam, class Fn>
std::vector<EtaState<I>> for_each_row_eta(const SparseProblem<I>& pb, const Fam& fam,
                                          const double* theta, const double* theta_q,
                                          int n_threads, Fn fn) {
  const Index K = pb.n_classes;
  auto init = [&] {
    EtaState<I> st{RowReader<I>(pb), std::vector<double>(K), std::vector<double>(K),
                   std::vector<double>(fam.scratch_size() + 1), 0.0};
    return st;
  };
  return for_each_block<EtaState<I>>(pb.X.n, n_threads, init,
                                     [&](EtaState<I>& st, Index i0, Index m) {
                                       for (Index i = i0; i < i0 + m; ++i) {
                                         st.row.read(i);
                                         st.row.times(theta, K, st.eta.data());
                                         if (theta_q) st.row.times(theta_q, K, st.eta_q.data());
                                         fn(st, i);
                                       }
                                     });
}

}  // namespace ngdx::sparse
