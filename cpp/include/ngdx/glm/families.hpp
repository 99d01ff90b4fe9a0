// GLM families: per-row negative log-likelihood, its derivatives in the linear
// predictor eta, the Fisher weight, samplers and the KL divergence.
//
// For one row with label y and linear predictor eta (K = 1):
//   loss(eta, y)      = -log p(y | eta), all constants included
//   dloss(eta, y)     = d loss / d eta                    ("r": score = -x * r)
//   fisher_w(eta)     = E_y[dloss^2] = E_y[d2 loss / d eta2]
//   hessian_w(eta, y) = d2 loss / d eta2
//   sample(eta, s)    = a label drawn from p(. | eta) with the uniforms of stream s
//   kl(eta_p, eta_q)  = KL(p(. | eta_p) || p(. | eta_q))
//   classifies        = whether the label is a class (then eta > 0 predicts y = 1)
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "ngdx/base/rng.hpp"
#include "ngdx/base/special.hpp"

namespace ngdx::family {

/// One term p * (delta + expm1(-delta)) of a discrete KL, delta = log p - log q. Since
/// sum_k p_k (q_k / p_k - 1) = 0, KL = sum_k p_k (delta_k + exp(-delta_k) - 1): every term
/// is >= 0 and O(delta^2), so small steps lose no digits to cancellation.
/// Where q >> p (delta < -1) the term is p delta + q - p as it stands: p exp(-delta) = q
/// would overflow or, once p underflows to 0, drop q from the sum.
inline double kl_term(double log_p, double log_q) {
  const double p = std::exp(log_p);
  const double delta = log_p - log_q;
  if (!(delta >= -1.0)) return p * (p == 0.0 ? 0.0 : delta) + (std::exp(log_q) - p);
  return p * (delta + std::expm1(-delta));
}

/// Bernoulli KL from the log-probabilities of the two outcomes under p and q.
inline double bernoulli_kl(double log_p1, double log_p0, double log_q1, double log_q0) {
  return kl_term(log_p1, log_q1) + kl_term(log_p0, log_q0);
}

/// What the fused pass needs of one row: loss, r = d loss / d eta, and the Fisher weight.
struct RowValues {
  double loss, r, fisher_w;
};

/// RowValues from a family's separate functions (families with a cheaper joint form
/// define their own values()).
template <class F>
RowValues row_values(double eta, double y) {
  return {F::loss(eta, y), F::dloss(eta, y), F::fisher_w(eta)};
}

/// Bernoulli with logit link; y in {0, 1}.
struct Logistic {
  static constexpr bool classifies = true;
  /// loss, r and weight from one exp and one log1p (the separate functions take four exps).
  static RowValues values(double eta, double y) {
    const double e = std::exp(-std::fabs(eta));
    const double inv = 1.0 / (1.0 + e);
    const double mu = eta >= 0.0 ? inv : e * inv;  // sigmoid(eta)
    const double nu = eta >= 0.0 ? e * inv : inv;  // sigmoid(-eta)
    const bool pos = y > 0.5;
    const double loss = (pos ? std::max(-eta, 0.0) : std::max(eta, 0.0)) + std::log1p(e);
    return {loss, pos ? -nu : mu, mu * nu};
  }
  static double loss(double eta, double y) {
    return y > 0.5 ? special::softplus(-eta) : special::softplus(eta);
  }
  static double dloss(double eta, double y) {
    return y > 0.5 ? -special::sigmoid(-eta) : special::sigmoid(eta);
  }
  static double fisher_w(double eta) { return special::sigmoid(eta) * special::sigmoid(-eta); }
  static double hessian_w(double eta, double) { return fisher_w(eta); }
  static double mean(double eta) { return special::sigmoid(eta); }
  static double sample(double eta, const rng::Stream& s) {
    return s.uniform(0) < special::sigmoid(eta) ? 1.0 : 0.0;
  }
  static double kl(double ep, double eq) {
    return bernoulli_kl(-special::softplus(-ep), -special::softplus(ep),
                        -special::softplus(-eq), -special::softplus(eq));
  }
};

/// Bernoulli with probit link Phi; y in {0, 1}.
struct Probit {
  static constexpr bool classifies = true;
  static RowValues values(double eta, double y) { return row_values<Probit>(eta, y); }
  static double loss(double eta, double y) {
    return y > 0.5 ? -special::log_ndtr(eta) : -special::log_ndtr(-eta);
  }
  static double dloss(double eta, double y) {
    return y > 0.5 ? -special::inv_mills(eta) : special::inv_mills(-eta);
  }
  /// phi^2 / (Phi (1 - Phi)) = lambda(eta) lambda(-eta).
  static double fisher_w(double eta) { return special::inv_mills(eta) * special::inv_mills(-eta); }
  static double hessian_w(double eta, double y) {
    return y > 0.5 ? special::inv_mills_curvature(eta) : special::inv_mills_curvature(-eta);
  }
  static double mean(double eta) { return special::ndtr(eta); }
  static double sample(double eta, const rng::Stream& s) {
    return s.uniform(0) < special::ndtr(eta) ? 1.0 : 0.0;
  }
  static double kl(double ep, double eq) {
    return bernoulli_kl(special::log_ndtr(ep), special::log_ndtr(-ep), special::log_ndtr(eq),
                        special::log_ndtr(-eq));
  }
};

/// Poisson with log link; y >= 0 (log y! included through lgamma(y + 1)).
struct Poisson {
  static constexpr bool classifies = false;
  /// loss, r and weight from one exp (the separate functions take three).
  static RowValues values(double eta, double y) {
    const double mu = std::exp(eta);
    return {mu - y * eta + special::log_factorial(y), mu - y, mu};
  }
  static double loss(double eta, double y) {
    return std::exp(eta) - y * eta + special::log_factorial(y);
  }
  static double dloss(double eta, double y) { return std::exp(eta) - y; }
  static double fisher_w(double eta) { return std::exp(eta); }
  static double hessian_w(double eta, double) { return std::exp(eta); }
  static double mean(double eta) { return std::exp(eta); }
  /// Inversion for small rates, Hormann's PTRS transformed rejection otherwise.
  static double sample(double eta, const rng::Stream& s) {
    const double lam = std::exp(eta);
    if (!(lam < 1e15)) return lam;  // beyond any count a double holds exactly
    if (lam < 12.0) {
      const double u = s.uniform(0);
      double k = 0.0, pk = std::exp(-lam), cdf = pk;
      while (u >= cdf && k < 1000.0) {
        k += 1.0;
        pk *= lam / k;
        cdf += pk;
      }
      return k;
    }
    const double slam = std::sqrt(lam), loglam = std::log(lam);
    const double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    const double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2.0);
    for (std::uint64_t j = 0; j < 1000; ++j) {
      const double U = s.uniform(2 * j) - 0.5, V = s.uniform(2 * j + 1);
      const double us = 0.5 - std::fabs(U);
      const double k = std::floor((2.0 * a / us + b) * U + lam + 0.43);
      if (us >= 0.07 && V <= vr) return k;
      if (k < 0.0 || (us < 0.013 && V > us)) continue;
      if (std::log(V) + std::log(invalpha) - std::log(a / (us * us) + b) <=
          -lam + k * loglam - special::lgamma_threadsafe(k + 1.0))
        return k;
    }
    return std::floor(lam);  // not reached in practice (acceptance rate > 0.9)
  }
  static double kl(double ep, double eq) {
    const double delta = ep - eq;  // lam_p * (delta + exp(-delta) - 1)
    return std::exp(ep) * (std::expm1(-delta) + delta);
  }
};

