// Gaussian expectations of one-output GLM terms by quadrature (ngdx/bayes/quadrature.hpp).
#include "ngdx/bayes/quadrature.hpp"

#include <cmath>
#include <stdexcept>

#include "ngdx/base/parallel.hpp"
#include "ngdx/glm/row_family.hpp"
#include "ngdx/linalg/gram.hpp"

namespace ngdx {

namespace {

/// One row's three expectations by the rule, at eta ~ N(mean, sd^2).
template <class F>
inline void row_expectations(double mean, double sd, double y, Index q, const double* nodes,
                             const double* weights, double& l, double& d1, double& d2) {
  l = d1 = d2 = 0.0;
  for (Index k = 0; k < q; ++k) {
    const double eta = mean + sd * nodes[k];
    l += weights[k] * F::loss(eta, y);
    d1 += weights[k] * F::dloss(eta, y);
    d2 += weights[k] * F::hessian_w(eta, y);
  }
}

struct NoState {};

template <class F>
void expectations(Index n, const double* mean, const double* var, const double* y, Index q,
                  const double* nodes, const double* weights, double* loss_out,
                  double* d1_out, double* d2_out, int n_threads) {
  for_each_block<NoState>(n, n_threads, [] { return NoState(); },
                          [&](NoState&, Index i0, Index m) {
                            for (Index i = i0; i < i0 + m; ++i)
                              row_expectations<F>(mean[i], std::sqrt(var[i]), y[i], q, nodes,
                                                  weights, loss_out[i], d1_out[i], d2_out[i]);
                          });
}

/// Per-thread accumulators and scratch of the fused pass, allocated once per pass.
struct FusedState {
  double loss = 0.0;
  Vector grad, eta, var, r, w;
  RowMatrix Z;
  Matrix hess;  // lower triangle, padded (see GramWorkspace)
  RowBlockReader reader;
  GramWorkspace gram;
};

template <class F>
double fused(const Problem& pb, const double* mean, const double* factor, Index q,
             const double* nodes, const double* weights, double* grad_out, double* hess_out,
             int n_threads) {
  const Index d = pb.d, dp = pb.dp();
  const ConstVectorMap coef(mean, d);
  const double intercept = pb.fit_intercept ? mean[d] : 0.0;
  const Index block = gram_block_rows(dp);
  const GramKernel& kernel = gram_kernel();
  auto init = [&] {
    FusedState st;
    st.grad = Vector::Zero(dp);
    st.eta.resize(block);
    st.var = Vector::Zero(block);
    st.r.resize(block);
    st.w.resize(block);
    if (factor) st.Z.resize(block, dp);
    st.reader = RowBlockReader(pb.rows(), block);
    st.gram = GramWorkspace(kernel, block, dp);
    st.hess = st.gram.zero_accumulator();
    return st;
  };
  auto body = [&](FusedState& st, Index i0, Index m) {
    const ConstRowMatrixMap Xb = st.reader.block(i0, m);
    auto eta = st.eta.head(m);
    eta.noalias() = Xb * coef;
    if (pb.fit_intercept) eta.array() += intercept;
    if (factor) {  // var_i = ||F^T x~_i||^2: row i of X~ F
      const ConstRowMatrixMap Fm(factor, dp, dp);
      auto Z = st.Z.topRows(m);
      Z.noalias() = Xb * Fm.topRows(d);
      if (pb.fit_intercept) Z.rowwise() += Fm.row(d);
      st.var.head(m) = Z.rowwise().squaredNorm();
    }
    for (Index i = 0; i < m; ++i) {
      const double s = pb.sample_weight ? pb.sample_weight[i0 + i] : 1.0;
      double l, d1, d2;
      row_expectations<F>(eta[i], std::sqrt(st.var[i]), pb.y[i0 + i], q, nodes, weights, l,
                          d1, d2);
      st.loss += s * l;
      st.r[i] = s * d1;
      st.w[i] = s * d2;
    }
    st.grad.head(d).noalias() += Xb.transpose() * st.r.head(m);
    if (pb.fit_intercept) st.grad[d] += st.r.head(m).sum();
    st.gram.set_block(Xb.data(), pb.rows(), pb.n, i0, m, pb.fit_intercept);
    st.gram.add(st.w.data(), st.hess);
  };
  std::vector<FusedState> states = for_each_block<FusedState>(pb.n, n_threads, init, body, block);
  const FusedState& total = reduce_in_order(states, [](FusedState& acc, const FusedState& part) {
    acc.loss += part.loss;
    acc.grad += part.grad;
    acc.hess += part.hess;
  });
  VectorMap(grad_out, dp) = total.grad;
  write_symmetric(total.hess, dp, 1.0, hess_out);
  return total.loss;
}

}  // namespace

double quadrature_fused_pass(Model model, const Problem& pb, const double* mean,
                             const double* factor, Index q, const double* nodes,
                             const double* weights, double* grad_out, double* hess_out,
                             int n_threads) {
  pb.check(model);
  return family::dispatch_scalar(model, [&](auto f) {
    return fused<decltype(f)>(pb, mean, factor, q, nodes, weights, grad_out, hess_out,
                              n_threads);
  });
}

void quadrature_pass(Model model, Index n, const double* mean, const double* var,
                     const double* y, Index q, const double* nodes, const double* weights,
                     double* loss_out, double* d1_out, double* d2_out, int n_threads) {
  family::dispatch_scalar(model, [&](auto f) {
    expectations<decltype(f)>(n, mean, var, y, q, nodes, weights, loss_out, d1_out, d2_out,
                              n_threads);
  });
}

}  // namespace ngdx
