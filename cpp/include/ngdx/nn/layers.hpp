// One block of rows through the network: the forward pass (Eigen GEMM per layer) and the
// back-propagation of a stack of output vectors. Per-thread buffers of `block` rows,
// allocated once per pass; a block of m <= block rows uses their top m (or V m) rows.
#pragma once

#include <cmath>
#include <vector>

#include "ngdx/base/rows.hpp"
#include "ngdx/base/special.hpp"
#include "ngdx/nn/network.hpp"

namespace ngdx::nn {

/// theta's block of layer l as W (fan_in x fan_out) and b (1 x fan_out).
inline ConstRowMatrixMap weights(const Layer& L, const double* theta) {
  return {theta + L.offset, L.fan_in, L.fan_out};
}
inline Eigen::Map<const Eigen::RowVectorXd> bias(const Layer& L, const double* theta) {
  return {theta + L.offset + L.fan_in * L.fan_out, L.fan_out};
}

/// a = phi(z) and, when d is not null, d = phi'(z), elementwise over `size` entries.
inline void activate(Activation act, const double* z, Index size, double* a, double* d) {
  switch (act) {
    case Activation::relu:
      for (Index j = 0; j < size; ++j) a[j] = z[j] > 0.0 ? z[j] : 0.0;
      if (d)
        for (Index j = 0; j < size; ++j) d[j] = z[j] > 0.0 ? 1.0 : 0.0;
      break;
    case Activation::tanh:
      for (Index j = 0; j < size; ++j) a[j] = std::tanh(z[j]);
      if (d)
        for (Index j = 0; j < size; ++j) d[j] = 1.0 - a[j] * a[j];
      break;
    case Activation::logistic:
      for (Index j = 0; j < size; ++j) a[j] = special::sigmoid(z[j]);
      if (d)
        for (Index j = 0; j < size; ++j) d[j] = a[j] * (1.0 - a[j]);
      break;
    case Activation::identity:
      for (Index j = 0; j < size; ++j) a[j] = z[j];
      if (d)
        for (Index j = 0; j < size; ++j) d[j] = 1.0;
      break;
  }
}

/// The forward pass of one block: z_l, a_l and (when asked) phi'(z_l) of every layer.
class ForwardBlock {
 public:
  ForwardBlock() = default;
  ForwardBlock(const Network& net, const RowsView& X, Index block, bool derivatives)
      : reader_(X, block) {
    const Index L = net.n_layers();
    z_.resize(L);
    a_.resize(L - 1);
    if (derivatives) d_.resize(L - 1);
    for (Index l = 0; l < L; ++l) {
      z_[l].resize(block, net.layers[l].fan_out);
      if (l + 1 < L) {
        a_[l].resize(block, net.layers[l].fan_out);
        if (derivatives) d_[l].resize(block, net.layers[l].fan_out);
      }
    }
  }

  /// Rows i0 .. i0 + m of X through the network.
  void run(const Network& net, const double* theta, Index i0, Index m) {
    m_ = m;
    x_ = reader_.rows(i0, m);
    for (Index l = 0; l < net.n_layers(); ++l) {
      const Layer& L = net.layers[l];
      auto z = z_[l].topRows(m);
      z.noalias() = input(l, L) * weights(L, theta);
      z.rowwise() += bias(L, theta);
      if (l + 1 < net.n_layers())
        activate(net.activation, z.data(), m * L.fan_out, a_[l].data(),
                 d_.empty() ? nullptr : d_[l].data());
    }
  }

  Index rows() const { return m_; }
  /// Layer l's input a_{l-1} (m x fan_in): the block of X for the first layer.
  ConstRowMatrixMap input(Index l, const Layer& L) const {
    return {l == 0 ? x_ : a_[l - 1].data(), m_, L.fan_in};
  }
  const double* input_data(Index l) const { return l == 0 ? x_ : a_[l - 1].data(); }
  const double* eta_row(Index i) const { return z_.back().data() + i * z_.back().cols(); }
  /// phi'(z_l) of hidden layer l (0-based), m x fan_out.
  auto derivative(Index l) const { return d_[l].topRows(m_); }