/// Normal with identity link and unit variance (0.5 log 2 pi included).
struct Gaussian {
  static constexpr bool classifies = false;
  static RowValues values(double eta, double y) { return row_values<Gaussian>(eta, y); }
  static double loss(double eta, double y) {
    const double r = eta - y;
    return 0.5 * r * r + 0.5 * special::kLog2Pi;
  }
  static double dloss(double eta, double y) { return eta - y; }
  static double fisher_w(double) { return 1.0; }
  static double hessian_w(double, double) { return 1.0; }
  static double mean(double eta) { return eta; }
  /// Box-Muller.
  static double sample(double eta, const rng::Stream& s) {
    const double radius = std::sqrt(-2.0 * std::log1p(-s.uniform(0)));
    return eta + radius * std::cos(2.0 * M_PI * s.uniform(1));
  }
  static double kl(double ep, double eq) {
    const double delta = ep - eq;
    return 0.5 * delta * delta;
  }
};

/// Softmax over K classes: helpers on one row's eta (length K).
struct Multinomial {
  /// prob[k] = softmax(eta)[k]; returns (m, rest) with m = max eta and
  /// rest = sum over k != argmax of exp(eta_k - m), so that log-sum-exp = m + log1p(rest)
  /// keeps the digits of lse - eta_y when y is the likely class and the loss is tiny.
  static std::pair<double, double> softmax_parts(const double* eta, double* prob, int K) {
    int top = 0;
    for (int k = 1; k < K; ++k) top = eta[k] > eta[top] ? k : top;
    const double m = eta[top];
    double rest = 0.0;
    for (int k = 0; k < K; ++k) {
      prob[k] = std::exp(eta[k] - m);
      if (k != top) rest += prob[k];
    }
    for (int k = 0; k < K; ++k) prob[k] /= 1.0 + rest;
    return {m, rest};
  }
  /// Fills prob = softmax(eta); returns log-sum-exp(eta).
  static double softmax(const double* eta, double* prob, int K) {
    const auto [m, rest] = softmax_parts(eta, prob, K);
    return m + std::log1p(rest);
  }
  /// KL(softmax(eta_p) || softmax(eta_q)) from log-probabilities (eta_k - m) - log1p(rest),
  /// never eta_k - lse: with |eta| ~ 1e20, lse rounds to m and every log-probability
  /// to 0. prob_p and prob_q are scratch of length K.
  static double kl(const double* eta_p, const double* eta_q, double* prob_p, double* prob_q,
                   int K) {
    const auto [mp, rp] = softmax_parts(eta_p, prob_p, K);
    const auto [mq, rq] = softmax_parts(eta_q, prob_q, K);
    const double lp = std::log1p(rp), lq = std::log1p(rq);
    double kl = 0.0;
    for (int k = 0; k < K; ++k) kl += kl_term((eta_p[k] - mp) - lp, (eta_q[k] - mq) - lq);
    return kl;
  }
  /// Fills prob = softmax(eta); returns -log prob[y] = lse - eta_y, accurate when tiny.
  static double nll(const double* eta, int y, double* prob, int K) {
    const auto [m, rest] = softmax_parts(eta, prob, K);
    return (m - eta[y]) + std::log1p(rest);
  }
  /// r = prob - e_y, with r_y = -(sum of the other probabilities): no cancellation in
  /// prob_y - 1 when y is the likely class.
  static void residual(const double* prob, int y, double* r, int K) {
    double others = 0.0;
    for (int k = 0; k < K; ++k) {
      r[k] = prob[k];
      if (k != y) others += prob[k];
    }
    r[y] = -others;
  }
  /// 1 - prob[k], as the sum of the other probabilities for a class above 1/2 (where
  /// 1 - prob[k] would cancel); the diagonal of diag(prob) - prob prob^T is prob * this.
  static double complement(const double* prob, int k, int K) {
    if (prob[k] <= 0.5) return 1.0 - prob[k];
    double others = 0.0;
    for (int j = 0; j < K; ++j)
      if (j != k) others += prob[j];
    return others;
  }
  /// Smallest k with u < prob[0] + ... + prob[k].
  static int sample(const double* prob, int K, const rng::Stream& s) {
    const double u = s.uniform(0);
    double cdf = 0.0;
    for (int k = 0; k < K - 1; ++k) {
      cdf += prob[k];
      if (u < cdf) return k;
    }
    return K - 1;
  }
};

}  // namespace ngdx::family
