// Gaussian expectations of one-output GLM terms, row by row: for eta_i ~ N(mean_i, var_i),
// E[loss], E[dloss/deta] and E[d2loss/deta2] by a given one-dimensional quadrature rule.
// By Bonnet's and Price's theorems these give the gradient and Hessian of the expected
// negative log-likelihood of a Gaussian q(theta) (ngdx.bayes, variational inference).
#pragma once

#include "ngdx/glm/problem.hpp"

namespace ngdx {

/// For each row i < n: eta_ik = mean[i] + sqrt(var[i]) * nodes[k] (k < q) and
/// loss_out[i] = sum_k weights[k] loss(eta_ik, y[i]), d1_out[i] the same of dloss,
/// d2_out[i] of the observed Hessian weight. nodes/weights are a rule for N(0, 1)
/// (weights summing to 1). One-output models only; rows are independent, so the
/// result does not depend on n_threads.
void quadrature_pass(Model model, Index n, const double* mean, const double* var,
                     const double* y, Index q, const double* nodes, const double* weights,
                     double* loss_out, double* d1_out, double* d2_out, int n_threads);

}  // namespace ngdx

namespace ngdx {

/// The fused pass of the Bayesian learning rule for a one-output model, in one sweep over
/// X: for q = N(mean, F F^T) (F dp x dp row-major, or null for the point `mean`), row i's
/// eta ~ N(x~_i^T mean, ||F^T x~_i||^2), its E[loss], E[loss'], E[loss''] by the rule
/// (nodes, weights), and the sums grad_out (dp) = sum_i s_i E[loss'_i] x~_i and hess_out
/// (dp x dp, full) = sum_i s_i E[loss''_i] x~_i x~_i^T. Returns sum_i s_i E[loss_i].
/// Deterministic for a thread count (fixed partition, ordered reduction).
double quadrature_fused_pass(Model model, const Problem& problem, const double* mean,
                             const double* factor, Index q, const double* nodes,
                             const double* weights, double* grad_out, double* hess_out,
                             int n_threads);

}  // namespace ngdx
