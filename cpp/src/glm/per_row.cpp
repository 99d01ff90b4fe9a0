// Per-sample scores, predicted means, mean KL, Fisher-vector products and MC labels.
#include "ngdx/glm/per_row.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "ngdx/base/parallel.hpp"
#include "ngdx/glm/families.hpp"
#include "ngdx/glm/row_family.hpp"

namespace ngdx {

namespace {

/// Linear predictor of one block: eta (m x K) = X_b coef + intercept, X_b (m x d) the
/// block's rows as a RowBlockReader gives them.
struct Predictor {
  const Problem& pb;
  const double* theta;
  void operator()(const ConstRowMatrixMap& Xb, RowMatrix& eta) const {
    const Index d = pb.d, K = pb.n_classes, m = Xb.rows();
    eta.resize(m, K);
    eta.noalias() = Xb * ConstRowMatrixMap(theta, d, K);
    if (pb.fit_intercept)
      for (Index i = 0; i < m; ++i)
        for (Index k = 0; k < K; ++k) eta(i, k) += theta[d * K + k];
  }
};

/// The per-thread state of a kernel that needs only eta and the block's rows.
struct EtaState {
  RowMatrix eta;
  RowBlockReader reader;
};

/// A new EtaState for pb's rows.
inline EtaState eta_state(const Problem& pb) {
  return {RowMatrix(), RowBlockReader(pb.rows(), kBlockRows)};
}

template <class F>
void scores_scalar(const Problem& pb, const double* theta, double* out, int n_threads) {
  const Index d = pb.d, p = pb.n_params();
  const Predictor predict{pb, theta};
  for_each_block<EtaState>(pb.n, n_threads, [&] { return eta_state(pb); },
                           [&](EtaState& st, Index i0, Index m) {
                              const ConstRowMatrixMap Xb = st.reader.block(i0, m);
                              predict(Xb, st.eta);
                              for (Index i = 0; i < m; ++i) {
                                const double r = F::dloss(st.eta(i, 0), pb.y[i0 + i]);
                                const double* x = Xb.row(i).data();
                                double* s = out + (i0 + i) * p;
                                for (Index j = 0; j < d; ++j) s[j] = -r * x[j];
                                if (pb.fit_intercept) s[d] = -r;
                              }
                            });
}

void scores_multinomial(const Problem& pb, const double* theta, double* out, int n_threads) {
  const Index d = pb.d, K = pb.n_classes, p = pb.n_params();
  const Predictor predict{pb, theta};
  struct State {
    EtaState base;
    Vector prob, r;
  };
  for_each_block<State>(
      pb.n, n_threads, [&] { return State{eta_state(pb), Vector(K), Vector(K)}; },
      [&](State& st, Index i0, Index m) {
        const ConstRowMatrixMap Xb = st.base.reader.block(i0, m);
        RowMatrix& eta = st.base.eta;
        predict(Xb, eta);
        for (Index i = 0; i < m; ++i) {
          const Index y = static_cast<Index>(pb.y[i0 + i]);
          family::Multinomial::softmax(&eta(i, 0), st.prob.data(), static_cast<int>(K));
          family::Multinomial::residual(st.prob.data(), static_cast<int>(y), st.r.data(),
                                        static_cast<int>(K));
          const double* x = Xb.row(i).data();
          double* s = out + (i0 + i) * p;
          for (Index j = 0; j < d; ++j)
            for (Index k = 0; k < K; ++k) s[j * K + k] = -x[j] * st.r[k];
          if (pb.fit_intercept)
            for (Index k = 0; k < K; ++k) s[d * K + k] = -st.r[k];
        }
      });
}

template <class F>
double kl_scalar(const Problem& pb, const double* tp, const double* tq, int n_threads) {
  struct State {
    RowMatrix eta_p, eta_q;
    RowBlockReader reader;
    double sum = 0.0;
  };
  const Predictor pp{pb, tp}, pq{pb, tq};
  auto states = for_each_block<State>(pb.n, n_threads,
                                      [&] {
                                        State st;
                                        st.reader = RowBlockReader(pb.rows(), kBlockRows);
                                        return st;
                                      },
                                      [&](State& st, Index i0, Index m) {
                                        const ConstRowMatrixMap Xb = st.reader.block(i0, m);
                                        pp(Xb, st.eta_p);
                                        pq(Xb, st.eta_q);
                                        for (Index i = 0; i < m; ++i) {
                                          const double s =
                                              pb.sample_weight ? pb.sample_weight[i0 + i] : 1.0;
                                          st.sum += s * F::kl(st.eta_p(i, 0), st.eta_q(i, 0));
                                        }
                                      });
  double total = 0.0;
  for (const State& st : states) total += st.sum;
  return total / pb.weight_sum();
}

double kl_multinomial(const Problem& pb, const double* tp, const double* tq, int n_threads) {
  const Index K = pb.n_classes;
  struct State {
    RowMatrix eta_p, eta_q;
    Vector prob_p, prob_q;
    RowBlockReader reader;
    double sum = 0.0;
  };
  const Predictor pp{pb, tp}, pq{pb, tq};
  auto states = for_each_block<State>(
      pb.n, n_threads,
      [&] {
        return State{RowMatrix(), RowMatrix(), Vector(K), Vector(K),
                     RowBlockReader(pb.rows(), kBlockRows), 0.0};
      },
      [&](State& st, Index i0, Index m) {
        const ConstRowMatrixMap Xb = st.reader.block(i0, m);
        pp(Xb, st.eta_p);
        pq(Xb, st.eta_q);
        for (Index i = 0; i < m; ++i) {
          const double kl = family::Multinomial::kl(&st.eta_p(i, 0), &st.eta_q(i, 0),
                                                    st.prob_p.data(), st.prob_q.data(),
                                                    static_cast<int>(K));
          const double s = pb.sample_weight ? pb.sample_weight[i0 + i] : 1.0;
          st.sum += s * kl;
        }
      });
  double total = 0.0;
  for (const State& st : states) total += st.sum;
  return total / pb.weight_sum();
}

template <class F>
void labels_scalar(const Problem& pb, const double* theta, Index S, std::uint64_t seed,
                   double* out, int n_threads) {
  const Predictor predict{pb, theta};
  for_each_block<EtaState>(pb.n, n_threads, [&] { return eta_state(pb); },
                           [&](EtaState& st, Index i0, Index m) {
                              predict(st.reader.block(i0, m), st.eta);
                              for (Index i = 0; i < m; ++i)
                                for (Index s = 0; s < S; ++s) {
                                  const rng::Stream stream(seed, i0 + i, S, s);
                                  out[(i0 + i) * S + s] = F::sample(st.eta(i, 0), stream);
                                }
                            });
}

void labels_multinomial(const Problem& pb, const double* theta, Index S, std::uint64_t seed,
                        double* out, int n_threads) {
  const Index K = pb.n_classes;
  const Predictor predict{pb, theta};
  struct State {
    EtaState base;
    Vector prob;
  };
  for_each_block<State>(
      pb.n, n_threads, [&] { return State{eta_state(pb), Vector(K)}; },
      [&](State& st, Index i0, Index m) {
        predict(st.base.reader.block(i0, m), st.base.eta);
        for (Index i = 0; i < m; ++i) {
          family::Multinomial::softmax(&st.base.eta(i, 0), st.prob.data(), static_cast<int>(K));
          for (Index s = 0; s < S; ++s) {
            const rng::Stream stream(seed, i0 + i, S, s);
            out[(i0 + i) * S + s] =
                family::Multinomial::sample(st.prob.data(), static_cast<int>(K), stream);
          }
        }
      });
}

/// Per-thread state of the Fisher-vector product.
struct FvpState {
  RowMatrix eta, u, z;  // block rows x K: predictor, X v, and W (X v) scaled by weights
  RowMatrix out;        // dp x K
  Vector prob;
  RowBlockReader reader;
  double quad = 0.0;
};

template <class RowWeights>
double fvp_generic(const Problem& pb, const double* theta, const double* v, double* out,
                   int n_threads, RowWeights row_weights) {
  const Index d = pb.d, K = pb.n_classes, dp = pb.dp();
  const Predictor predict{pb, theta}, project{pb, v};
  auto states = for_each_block<FvpState>(
      pb.n, n_threads,
      [&] {
        FvpState st;
        st.out = RowMatrix::Zero(dp, K);
        st.prob.resize(K);
        st.reader = RowBlockReader(pb.rows(), kBlockRows);
        return st;
      },
      [&](FvpState& st, Index i0, Index m) {
        const ConstRowMatrixMap Xb = st.reader.block(i0, m);
        predict(Xb, st.eta);
        project(Xb, st.u);
        st.z.resize(m, K);
        for (Index i = 0; i < m; ++i) {
          const double s = pb.sample_weight ? pb.sample_weight[i0 + i] : 1.0;
          row_weights(&st.eta(i, 0), &st.u(i, 0), &st.z(i, 0), st.prob.data());  // z = W u
          double q = 0.0;
          for (Index k = 0; k < K; ++k) {
            q += st.u(i, k) * st.z(i, k);
            st.z(i, k) *= s;
          }
          st.quad += s * q;
        }
        st.out.topRows(d).noalias() += Xb.transpose() * st.z;
        if (pb.fit_intercept) st.out.row(d) += st.z.colwise().sum();
      });
  const FvpState& total = reduce_in_order(states, [](FvpState& acc, const FvpState& part) {
    acc.out += part.out;
    acc.quad += part.quad;
  });
  const double scale = 1.0 / pb.weight_sum();
  RowMatrixMap(out, dp, K) = scale * total.out;
  return scale * total.quad;
}

using family::dispatch_scalar;

}  // namespace

void scores(Model model, const Problem& pb, const double* theta, double* out, int n_threads) {
  pb.check(model);
  if (model == Model::multinomial) return scores_multinomial(pb, theta, out, n_threads);
  dispatch_scalar(model, [&](auto f) {
    scores_scalar<decltype(f)>(pb, theta, out, n_threads);
    return 0;
  });
}

void predict_mean(Model model, const Problem& pb, const double* theta, double* out,
                  int n_threads) {
  pb.check(model, false);
  const Index K = pb.n_classes;
  const Predictor predict{pb, theta};
  auto fill = [&](auto per_row) {
    for_each_block<EtaState>(pb.n, n_threads, [&] { return eta_state(pb); },
                             [&](EtaState& st, Index i0, Index m) {
                               predict(st.reader.block(i0, m), st.eta);
                               for (Index i = 0; i < m; ++i)
                                 per_row(&st.eta(i, 0), out + (i0 + i) * K);
                             });
  };
  if (model == Model::multinomial) {
    fill([K](const double* eta, double* mu) {
      family::Multinomial::softmax(eta, mu, static_cast<int>(K));
    });
    return;
  }
  dispatch_scalar(model, [&](auto f) {
    using F = decltype(f);
    fill([](const double* eta, double* mu) { mu[0] = F::mean(eta[0]); });
    return 0;
  });
}

double mean_kl(Model model, const Problem& pb, const double* tp, const double* tq,
               int n_threads) {
  pb.check(model, false);
  if (model == Model::multinomial) return kl_multinomial(pb, tp, tq, n_threads);
  return dispatch_scalar(model,
                         [&](auto f) { return kl_scalar<decltype(f)>(pb, tp, tq, n_threads); });
}

double fisher_vector_product(Model model, const Problem& pb, const double* theta,
                             const double* v, double* out, int n_threads) {
  pb.check(model, false);
  if (model == Model::multinomial) {
    const int K = static_cast<int>(pb.n_classes);
    return fvp_generic(pb, theta, v, out, n_threads,
                       [K](const double* eta, const double* u, double* z, double* prob) {
                         family::Multinomial::softmax(eta, prob, K);  // W = diag(p) - p p^T
                         double pu = 0.0;
                         for (int k = 0; k < K; ++k) pu += prob[k] * u[k];
                         for (int k = 0; k < K; ++k) z[k] = prob[k] * (u[k] - pu);
                       });
  }
  return dispatch_scalar(model, [&](auto f) {
    using F = decltype(f);
    return fvp_generic(pb, theta, v, out, n_threads,
                       [](const double* eta, const double* u, double* z, double*) {
                         z[0] = F::fisher_w(eta[0]) * u[0];
                       });
  });
}

void sample_labels(Model model, const Problem& pb, const double* theta, Index S,
                   std::uint64_t seed, double* out, int n_threads) {
  pb.check(model, false);
  require(S >= 1, "n_samples must be >= 1");
  if (model == Model::multinomial) return labels_multinomial(pb, theta, S, seed, out, n_threads);
  dispatch_scalar(model, [&](auto f) {
    labels_scalar<decltype(f)>(pb, theta, S, seed, out, n_threads);
    return 0;
  });
}

}  // namespace ngdx
