// Numerically stable scalar functions: softplus, sigmoid, log Phi and the Mills ratio.
#pragma once

#include <array>
#include <cmath>

namespace ngdx::special {

constexpr double kLogSqrt2Pi = 0.91893853320467274178;  // log(sqrt(2 pi))
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kLog2Pi = 1.83787706640934548356;

/// log(1 + exp(x)) without overflow.
inline double softplus(double x) {
  return x > 0.0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

/// 1 / (1 + exp(-x)) without overflow.
inline double sigmoid(double x) {
  if (x >= 0.0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

/// Below this, Phi(x) is evaluated through Laplace's continued fraction for the Mills ratio.
constexpr double kProbitTail = -5.0;
constexpr int kContinuedFractionTerms = 40;

/// t + start / (t + (start + 1) / (t + ...)), t >= 5: converged to rounding with 40 terms.
inline double mills_continued_fraction(double t, int start) {
  double f = t;
  for (int k = start + kContinuedFractionTerms - 1; k >= start; --k) f = t + k / f;
  return f;
}

/// Standard normal cdf Phi(x).
inline double ndtr(double x) { return 0.5 * std::erfc(-x * kInvSqrt2); }

/// log Phi(x), accurate for every finite x.
inline double log_ndtr(double x) {
  if (x >= 0.0) return std::log1p(-0.5 * std::erfc(x * kInvSqrt2));
  if (x >= kProbitTail) return std::log(0.5 * std::erfc(-x * kInvSqrt2));
  const double t = -x;  // Phi(-t) = phi(t) / g0(t)
  return -0.5 * t * t - kLogSqrt2Pi - std::log(mills_continued_fraction(t, 1));
}

/// Inverse Mills ratio phi(x) / Phi(x), accurate for every finite x.
inline double inv_mills(double x) {
  if (x >= kProbitTail) return std::exp(-0.5 * x * x - kLogSqrt2Pi) / ndtr(x);
  return mills_continued_fraction(-x, 1);
}

/// lambda(x) * (x + lambda(x)) with lambda = inv_mills: the curvature -d^2/dx^2 log Phi(x),
/// in (0, 1); the tail form avoids the cancellation in x + lambda(x).
inline double inv_mills_curvature(double x) {
  if (x >= kProbitTail) {
    const double lam = inv_mills(x);
    return lam * (x + lam);
  }
  const double t = -x;
  const double g1 = mills_continued_fraction(t, 2);  // lambda = t + 1 / g1, x + lambda = 1 / g1
  return (t + 1.0 / g1) / g1;
}

/// log Gamma(x), thread-safe (std::lgamma writes the global signgam on glibc).
inline double lgamma_threadsafe(double x) {
#if defined(__GLIBC__) || defined(__APPLE__)
  int sign;
  return ::lgamma_r(x, &sign);
#else
  return std::lgamma(x);
#endif
}

/// Counts below this have their log-factorial read from a table.
constexpr int kLogFactorialTable = 256;

/// log(y!) = lgamma(y + 1), for any y >= 0 (a Poisson label): small whole counts, the
/// usual labels, from a table of the same lgamma values (lgamma_r costs ~20 ns a row, the
/// rest of a Poisson row's pass a few).
inline double log_factorial(double y) {
  static const auto table = [] {
    std::array<double, kLogFactorialTable> t{};
    for (int k = 0; k < kLogFactorialTable; ++k) t[k] = lgamma_threadsafe(k + 1.0);
    return t;
  }();
  if (y >= 0.0 && y < kLogFactorialTable) {
    const int k = static_cast<int>(y);
    if (k == y) return table[k];
  }
  return lgamma_threadsafe(y + 1.0);
}

}  // namespace ngdx::special
