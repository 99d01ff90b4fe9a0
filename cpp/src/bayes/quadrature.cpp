// Gaussian expectations of one-output GLM terms by quadrature (ngdx/bayes/quadrature.hpp).
#include "ngdx/bayes/quadrature.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "ngdx/base/parallel.hpp"
#include "ngdx/glm/row_family.hpp"
#include "ngdx/linalg/gram.hpp"

#include <Eigen/Eigenvalues>

namespace ngdx {

namespace {

/// He_{n-1}(x) and He_n(x), the probabilists' Hermite polynomials, by their recurrence.
inline std::pair<double, double> hermite(Index n, double x) {
  double prev = 1.0, cur = x;  // He_0, He_1
  for (Index k = 1; k < n; ++k) {
    const double next = x * cur - static_cast<double>(k) * prev;
    prev = cur;
    cur = next;
  }
  return {prev, cur};
}

/// The n-point Gauss-Hermite rule for N(0, 1), n >= 2, appended to the vectors: nodes
/// from the eigenvalues of the Jacobi matrix (Golub-Welsch) polished by Newton's method
/// on He_n, weights n! / (n He_{n-1}(x))^2 scaled to sum to 1 (the eigenvectors' squared
/// first components were 1e-14 off, enough to show in E[loss] of a nearly certain row).
inline void append_gauss_hermite(Index n, std::vector<double>& nodes,
                                 std::vector<double>& weights) {
  Matrix J = Matrix::Zero(n, n);
  for (Index k = 1; k < n; ++k) J(k, k - 1) = J(k - 1, k) = std::sqrt(static_cast<double>(k));
  const Eigen::VectorXd x0 = Eigen::SelfAdjointEigenSolver<Matrix>(J, Eigen::EigenvaluesOnly)
                                 .eigenvalues();
  const Index begin = static_cast<Index>(weights.size());
  double total = 0.0;
  for (Index k = 0; k < n; ++k) {
    double x = x0[k];
    for (int it = 0; it < 3; ++it) {  // He_n'(x) = n He_{n-1}(x)
      const auto [h1, h] = hermite(n, x);
      x -= h / (static_cast<double>(n) * h1);
    }
    const double h1 = hermite(n, x).first;
    const double w = 1.0 / (h1 * h1);  // the weight, up to the common n! / n^2
    nodes.push_back(x);
    weights.push_back(w);
    total += w;
  }
  for (Index k = begin; k < begin + n; ++k) weights[k] /= total;
}

/// The rule of a pass: the caller's (q nodes, weights summing to 1) and, for the
/// logistic rows' vectorized evaluation, the same padded with zero-weight nodes at 0 to a
/// multiple of Lanes, after two shorter Gauss-Hermite rules for rows whose eta is nearly
/// certain: the 8-point rule where sd <= 0.08 and the 16-point rule where sd <= 0.25 (when
/// q is larger). There the short rule is already exact to rounding for the logistic
/// terms: against a 64-point rule, relative differences of at most 3e-15 (8 points, sd
/// 0.1) and 1.2e-14 (16 points, sd 0.3) over means in [-700, 700] and both labels
/// (test_logistic_short_rules_are_exact_to_rounding). The gain is most of the pass's node
/// evaluations, since a large n makes every row's sd small.
struct Rule {
  static constexpr Index Lanes = 8;
  using Chunk = Eigen::Array<double, Lanes, 1>;
  struct Part {
    double max_sd;
    Index begin, end;  // a padded rule in padded_nodes/padded_weights
  };
  Index q;
  const double *nodes, *weights;
  std::vector<double> padded_nodes, padded_weights;
  std::vector<Part> parts;  // short rules first, then the caller's (max_sd infinite)

  Rule(Index q_, const double* nodes_, const double* weights_)
      : q(q_), nodes(nodes_), weights(weights_) {
    for (const auto& [n, max_sd] : {std::pair<Index, double>{8, 0.08}, {16, 0.25}}) {
      if (q <= n) break;
      const Index begin = static_cast<Index>(padded_nodes.size());
      append_gauss_hermite(n, padded_nodes, padded_weights);
      parts.push_back({max_sd, begin, begin + n});
    }
    const Index begin = static_cast<Index>(padded_nodes.size());
    const Index padded = (q + Lanes - 1) / Lanes * Lanes;
    for (Index k = 0; k < padded; ++k) {
      padded_nodes.push_back(k < q ? nodes[k] : 0.0);
      padded_weights.push_back(k < q ? weights[k] : 0.0);
    }
    parts.push_back({std::numeric_limits<double>::infinity(), begin, begin + padded});
  }

