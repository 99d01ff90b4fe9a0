// The network's layout, the forward pass and the Fisher-vector product. The product runs
// forward-mode tangents alongside the forward pass (dz_l = da_{l-1} W_l + a_{l-1} dW_l +
// db_l, da_l = phi'(z_l) dz_l, so dz_L = J v), applies the output Fisher Lambda, and
// back-propagates s_i Lambda_i J_i v as the gradient does its residual: F v without p x p.
#include <algorithm>
#include <vector>

#include "ngdx/base/parallel.hpp"
#include "ngdx/nn/layers.hpp"
#include "ngdx/nn/output.hpp"

namespace ngdx::nn {

Network::Network(const std::vector<Index>& layer_sizes, Activation act, Output out)
    : activation(act), output(out) {
  require(layer_sizes.size() >= 2, "layer_sizes needs at least 2 entries (inputs, outputs)");
  Index offset = 0;
  for (std::size_t l = 0; l + 1 < layer_sizes.size(); ++l) {
    require(layer_sizes[l] >= 1 && layer_sizes[l + 1] >= 1,
            "layer_sizes must be positive integers");
    layers.push_back({layer_sizes[l], layer_sizes[l + 1], offset});
    offset += layers.back().n_params();
  }
}

Index Network::max_width() const {
  Index w = 0;
  for (const Layer& L : layers) w = std::max(w, L.fan_out);
  return w;
}

double Data::weight_sum() const {
  if (!sample_weight) return static_cast<double>(n);
  double total = 0.0;
  for (Index i = 0; i < n; ++i) total += sample_weight[i];
  return total;
}

void forward(const Network& net, const Data& data, const double* theta, bool mean, double* out,
             int n_threads) {
  const Index K = net.n_outputs();
  for_each_block<ForwardBlock>(
      data.n, n_threads, [&] { return ForwardBlock(net, data.X, kBlockRows, false); },
      [&](ForwardBlock& fwd, Index i0, Index m) {
        fwd.run(net, theta, i0, m);
        for (Index i = 0; i < m; ++i) {
          double* dst = out + (i0 + i) * K;
          if (mean) output::mean(net.output, fwd.eta_row(i), K, dst);
          else std::copy(fwd.eta_row(i), fwd.eta_row(i) + K, dst);
        }
      });
}

namespace {

struct ProductState {
  double quad = 0.0;  // sum_i s_i (J_i v)^T Lambda_i (J_i v)
  Vector out;         // sum_i s_i J_i^T Lambda_i J_i v
  ForwardBlock fwd;
  BackwardBlock back;                // s_i Lambda_i J_i v back-propagated
  std::vector<RowMatrix> tangent;    // dz_l, block x fan_out
  RowMatrix da;                      // da_{l-1}, block x max width
  Vector mu;
};

}  // namespace

double fisher_vector_product(const Network& net, const Data& data, const double* theta,
                             const double* v, double* out, int n_threads) {
  const Index K = net.n_outputs(), p = net.n_params(), L = net.n_layers();
  const Index block = kBlockRows;
  auto init = [&] {
    ProductState st;
    st.out = Vector::Zero(p);
    st.fwd = ForwardBlock(net, data.X, block, true);
    st.back = BackwardBlock(net, block, 1);
    for (const Layer& layer : net.layers) st.tangent.emplace_back(block, layer.fan_out);
    st.da.resize(block, net.max_width());
    st.mu.resize(K);
    return st;
  };
  auto body = [&](ProductState& st, Index i0, Index m) {
    st.fwd.run(net, theta, i0, m);
    for (Index l = 0; l < L; ++l) {  // tangents: dz_l from dz_{l-1}
      const Layer& layer = net.layers[l];
      auto dz = st.tangent[l].topRows(m);
      dz.noalias() = st.fwd.input(l, layer) * weights(layer, v);
      dz.rowwise() += bias(layer, v);
      if (l > 0) {
        const Layer& below = net.layers[l - 1];
        Eigen::Map<RowMatrix> da(st.da.data(), m, below.fan_out);
        da = st.tangent[l - 1].topRows(m).cwiseProduct(st.fwd.derivative(l - 1));
        dz.noalias() += da * weights(layer, theta);
      }
    }
    double* u = st.back.top();
    for (Index i = 0; i < m; ++i) {
      const double s = data.sample_weight ? data.sample_weight[i0 + i] : 1.0;
      const double* eta = st.fwd.eta_row(i);
      const double* jv = st.tangent[L - 1].row(i).data();
      output::mean(net.output, eta, K, st.mu.data());
      output::apply_fisher(net.output, eta, st.mu.data(), K, jv, u + i * K);
      double dot = 0.0;
      for (Index k = 0; k < K; ++k) {
        dot += jv[k] * u[i * K + k];
        u[i * K + k] *= s;
      }
      st.quad += s * dot;
    }
    st.back.propagate(net, theta, st.fwd);
    add_layer_gradients(net, st.fwd, st.back, st.out.data());
  };
  std::vector<ProductState> states =
      for_each_block<ProductState>(data.n, n_threads, init, body, block);
  const ProductState& total = reduce_in_order(states, [](ProductState& acc,
                                                         const ProductState& part) {
    acc.quad += part.quad;
    acc.out += part.out;
  });
  const double scale = 1.0 / data.weight_sum();
  VectorMap(out, p) = scale * total.out;
  return scale * total.quad;
}

}  // namespace ngdx::nn
