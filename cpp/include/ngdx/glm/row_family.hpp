// What a kernel asks of a family about one row with K outputs, given its linear predictor
// eta (K): the fused pass's loss, residual r = d loss / d eta and curvature weight W
// (K x K, or its diagonal), the true Fisher's W u, the mean, the KL and a sampled label.
// One-output families (K = 1) and the softmax have the same interface, so a kernel is
// written once for all five; the link functions themselves are families.hpp's.
#pragma once

#include <cstdint>

#include "ngdx/glm/families.hpp"
#include "ngdx/glm/pass.hpp"

namespace ngdx::family {

/// One row's share of a pass: its (unweighted) loss and whether it is misclassified.
struct RowPass {
  double loss;
  bool wrong;
};

/// The uniforms of label draw `sample` of `row` in a Monte Carlo curvature.
inline rng::Stream mc_stream(const PassRequest& req, Index row, Index sample) {
  return rng::Stream(req.seed, static_cast<std::uint64_t>(row),
                     static_cast<std::uint64_t>(req.n_samples), static_cast<std::uint64_t>(sample));
}

/// Curvature weight of one row of a one-output family: d2/deta2 of the kind's quadratic form.
template <class F>
double curvature_weight(Curvature kind, double eta, double y, const RowValues& v, Index row,
                        const PassRequest& req) {
  switch (kind) {
    case Curvature::fisher_true: return v.fisher_w;
    case Curvature::hessian: return F::hessian_w(eta, y);
    case Curvature::empirical: return v.r * v.r;
    case Curvature::mc: {
      double acc = 0.0;
      for (Index s = 0; s < req.n_samples; ++s) {
        const double rs = F::dloss(eta, F::sample(eta, mc_stream(req, row, s)));
        acc += rs * rs;
      }
      return acc / static_cast<double>(req.n_samples);
    }
    case Curvature::none: break;
  }
  return 0.0;
}

/// A one-output family F as a K = 1 row family. `scratch` arguments are unused.
template <class F>
struct ScalarRow {
  static constexpr bool multi_output = false;
  Index K = 1;
  Index scratch_size() const { return 0; }

  /// r[0] and, unless req.kind is none, W[0]: the curvature weight of req.kind.
  RowPass pass(const PassRequest& req, const double* eta, double y, Index row, double* r,
               double* W, bool /*full*/, double* /*scratch*/) const {
    const RowValues v = F::values(eta[0], y);
    r[0] = v.r;
    if (req.kind != Curvature::none) W[0] = curvature_weight<F>(req.kind, eta[0], y, v, row, req);
    return {v.loss, F::classifies && (eta[0] > 0.0) != (y > 0.5)};
  }
  void residual(const double* eta, double y, double* r, double*) const { r[0] = F::dloss(eta[0], y); }
  /// z = W u with W the true Fisher weight.
  void fisher_times(const double* eta, const double* u, double* z, double*) const {
    z[0] = F::fisher_w(eta[0]) * u[0];
  }
  void mean(const double* eta, double* mu) const { mu[0] = F::mean(eta[0]); }
  double kl(const double* eta_p, const double* eta_q, double*) const {
    return F::kl(eta_p[0], eta_q[0]);
  }
  double sample(const double* eta, const rng::Stream& s, double*) const {
    return F::sample(eta[0], s);
  }
};

/// The softmax over K classes as a row family; scratch holds 3 K doubles.
struct MultinomialRow {
  static constexpr bool multi_output = true;
  Index K = 2;
  Index scratch_size() const { return 3 * K; }

