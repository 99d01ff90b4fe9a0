// The fused pass of a network: one sweep over the row blocks of X that computes, per block,
// the forward pass, the loss, the residual back-propagated into the gradient, and the
// output vectors q of the Fisher's kind back-propagated as one stack of V m rows into the
// K-FAC factors (A_l the weighted Gram of [a_{l-1}, 1], G_l that of the stack at layer l)
// or the dense Fisher (the weighted Gram of the per-vector gradients J_i^T q).
//
// Memory: per thread, O(block x V x sum of the widths) and the accumulators; never n rows.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ngdx/base/parallel.hpp"
#include "ngdx/linalg/gram.hpp"
#include "ngdx/nn/layers.hpp"
#include "ngdx/nn/output.hpp"

namespace ngdx::nn {
namespace {

/// Output vectors per row: K columns of Lambda's square root, one residual, or one
/// residual per Monte Carlo sample.
Index vectors_per_row(const PassRequest& req, Index K) {
  if (req.curvature == Curvature::none) return 0;
  if (req.kind == FisherKind::fisher_true) return K;
  return req.kind == FisherKind::mc ? req.n_mc_samples : 1;
}

/// Rows per block. K-FAC: the stack of V m vectors stays near 1024 rows (its Grams pack it
/// into L2). Dense: V m p ~ 1e6 doubles for the per-vector gradients.
Index pass_block_rows(const PassRequest& req, Index V, Index p) {
  switch (req.curvature) {
    case Curvature::kfac: return std::clamp<Index>(1024 / V, 16, kBlockRows);
    case Curvature::dense: return std::clamp<Index>(1000000 / (V * p), 1, kBlockRows);
    default: return kBlockRows;
  }
}

struct PassState {
  double loss = 0.0;
  Index n_misclassified = 0;
  Vector grad;
  ForwardBlock fwd;
  BackwardBlock residual;  // s_i r_i, one per row (unless shared with q)
  RowMatrix weighted;      // shared with weights: s_i g_i, block x the widest layer
  BackwardBlock q;         // the output vectors, V per row
  Vector q_weight;         // s_i of stack row v m + i
  RowMatrix mu;            // block x K
  Vector scratch;          // K: a residual nothing else needs
  std::vector<GramWorkspace> gram_a, gram_g;
  std::vector<Matrix> acc_a, acc_g;
  GramWorkspace gram_f;
  Matrix acc_f;
  RowMatrix per_vector;  // dense: V block x p gradients J_i^T q
};

/// Writes row v m + i of the dense per-vector gradients: a~_{l-1} kron g_l for every layer.
void write_per_vector_gradient(const Network& net, const ForwardBlock& fwd,
                               const BackwardBlock& q, Index i, Index row, double* out) {
  for (Index l = 0; l < net.n_layers(); ++l) {
    const Layer& L = net.layers[l];
    const double* a = fwd.input_data(l) + i * L.fan_in;
    const double* g = q.g_data(l) + row * L.fan_out;
    double* dst = out + L.offset;
    for (Index j = 0; j < L.fan_in; ++j, dst += L.fan_out)
      for (Index o = 0; o < L.fan_out; ++o) dst[o] = a[j] * g[o];
    std::copy(g, g + L.fan_out, dst);
  }
}

}  // namespace

PassResult fused_pass(const Network& net, const Data& data, const double* theta,
                      const PassRequest& req, int n_threads) {
  const Index K = net.n_outputs(), p = net.n_params(), L = net.n_layers();
  const Output out = net.output;
  const bool labels = data.y != nullptr;
  const bool kfac = req.curvature == Curvature::kfac, dense = req.curvature == Curvature::dense;
  const Index V = vectors_per_row(req, K);
  const Index y_stride = out == Output::multinomial ? 1 : K;
  const Index block = pass_block_rows(req, V, p);
  // the true Fisher's vectors of a one-output family are sqrt(w_k) e_k (see fisher_sqrt)
  const bool diagonal_q = req.kind == FisherKind::fisher_true && out != Output::multinomial;
  // the empirical Fisher's vector is the residual: one back-propagation serves both
  const bool shared = req.grad && V > 0 && req.kind == FisherKind::empirical;
  const GramKernel& kernel = gram_kernel();

  auto init = [&] {
    PassState st;
    st.fwd = ForwardBlock(net, data.X, block, req.grad || V > 0);
    st.mu.resize(block, K);
    st.scratch.resize(K);
    if (req.grad) st.grad = Vector::Zero(p);
    if (req.grad && !shared) st.residual = BackwardBlock(net, block, 1);
    if (shared && data.sample_weight) st.weighted.resize(block, net.max_width());
    if (V > 0) {
      st.q = BackwardBlock(net, block, V);
      st.q_weight.resize(V * block);
    }
    if (kfac)
      for (const Layer& layer : net.layers) {
        st.gram_a.emplace_back(kernel, block, layer.fan_in + 1);
        st.gram_g.emplace_back(kernel, V * block, layer.fan_out);
        st.acc_a.push_back(st.gram_a.back().zero_accumulator());
        st.acc_g.push_back(st.gram_g.back().zero_accumulator());
      }
    if (dense) {
      st.gram_f = GramWorkspace(kernel, V * block, p);
      st.acc_f = st.gram_f.zero_accumulator();
      st.per_vector.resize(V * block, p);
    }
    return st;
  };

  auto body = [&](PassState& st, Index i0, Index m) {
    st.fwd.run(net, theta, i0, m);
    double* res = req.grad && !shared ? st.residual.top() : nullptr;
    double* q = V > 0 ? st.q.top() : nullptr;
    for (Index i = 0; i < m; ++i) {
      const Index row = i0 + i;
      const double s = data.sample_weight ? data.sample_weight[row] : 1.0;
      const double* eta = st.fwd.eta_row(i);
      double* mu = st.mu.row(i).data();
      if (labels) {
        const double* y = data.y + row * y_stride;
        // r lands in q's stack (empirical), in the gradient's (scaled below) or in scratch
        double* r = req.kind == FisherKind::empirical && q ? q + i * K
                    : res                                   ? res + i * K
                                                            : st.scratch.data();
        st.loss += s * output::loss_and_residual(out, eta, y, K, mu, r);
        st.n_misclassified += output::misclassified(out, eta, y, K) ? 1 : 0;
        if (res)
          for (Index k = 0; k < K; ++k) res[i * K + k] = s * r[k];
      } else {
        output::mean(out, eta, K, mu);
      }
      if (V == 0) continue;
      switch (req.kind) {
        case FisherKind::fisher_true:
          for (Index k = 0; k < K; ++k)
            output::fisher_sqrt(out, eta, mu, K, k, q + (k * m + i) * K);
          break;
        case FisherKind::empirical: break;  // written above
        case FisherKind::mc:
          for (Index smp = 0; smp < V; ++smp) {
            const rng::Stream stream(req.seed, static_cast<std::uint64_t>(row),
                                     static_cast<std::uint64_t>(V),
                                     static_cast<std::uint64_t>(smp));
            output::sampled_residual(out, eta, mu, K, stream, q + (smp * m + i) * K);
          }
          break;
      }
      for (Index v = 0; v < V; ++v) st.q_weight[v * m + i] = s;
    }
    if (res) {
      st.residual.propagate(net, theta, st.fwd);
      add_layer_gradients(net, st.fwd, st.residual, st.grad.data());
    }
    if (V == 0) return;
    st.q.propagate(net, theta, st.fwd, diagonal_q);
    if (shared)
      add_layer_gradients(net, st.fwd, st.q, st.grad.data(),
                          data.sample_weight ? data.sample_weight + i0 : nullptr,
                          st.weighted.data());
    if (kfac) {
      const double* sw = data.sample_weight ? data.sample_weight + i0 : nullptr;
      for (Index l = 0; l < L; ++l) {
        const Layer& layer = net.layers[l];
        st.gram_a[l].set_rows(st.fwd.input_data(l), m, layer.fan_in, true);
        st.gram_a[l].add(sw, st.acc_a[l]);
        if (diagonal_q && l + 1 == L) {  // G_L = diag(sum_i s_i w_ik): no K m x K Gram
          for (Index k = 0; k < K; ++k)
            for (Index i = 0; i < m; ++i)
              st.acc_g[l](k, k) += st.q_weight[k * m + i] * q[(k * m + i) * K + k] *
                                   q[(k * m + i) * K + k];
          continue;
        }
        st.gram_g[l].set_rows(st.q.g_data(l), V * m, layer.fan_out, false);
        st.gram_g[l].add(st.q_weight.data(), st.acc_g[l]);
      }
    }
    if (dense) {
      for (Index v = 0; v < V; ++v)
        for (Index i = 0; i < m; ++i)
          write_per_vector_gradient(net, st.fwd, st.q, i, v * m + i,
                                    st.per_vector.row(v * m + i).data());
      st.gram_f.set_rows(st.per_vector.data(), V * m, p, false);
      st.gram_f.add(st.q_weight.data(), st.acc_f);
    }
  };
  std::vector<PassState> states = for_each_block<PassState>(data.n, n_threads, init, body, block);

  const PassState& total = reduce_in_order(states, [&](PassState& acc, const PassState& part) {
    acc.loss += part.loss;
    acc.n_misclassified += part.n_misclassified;
    if (req.grad) acc.grad += part.grad;
    for (Index l = 0; l < static_cast<Index>(acc.acc_a.size()); ++l) {
      acc.acc_a[l] += part.acc_a[l];
      acc.acc_g[l] += part.acc_g[l];
    }
    if (dense) acc.acc_f += part.acc_f;
  });
  const double scale = 1.0 / data.weight_sum();
  const double q_scale = req.kind == FisherKind::mc ? scale / static_cast<double>(V) : scale;
  if (req.grad) VectorMap(req.grad, p) = scale * total.grad;
  if (kfac)
    for (Index l = 0; l < L; ++l) {
      const Layer& layer = net.layers[l];
      write_symmetric(total.acc_a[l], layer.fan_in + 1, scale, req.factors[2 * l]);
      write_symmetric(total.acc_g[l], layer.fan_out, q_scale, req.factors[2 * l + 1]);
    }
  if (dense) write_symmetric(total.acc_f, p, q_scale, req.fisher);
  PassResult result;
  result.loss = labels ? scale * total.loss : std::numeric_limits<double>::quiet_NaN();
  result.n_misclassified = labels ? total.n_misclassified : 0;
  return result;
}

}  // namespace ngdx::nn
