// The fused pass: one sweep over the row blocks of X that returns the mean negative
// log-likelihood, its gradient and, when asked, a curvature matrix (full or diagonal).
//
// Parameters: theta is (d + intercept) x K row-major (K = 1 except multinomial), flattened
// to p = (d + intercept) * K entries; the intercept, when present, is its last row and
// multiplies an implicit column of ones (X is never copied to add it). With sample weights
// s the mean is sum_i s_i l_i / sum_i s_i; without, sum_i l_i / n. For multinomial the
// curvature is sum_i s_i (x_i x_i^T) kron W_i / sum_i s_i with W_i a K x K matrix.
#pragma once

#include <cstdint>

#include "ngdx/glm/problem.hpp"

namespace ngdx {

/// What a pass computes, into caller-owned buffers.
struct PassRequest {
  double* grad = nullptr;       ///< p, or null
  double* curvature = nullptr;  ///< p x p row-major, or p when diagonal; null when kind is none
  Curvature kind = Curvature::none;
  bool diagonal = false;
  Index n_samples = 1;  ///< labels drawn per row for Curvature::mc
  std::uint64_t seed = 0;
  /// When set (dense X only): the sum of the squares of X's entries, added up from the
  /// row blocks the pass reads anyway: finite exactly when every entry is finite and no
  /// curvature sum can overflow (the door's check of X, folded into a pass).
  double* x_squares = nullptr;
};

/// What a pass returns besides the buffers it fills.
struct PassResult {
  double loss = 0.0;  ///< (weighted) mean negative log-likelihood
  /// Rows of positive weight whose most probable class is not their label (logistic,
  /// probit, multinomial; ties count as errors); 0 for the other models. Zero means the
  /// classes are separated by the current linear predictor.
  Index n_misclassified = 0;
};

/// acc += part for the sums every fused pass keeps per thread (loss, misclassified rows,
/// gradient and, when diag, the diagonal curvature): one step of the ordered reduction.
template <class State>
void add_pass_sums(State& acc, const State& part, bool diag) {
  acc.loss += part.loss;
  acc.n_misclassified += part.n_misclassified;
  acc.grad += part.grad;
  if (diag) acc.diag += part.diag;
}

/// Fills request's buffers and returns the loss and the misclassification count.
PassResult fused_pass(Model model, const Problem& problem, const double* theta,
                      const PassRequest& request, int n_threads);

/// out (n): the curvature weight of each row, times its sample weight (not normalized):
/// the curvature of request.kind is sum_i out_i x_i x_i^T / sum_i s_i. One-output models
/// only; for the sample-space (Woodbury) solve, which never forms the p x p matrix.
void curvature_weights(Model model, const Problem& problem, const double* theta,
                       const PassRequest& request, double* out, int n_threads);

// One entry point per family group, so each compiles in its own translation unit.
PassResult fused_pass_scalar(Model model, const Problem& problem, const double* theta,
                             const PassRequest& request, int n_threads);
PassResult fused_pass_multinomial(const Problem& problem, const double* theta,
                                  const PassRequest& request, int n_threads);

}  // namespace ngdx