  /// The padded rule for a row of standard deviation sd.
  const Part& part(double sd) const {
    for (const Part& p : parts)
      if (sd <= p.max_sd) return p;
    return parts.back();
  }
};

/// loss, dloss and the observed Hessian weight at one node, for the scalar families.
/// Logistic: its joint values() (the Hessian of a canonical link is the Fisher weight).
/// Poisson: one exp, and log y! left to the caller (added once a row: the weights sum to
/// 1). Others: the three functions.
template <class F>
inline family::RowValues node_values(double eta, double y) {
  if constexpr (std::is_same_v<F, family::Logistic>) {
    return F::values(eta, y);
  } else if constexpr (std::is_same_v<F, family::Poisson>) {
    const double mu = std::exp(eta);
    return {mu - y * eta, mu - y, mu};
  } else {
    return {F::loss(eta, y), F::dloss(eta, y), F::hessian_w(eta, y)};
  }
}

/// The logistic row, Rule::Lanes nodes at a time: the rule evaluates the terms q times a
/// row, the costliest part of the pass, and the scalar exp and log1p dominated it. The
/// same formulas as Logistic::values (one exp(-|eta|); the Hessian of the canonical link
/// is the Fisher weight), with log1p(e) by Kahan's log(u) e / (u - 1), u = 1 + e
/// (vectorized; within a few ulps of log1p), and exp(-|eta|) by std::exp beyond |eta| = 40
/// (where Eigen's vectorized exp loses digits, 1.7e-14 relative at -440, and does not
/// underflow: it clamps its argument at about -709).
inline void logistic_row(double mean, double sd, double y, const Rule& rule, double& l,
                         double& d1, double& d2) {
  using Chunk = Rule::Chunk;
  const bool pos = y > 0.5;
  Chunk L = Chunk::Zero(), D1 = Chunk::Zero(), D2 = Chunk::Zero();
  const Rule::Part& part = rule.part(sd);
  for (Index k = part.begin; k < part.end; k += Rule::Lanes) {
    const Chunk eta = mean + sd * Eigen::Map<const Chunk>(rule.padded_nodes.data() + k);
    const Chunk w = Eigen::Map<const Chunk>(rule.padded_weights.data() + k);
    const Chunk a = eta.abs();
    Chunk e = (-a).exp();
    if ((a > 40.0).any())  // Eigen's exp: ~1e-14 relative at -440, clamped at -709
      for (Index j = 0; j < Rule::Lanes; ++j) e[j] = std::exp(-a[j]);
    const Chunk u = 1.0 + e;
    const Chunk log1p_e = (u == 1.0).select(e, u.log() * e / (u - 1.0));
    const Chunk inv = u.inverse();
    const auto nonneg = eta >= 0.0;
    const Chunk mu = nonneg.select(inv, e * inv), nu = nonneg.select(e * inv, inv);
    const Chunk margin = pos ? Chunk(-eta) : eta;  // loss = max(margin, 0) + log1p(e)
    L += w * (margin.max(0.0) + log1p_e);
    D1 += w * (pos ? Chunk(-nu) : mu);
    D2 += w * (mu * nu);
  }
  l = L.sum();
  d1 = D1.sum();
  d2 = D2.sum();
}

/// One row's three expectations by the rule, at eta ~ N(mean, sd^2).
template <class F>
inline void row_expectations(double mean, double sd, double y, const Rule& rule, double& l,
                             double& d1, double& d2) {
  if (sd == 0.0) {  // a point (the Laplace start's pass): every rule gives the terms at mean
    const family::RowValues v = node_values<F>(mean, y);
    l = v.loss;
    d1 = v.r;
    d2 = v.fisher_w;
    if constexpr (std::is_same_v<F, family::Poisson>) l += special::log_factorial(y);
  } else if constexpr (std::is_same_v<F, family::Logistic>) {
    logistic_row(mean, sd, y, rule, l, d1, d2);
  } else {
    l = d1 = d2 = 0.0;
    for (Index k = 0; k < rule.q; ++k) {
      const family::RowValues v = node_values<F>(mean + sd * rule.nodes[k], y);
      l += rule.weights[k] * v.loss;
      d1 += rule.weights[k] * v.r;
      d2 += rule.weights[k] * v.fisher_w;
    }
    if constexpr (std::is_same_v<F, family::Poisson>) l += special::log_factorial(y);
  }
}

struct NoState {};

template <class F>
void expectations(Index n, const double* mean, const double* var, const double* y, Index q,
                  const double* nodes, const double* weights, double* loss_out,
                  double* d1_out, double* d2_out, int n_threads) {
  const Rule rule(q, nodes, weights);
  for_each_block<NoState>(n, n_threads, [] { return NoState(); },
                          [&](NoState&, Index i0, Index m) {
                            for (Index i = i0; i < i0 + m; ++i)
                              row_expectations<F>(mean[i], std::sqrt(var[i]), y[i], rule,
                                                  loss_out[i], d1_out[i], d2_out[i]);
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
  const Rule rule(q, nodes, weights);
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
      row_expectations<F>(eta[i], std::sqrt(st.var[i]), pb.y[i0 + i], rule, l, d1, d2);
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
