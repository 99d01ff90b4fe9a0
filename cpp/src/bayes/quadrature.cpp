// Gaussian expectations of one-output GLM terms by quadrature (ngdx/bayes/quadrature.hpp).
#include "ngdx/bayes/quadrature.hpp"

#include <cmath>
#include <stdexcept>

#include "ngdx/base/parallel.hpp"
#include "ngdx/glm/families.hpp"

namespace ngdx {

namespace {

struct NoState {};

template <class F>
void expectations(Index n, const double* mean, const double* var, const double* y, Index q,
                  const double* nodes, const double* weights, double* loss_out,
                  double* d1_out, double* d2_out, int n_threads) {
  for_each_block<NoState>(n, n_threads, [] { return NoState(); },
                          [&](NoState&, Index i0, Index m) {
                            for (Index i = i0; i < i0 + m; ++i) {
                              const double sd = std::sqrt(var[i]);
                              double l = 0.0, d1 = 0.0, d2 = 0.0;
                              for (Index k = 0; k < q; ++k) {
                                const double eta = mean[i] + sd * nodes[k];
                                l += weights[k] * F::loss(eta, y[i]);
                                d1 += weights[k] * F::dloss(eta, y[i]);
                                d2 += weights[k] * F::hessian_w(eta, y[i]);
                              }
                              loss_out[i] = l;
                              d1_out[i] = d1;
                              d2_out[i] = d2;
                            }
                          });
}

}  // namespace

void quadrature_pass(Model model, Index n, const double* mean, const double* var,
                     const double* y, Index q, const double* nodes, const double* weights,
                     double* loss_out, double* d1_out, double* d2_out, int n_threads) {
  switch (model) {
    case Model::logistic:
      return expectations<family::Logistic>(n, mean, var, y, q, nodes, weights, loss_out,
                                            d1_out, d2_out, n_threads);
    case Model::probit:
      return expectations<family::Probit>(n, mean, var, y, q, nodes, weights, loss_out,
                                          d1_out, d2_out, n_threads);
    case Model::poisson:
      return expectations<family::Poisson>(n, mean, var, y, q, nodes, weights, loss_out,
                                           d1_out, d2_out, n_threads);
    case Model::gaussian:
      return expectations<family::Gaussian>(n, mean, var, y, q, nodes, weights, loss_out,
                                            d1_out, d2_out, n_threads);
    case Model::multinomial: break;
  }
  throw std::invalid_argument("quadrature_pass: one-output models only");
}

}  // namespace ngdx