 private:
  RowBlockReader reader_;
  std::vector<RowMatrix> z_, a_, d_;
  const double* x_ = nullptr;
  Index m_ = 0;
};

/// A stack of V output vectors per row back-propagated to every layer: g[l] holds, in
/// rows v m + i, d(q_v . eta_i) / d z_l of row i (V m x fan_out).
class BackwardBlock {
 public:
  BackwardBlock() = default;
  BackwardBlock(const Network& net, Index block, Index n_vectors) : V_(n_vectors) {
    g_.resize(net.n_layers());
    for (Index l = 0; l < net.n_layers(); ++l)
      g_[l].resize(block * n_vectors, net.layers[l].fan_out);
  }
  /// The output layer's stack (V m x K), to be filled before propagate().
  double* top() { return g_.back().data(); }
  /// Takes fwd's block of m rows, then g_{l-1} = (g_l W_l^T) * phi'(z_{l-1}) for l = L..2:
  /// one GEMM per layer for all V m vectors. `diagonal_top`: the stack is V = K vectors
  /// c e_k per row (rows k m + i; the true Fisher of a one-output family), so the output
  /// layer's step is c times W_L's column k, without the GEMM's K-fold work.
  void propagate(const Network& net, const double* theta, const ForwardBlock& fwd,
                 bool diagonal_top = false) {
    const Index m = m_ = fwd.rows();
    for (Index l = net.n_layers() - 1; l > 0; --l) {
      const Layer& L = net.layers[l];
      auto below = g_[l - 1].topRows(V_ * m);
      const auto W = weights(L, theta);
      if (diagonal_top && l + 1 == net.n_layers()) {
        for (Index k = 0; k < V_; ++k)
          for (Index i = 0; i < m; ++i)
            below.row(k * m + i) = g_[l](k * m + i, k) * W.col(k).transpose();
      } else {
        below.noalias() = g_[l].topRows(V_ * m) * W.transpose();
      }
      const auto d = fwd.derivative(l - 1);
      for (Index v = 0; v < V_; ++v) below.middleRows(v * m, m).array() *= d.array();
    }
  }
  /// Layer l's stack (V m x fan_out) for the current block of m rows.
  auto g(Index l) const { return g_[l].topRows(V_ * m_); }
  const double* g_data(Index l) const { return g_[l].data(); }

 private:
  std::vector<RowMatrix> g_;
  Index V_ = 1, m_ = 0;
};

/// grad (theta's layout) += sum over the block's rows of a~_{l-1} kron g_l, g the first
/// m rows of `bwd` (one vector per row), times row_weight[i] when given (then `scratch`,
/// at least block x the widest layer, holds the weighted rows).
inline void add_layer_gradients(const Network& net, const ForwardBlock& fwd,
                                const BackwardBlock& bwd, double* grad,
                                const double* row_weight = nullptr, double* scratch = nullptr) {
  const Index m = fwd.rows();
  for (Index l = 0; l < net.n_layers(); ++l) {
    const Layer& L = net.layers[l];
    auto add = [&](const auto& g) {
      RowMatrixMap(grad + L.offset, L.fan_in, L.fan_out).noalias() +=
          fwd.input(l, L).transpose() * g;
      Eigen::Map<Eigen::RowVectorXd>(grad + L.offset + L.fan_in * L.fan_out, L.fan_out) +=
          g.colwise().sum();
    };
    if (!row_weight) {
      add(bwd.g(l).topRows(m));
      continue;
    }
    RowMatrixMap weighted(scratch, m, L.fan_out);
    weighted.noalias() = ConstVectorMap(row_weight, m).asDiagonal() * bwd.g(l).topRows(m);
    add(weighted);
  }
}

}  // namespace ngdx::nn
