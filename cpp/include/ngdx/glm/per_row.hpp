// Kernels that work row by row without a curvature matrix: per-sample scores, the mean
// KL divergence between two parameter vectors, Fisher-vector products and Monte Carlo labels.
#pragma once

#include "ngdx/glm/pass.hpp"

namespace ngdx {

/// out (n x p, row-major): row i is the score grad_theta log p(y_i | x_i, theta),
/// i.e. -x_i kron r_i (unweighted).
void scores(Model model, const Problem& problem, const double* theta, double* out, int n_threads);

/// out (n x K, row-major): the model's mean at each row (probability of y = 1, rate,
/// mean, or the K class probabilities).
void predict_mean(Model model, const Problem& problem, const double* theta, double* out,
                  int n_threads);

/// (Weighted) mean over rows of KL(p(. | x_i, theta_p) || p(. | x_i, theta_q)).
double mean_kl(Model model, const Problem& problem, const double* theta_p, const double* theta_q,
               int n_threads);

/// out (p) = F v with F the (weighted) true Fisher at theta, without forming F: one pass
/// that reads each block of X once for eta and X v. Returns the quadratic form v^T F v.
double fisher_vector_product(Model model, const Problem& problem, const double* theta,
                             const double* v, double* out, int n_threads);

/// out (n x n_samples): the labels the mc curvature draws for each row (for tests).
void sample_labels(Model model, const Problem& problem, const double* theta, Index n_samples,
                   std::uint64_t seed, double* out, int n_threads);

}  // namespace ngdx