  /// r = prob - e_y and, unless req.kind is none, W: K x K row-major when full, else its
  /// diagonal (K): diag(prob) - prob prob^T (true, hessian), r r^T (empirical) or the mean
  /// of r~ r~^T over sampled labels (mc).
  RowPass pass(const PassRequest& req, const double* eta, double y, Index row, double* r,
               double* W, bool full, double* scratch) const {
    const int k_ = static_cast<int>(K), yi = static_cast<int>(y);
    double* prob = scratch;
    const double loss = Multinomial::nll(eta, yi, prob, k_);
    bool correct = true;  // only when eta_y is the strict maximum
    for (int k = 0; k < k_; ++k) correct = correct && (k == yi || eta[k] < eta[yi]);
    Multinomial::residual(prob, yi, r, k_);
    switch (req.kind) {
      case Curvature::fisher_true:
      case Curvature::hessian:
        for (int k = 0; k < k_; ++k) {
          const double wkk = prob[k] * Multinomial::complement(prob, k, k_);
          if (!full) {
            W[k] = wkk;
            continue;
          }
          for (int l = 0; l < k_; ++l) W[k * K + l] = l == k ? wkk : -prob[k] * prob[l];
        }
        break;
      case Curvature::empirical: outer(r, 1.0, full, W, true); break;
      case Curvature::mc: {
        double* rs = scratch + K;
        const double share = 1.0 / static_cast<double>(req.n_samples);
        for (Index s = 0; s < req.n_samples; ++s) {
          const int ys = Multinomial::sample(prob, k_, mc_stream(req, row, s));
          Multinomial::residual(prob, ys, rs, k_);
          outer(rs, share, full, W, s == 0);
        }
        break;
      }
      case Curvature::none: break;
    }
    return {loss, !correct};
  }
  void residual(const double* eta, double y, double* r, double* scratch) const {
    Multinomial::softmax(eta, scratch, static_cast<int>(K));
    Multinomial::residual(scratch, static_cast<int>(y), r, static_cast<int>(K));
  }
  /// z = (diag(prob) - prob prob^T) u.
  void fisher_times(const double* eta, const double* u, double* z, double* scratch) const {
    double* prob = scratch;
    Multinomial::softmax(eta, prob, static_cast<int>(K));
    double pu = 0.0;
    for (Index k = 0; k < K; ++k) pu += prob[k] * u[k];
    for (Index k = 0; k < K; ++k) z[k] = prob[k] * (u[k] - pu);
  }
  void mean(const double* eta, double* mu) const {
    Multinomial::softmax(eta, mu, static_cast<int>(K));
  }
  double kl(const double* eta_p, const double* eta_q, double* scratch) const {
    return Multinomial::kl(eta_p, eta_q, scratch, scratch + K, static_cast<int>(K));
  }
  double sample(const double* eta, const rng::Stream& s, double* scratch) const {
    Multinomial::softmax(eta, scratch, static_cast<int>(K));
    return Multinomial::sample(scratch, static_cast<int>(K), s);
  }

 private:
  /// W (+)= weight v v^T (full) or its diagonal; `reset` overwrites instead of adding.
  void outer(const double* v, double weight, bool full, double* W, bool reset) const {
    for (Index k = 0; k < K; ++k)
      for (Index l = full ? 0 : k; l < (full ? K : k + 1); ++l) {
        double& w = W[full ? k * K + l : k];
        w = (reset ? 0.0 : w) + weight * v[k] * v[l];
      }
  }
};

/// fn(row_family) for the model: ScalarRow<F> for a one-output family, MultinomialRow{K}.
template <class Fn>
auto dispatch_row_family(Model model, Index n_classes, Fn&& fn) {
  switch (model) {
    case Model::logistic: return fn(ScalarRow<Logistic>());
    case Model::probit: return fn(ScalarRow<Probit>());
    case Model::poisson: return fn(ScalarRow<Poisson>());
    case Model::gaussian: return fn(ScalarRow<Gaussian>());
    case Model::multinomial: return fn(MultinomialRow{n_classes});
  }
  throw std::invalid_argument("unknown model");
}

/// Calls fn(Family()) for a one-output model (std::invalid_argument for multinomial).
template <class Fn>
auto dispatch_scalar(Model model, Fn&& fn) {
  switch (model) {
    case Model::logistic: return fn(Logistic());
    case Model::probit: return fn(Probit());
    case Model::poisson: return fn(Poisson());
    case Model::gaussian: return fn(Gaussian());
    case Model::multinomial: break;
  }
  throw std::invalid_argument("not a one-output model");
}

}  // namespace ngdx::family
