// The GLM kernels on a sparse design matrix in compressed sparse row (CSR) form: the fused
// pass and the per-row kernels of pass.hpp and per_row.hpp, with the same conventions and
// outputs, reading only the nonzeros of X (never a dense copy).
//
// Row i's nonzeros are data[indptr[i] .. indptr[i+1]) in the columns indices[...], in any
// order but without duplicate columns (scipy's canonical form sums duplicates; an
// unsorted row is fine). Index arrays are int32 or int64, as scipy gives them. A row's
// linear predictor comes from its nonzeros; its curvature x_i x_i^T (kron W_i) adds into
// a thread-local packed lower triangle over its nnz_i (nnz_i + 1) / 2 pairs of nonzeros
// (the intercept's implicit 1 is one more), so a pass costs O(nnz K + sum_i nnz_i^2 K^2)
// instead of O(n d^2 K^2), and its memory beyond the output is one p (p + 1) / 2 triangle
// per thread.
#pragma once

#include <cstdint>

#include "ngdx/glm/pass.hpp"

namespace ngdx {

/// A CSR matrix of n rows and d columns (see the file's comment for the layout).
template <class I>
struct CsrMatrix {
  const double* data = nullptr;  ///< nnz values
  const I* indices = nullptr;    ///< nnz column indices in [0, d)
  const I* indptr = nullptr;     ///< n + 1 offsets, 0 = indptr[0] <= ... <= indptr[n] = nnz
  Index n = 0, d = 0, nnz = 0;
  /// The offsets' invariants, O(n); column indices are checked as each row is read.
  void check() const;
};

/// What a sparse pass reads: X in CSR form and the rows' labels, weights and sizes.
template <class I>
struct SparseProblem {
  CsrMatrix<I> X;
  const double* y = nullptr;              ///< n labels, or null for kernels that never read y
  const double* sample_weight = nullptr;  ///< n weights >= 0, or null for unit weights
  Index n_classes = 1;                    ///< K
  bool fit_intercept = false;
  Index dp() const { return X.d + (fit_intercept ? 1 : 0); }
  Index n_params() const { return dp() * n_classes; }
  /// The dense Problem with the same rows, sizes and checks; its X is never read.
  Problem meta() const;
  /// X's invariants and the dense problem's (labels in range when `labels`).
  void check(Model model, bool labels = true) const;
};

// Each of these is its dense namesake (pass.hpp, per_row.hpp) on a CSR X: same arguments,
// same outputs, same row blocks and ordered reduction (deterministic for a thread count).
template <class I>
PassResult fused_pass(Model model, const SparseProblem<I>& problem, const double* theta,
                      const PassRequest& request, int n_threads);
template <class I>
void curvature_weights(Model model, const SparseProblem<I>& problem, const double* theta,
                       const PassRequest& request, double* out, int n_threads);
template <class I>
void scores(Model model, const SparseProblem<I>& problem, const double* theta, double* out,
            int n_threads);
template <class I>
void predict_mean(Model model, const SparseProblem<I>& problem, const double* theta, double* out,
                  int n_threads);
template <class I>
double mean_kl(Model model, const SparseProblem<I>& problem, const double* theta_p,
               const double* theta_q, int n_threads);
template <class I>
double fisher_vector_product(Model model, const SparseProblem<I>& problem, const double* theta,
                             const double* v, double* out, int n_threads);
template <class I>
void sample_labels(Model model, const SparseProblem<I>& problem, const double* theta,
                   Index n_samples, std::uint64_t seed, double* out, int n_threads);

}  // namespace ngdx
