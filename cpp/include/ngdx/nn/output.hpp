// The output layer of a network: one row's K linear predictors eta through the output
// family. The one-output formulas are the GLM families' (glm/families.hpp), applied to each
// output; the softmax is family::Multinomial. See the table in python/ngdx/nn/_reference.py.
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>

#include "ngdx/base/rng.hpp"
#include "ngdx/glm/families.hpp"
#include "ngdx/nn/network.hpp"

namespace ngdx::nn::output {

/// Uniforms one output's sampler may read (the reference's DRAWS): output k of a row reads
/// its row stream from draw k * draws(output) on.
inline std::uint64_t draws(Output out) { return out == Output::poisson ? 2000 : 2; }

/// The multinomial label of a row as an index, or std::invalid_argument (it indexes eta).
inline int label(double y, Index K) {
  if (!(y >= 0.0 && y < static_cast<double>(K) && y == std::floor(y)))
    throw std::invalid_argument("y must hold class labels 0.." + std::to_string(K - 1) +
                                " for output 'multinomial', got " + std::to_string(y));
  return static_cast<int>(y);
}

/// mu = the family's mean at eta (K).
inline void mean(Output out, const double* eta, Index K, double* mu) {
  switch (out) {
    case Output::multinomial: family::Multinomial::softmax(eta, mu, static_cast<int>(K)); break;
    case Output::logistic:
      for (Index k = 0; k < K; ++k) mu[k] = family::Logistic::mean(eta[k]);
      break;
    case Output::gaussian:
      for (Index k = 0; k < K; ++k) mu[k] = eta[k];
      break;
    case Output::poisson:
      for (Index k = 0; k < K; ++k) mu[k] = std::exp(eta[k]);
      break;
  }
}

/// -log p(y | eta) of one row; fills mu (the mean) and r = d(-log p)/d eta = mu - y.
/// y is the row's label (multinomial) or its K targets.
inline double loss_and_residual(Output out, const double* eta, const double* y, Index K,
                                double* mu, double* r) {
  double loss = 0.0;
  switch (out) {
    case Output::multinomial: {
      const int c = label(y[0], K), k = static_cast<int>(K);
      loss = family::Multinomial::nll(eta, c, mu, k);
      family::Multinomial::residual(mu, c, r, k);
      break;
    }
    case Output::logistic:  // targets in [0, 1]: the cross-entropy softplus(eta) - y eta
      for (Index k = 0; k < K; ++k) {
        const double e = std::exp(-std::fabs(eta[k]));
        const double inv = 1.0 / (1.0 + e);
        const double m = eta[k] >= 0.0 ? inv : e * inv;   // sigmoid(eta)
        const double nu = eta[k] >= 0.0 ? e * inv : inv;  // sigmoid(-eta) = 1 - m
        // max(eta, 0) - y eta + log1p(e): exact for y in {0, 1} (no cancellation)
        loss += (eta[k] > 0.0 ? (1.0 - y[k]) * eta[k] : -y[k] * eta[k]) + std::log1p(e);
        r[k] = y[k] == 1.0 ? -nu : m - y[k];
        mu[k] = m;
      }
      break;
    case Output::gaussian:
      for (Index k = 0; k < K; ++k) {
        loss += family::Gaussian::loss(eta[k], y[k]);
        mu[k] = eta[k];
        r[k] = eta[k] - y[k];
      }
      break;
    case Output::poisson:
      for (Index k = 0; k < K; ++k) {
        loss += family::Poisson::loss(eta[k], y[k]);
        mu[k] = std::exp(eta[k]);
        r[k] = mu[k] - y[k];
      }
      break;
  }
  return loss;
}

/// The diagonal of Lambda for the one-output families (w_k = dmu_k / deta_k).
inline double fisher_weight(Output out, double eta, double mu) {
  switch (out) {
    case Output::logistic: return family::Logistic::fisher_w(eta);
    case Output::poisson: return mu;
    default: return 1.0;
  }
}

/// q = column k of Lambda's square root (Lambda = sum_k q_k q_k^T), written with stride
/// `stride`: sqrt(mu_k) (e_k - mu) for the softmax, sqrt(w_k) e_k otherwise.
inline void fisher_sqrt(Output out, const double* eta, const double* mu, Index K, Index k,
                        double* q, Index stride = 1) {
  if (out == Output::multinomial) {
    const double root = std::sqrt(mu[k]);
    for (Index j = 0; j < K; ++j) q[j * stride] = -root * mu[j];
    q[k * stride] = root * family::Multinomial::complement(mu, static_cast<int>(k),
                                                           static_cast<int>(K));
    return;
  }
  for (Index j = 0; j < K; ++j) q[j * stride] = 0.0;
  q[k * stride] = std::sqrt(fisher_weight(out, eta[k], mu[k]));
}

/// out = Lambda u (K): mu * u - mu (mu . u) for the softmax, w * u otherwise.
inline void apply_fisher(Output out, const double* eta, const double* mu, Index K,
                         const double* u, double* res) {
  if (out == Output::multinomial) {
    double mu_u = 0.0;
    for (Index k = 0; k < K; ++k) mu_u += mu[k] * u[k];
    for (Index k = 0; k < K; ++k) res[k] = mu[k] * (u[k] - mu_u);
    return;
  }
  for (Index k = 0; k < K; ++k) res[k] = fisher_weight(out, eta[k], mu[k]) * u[k];
}

/// q = mu - y~ with y~ drawn from the model at eta from `stream` (the row's stream for
/// one sample): the softmax by inversion of draw 0; output k of the others with the GLM
/// sampler reading from draw k * draws(out) on.
inline void sampled_residual(Output out, const double* eta, const double* mu, Index K,
                             const rng::Stream& stream, double* q) {
  if (out == Output::multinomial) {
    const int c = family::Multinomial::sample(mu, static_cast<int>(K), stream);
    family::Multinomial::residual(mu, c, q, static_cast<int>(K));
    return;
  }
  for (Index k = 0; k < K; ++k) {
    const rng::Stream s = stream.shifted(static_cast<std::uint64_t>(k) * draws(out));
    double target = 0.0;
    switch (out) {
      case Output::logistic: target = family::Logistic::sample(eta[k], s); break;
      case Output::gaussian: target = family::Gaussian::sample(eta[k], s); break;
      default: target = family::Poisson::sample(eta[k], s); break;
    }
    q[k] = mu[k] - target;
  }
}

/// Whether a row is misclassified: its first most probable class is not its label
/// (multinomial), or any output is on the wrong side of 1/2 (logistic); never otherwise.
inline bool misclassified(Output out, const double* eta, const double* y, Index K) {
  if (out == Output::multinomial) {
    Index top = 0;
    for (Index k = 1; k < K; ++k) top = eta[k] > eta[top] ? k : top;
    return top != static_cast<Index>(y[0]);
  }
  if (out == Output::logistic) {
    for (Index k = 0; k < K; ++k)
      if ((eta[k] > 0.0) != (y[k] > 0.5)) return true;
  }
  return false;
}

}  // namespace ngdx::nn::output
