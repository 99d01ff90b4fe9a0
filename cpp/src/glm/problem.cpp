// The problem's checks and sums, and the fused-pass dispatcher (one entry point per
// family group, each in its own translation unit).
#include "ngdx/glm/problem.hpp"

#include <cmath>
#include <string>

#include "ngdx/glm/pass.hpp"

namespace ngdx {

void Problem::check(Model model, bool labels) const {
  require(X != nullptr, "X must be given");
  require(!labels || y != nullptr, "y must be given");
  require(n > 0, "X must have at least one row");
  require(d >= 0 && n_params() > 0, "the model must have at least one parameter");
  if (model == Model::multinomial) {
    require(n_classes >= 2, "multinomial needs at least 2 classes, got " + std::to_string(n_classes));
  } else {
    require(n_classes == 1, "only multinomial has more than one output");
  }
  if (model == Model::multinomial && labels) {
    for (Index i = 0; i < n; ++i) {
      const double yi = y[i];
      require(yi >= 0.0 && yi < static_cast<double>(n_classes) && yi == std::floor(yi),
              "multinomial labels must be integers in 0.." + std::to_string(n_classes - 1) +
                  ", got " + std::to_string(yi) + " at row " + std::to_string(i));
    }
  }
  if (sample_weight) require(weight_sum() > 0.0, "sample weights must have a positive sum");
}

double Problem::weight_sum() const {
  if (!sample_weight) return static_cast<double>(n);
  double s = 0.0;
  for (Index i = 0; i < n; ++i) s += sample_weight[i];
  return s;
}

PassResult fused_pass(Model model, const Problem& problem, const double* theta,
                      const PassRequest& request, int n_threads) {
  problem.check(model);
  require(request.kind == Curvature::none || request.curvature != nullptr,
          "a curvature buffer is needed");
  require(request.kind != Curvature::mc || request.n_samples >= 1, "n_samples must be >= 1");
  if (model == Model::multinomial)
    return fused_pass_multinomial(problem, theta, request, n_threads);
  return fused_pass_scalar(model, problem, theta, request, n_threads);
}

}  // namespace ngdx
