// A multilayer perceptron and the kernels of ngdx.nn: the fused pass (loss, gradient and
// a curvature in one sweep over the row blocks), the Fisher-vector product and the
// forward pass. python/ngdx/nn/_reference.py is the specification: its docstring gives
// the mathematics, its functions are what the parity tests compare with.
//
// Layer l (1..L) maps a_{l-1} (fan_in) to z_l = a_{l-1} W_l + b_l (fan_out), a_l = phi(z_l)
// for l < L, eta = z_L (K outputs). theta holds, per layer, the row-major (fan_in + 1) x
// fan_out block [W_l; b_l]. Every mean over rows is sum_i s_i (.) / sum_i s_i.
#pragma once

#include <cstdint>
#include <vector>

#include "ngdx/base/rows.hpp"

namespace ngdx::nn {

/// Hidden-layer activations phi (by name in Python: parse_activation).
enum class Activation : int { relu = 0, tanh = 1, logistic = 2, identity = 3 };
/// Output families; every link is canonical, so the output Fisher Lambda is the Hessian.
enum class Output : int { multinomial = 0, logistic = 1, gaussian = 2, poisson = 3 };
/// What the pass accumulates besides the loss and gradient.
enum class Curvature : int { none = 0, kfac = 1, dense = 2 };
/// Which Fisher's output vectors q: Lambda's square root, the residual at y, or residuals
/// at targets sampled from the model.
enum class FisherKind : int { fisher_true = 0, empirical = 1, mc = 2 };

/// One dense layer: its sizes and where its block starts in theta.
struct Layer {
  Index fan_in = 0, fan_out = 0, offset = 0;
  Index n_params() const { return (fan_in + 1) * fan_out; }
};

/// The architecture: layer_sizes (d, h_1, ..., K), the activation and the output family.
struct Network {
  std::vector<Layer> layers;
  Activation activation = Activation::relu;
  Output output = Output::multinomial;

  Network(const std::vector<Index>& layer_sizes, Activation act, Output out);
  Index n_layers() const { return static_cast<Index>(layers.size()); }
  Index n_inputs() const { return layers.front().fan_in; }
  Index n_outputs() const { return layers.back().fan_out; }
  Index n_params() const { return layers.back().offset + layers.back().n_params(); }
  /// The widest layer output (the width of the per-block buffers).
  Index max_width() const;
};

/// The rows a kernel reads: X (n x d, float64 or float32), y and the sample weights.
struct Data {
  RowsView X;
  Index n = 0;
  /// n class labels (multinomial), n x K targets (the others), or null (no labels).
  const double* y = nullptr;
  const double* sample_weight = nullptr;  ///< n weights, or null for unit weights
  double weight_sum() const;
};

/// What the fused pass computes, into caller-owned buffers.
struct PassRequest {
  Curvature curvature = Curvature::none;
  FisherKind kind = FisherKind::fisher_true;
  Index n_mc_samples = 1;
  std::uint64_t seed = 0;
  double* grad = nullptr;        ///< p, or null
  std::vector<double*> factors;  ///< kfac: A_1, G_1, ..., A_L, G_L (row-major, symmetric)
  double* fisher = nullptr;      ///< dense: p x p row-major
};

struct PassResult {
  double loss = 0.0;          ///< weighted mean NLL; NaN without labels
  Index n_misclassified = 0;  ///< as the reference's n_misclassified (every row counts)
};

/// One sweep over X: loss, gradient, and the K-FAC factors or the dense Fisher of kind.
PassResult fused_pass(const Network& net, const Data& data, const double* theta,
                      const PassRequest& request, int n_threads);

/// out (p) = F v with F the true Fisher (the generalized Gauss-Newton matrix), through
/// J v, Lambda and J^T, never a p x p matrix; returns v^T F v.
double fisher_vector_product(const Network& net, const Data& data, const double* theta,
                             const double* v, double* out, int n_threads);

/// out (n x K, row-major) = eta, or the output family's mean when `mean`.
void forward(const Network& net, const Data& data, const double* theta, bool mean, double* out,
             int n_threads);

}  // namespace ngdx::nn
