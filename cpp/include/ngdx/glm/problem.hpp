// The GLM vocabulary every pass shares: the families, the curvature kinds and the frozen
// problem (X, y, sample weights) a pass reads.
#pragma once

#include "ngdx/base/rows.hpp"

namespace ngdx {

/// The GLM families. The bindings map them by name (parse_model in bindings/convert.hpp),
/// so the numbers carry no meaning outside the C++.
enum class Model : int { logistic = 0, probit = 1, poisson = 2, gaussian = 3, multinomial = 4 };

/// Which curvature matrix a pass accumulates (by name in Python: parse_kind).
enum class Curvature : int { none = 0, fisher_true = 1, empirical = 2, hessian = 3, mc = 4 };

/// What a pass reads. Shapes are checked by check() before any work starts.
struct Problem {
  const void* X = nullptr;  ///< n x d, row-major, of element type x_type
  Scalar x_type = Scalar::f64;
  Index n = 0, d = 0;
  const double* y = nullptr;              ///< n labels (class indices as doubles for multinomial)
  const double* sample_weight = nullptr;  ///< n weights >= 0, or null for unit weights
  Index n_classes = 1;                    ///< K
  bool fit_intercept = false;
  Index n_params() const { return (d + (fit_intercept ? 1 : 0)) * n_classes; }
  Index dp() const { return d + (fit_intercept ? 1 : 0); }
  /// Cheap invariants the kernels rely on for memory safety (labels in range when
  /// `labels`: kernels that never read y pass false).
  void check(Model model, bool labels = true) const;
  /// sum of the sample weights, or n.
  double weight_sum() const;
  /// X as a RowsView (read its blocks with a RowBlockReader).
  RowsView rows() const { return {X, x_type, d}; }
};

}  // namespace ngdx
