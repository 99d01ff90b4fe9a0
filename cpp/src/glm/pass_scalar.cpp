// The fused pass for the one-output families (logistic, probit, poisson, gaussian).
#include <vector>

#include "ngdx/base/parallel.hpp"
#include "ngdx/glm/families.hpp"
#include "ngdx/glm/pass.hpp"
#include "ngdx/glm/row_family.hpp"
#include "ngdx/linalg/gram.hpp"

namespace ngdx {
namespace {

/// Per-thread accumulators and scratch, allocated once per pass.
struct ScalarState {
  double loss = 0.0, x_squares = 0.0;
  Index n_misclassified = 0;
  Vector grad, diag;
  Matrix curvature;  // lower triangle, padded (see GramWorkspace)
  Vector eta, r, w;
  RowBlockReader reader;
  GramWorkspace gram;
};

using family::curvature_weight;  // one-output families, shared with the CSR pass

template <class F>
PassResult pass(const Problem& pb, const double* theta_ptr, const PassRequest& req, int n_threads) {
  const Index d = pb.d, dp = pb.dp();
  const bool full = req.kind != Curvature::none && !req.diagonal;
  const bool diag = req.kind != Curvature::none && req.diagonal;
  const ConstVectorMap coef(theta_ptr, d);
  const double intercept = pb.fit_intercept ? theta_ptr[d] : 0.0;

  const Index block = full ? gram_block_rows(dp) : kBlockRows;
  const GramKernel& kernel = gram_kernel();
  auto init = [&] {
    ScalarState st;
    st.grad = Vector::Zero(dp);
    st.eta.resize(block);
    st.r.resize(block);
    st.w.resize(block);
    st.reader = RowBlockReader(pb.rows(), block);
    if (diag) st.diag = Vector::Zero(dp);
    if (full) {
      st.gram = GramWorkspace(kernel, block, dp);
      st.curvature = st.gram.zero_accumulator();
    }
    return st;
  };
  auto body = [&](ScalarState& st, Index i0, Index m) {
    const ConstRowMatrixMap Xb = st.reader.block(i0, m);
    auto eta = st.eta.head(m);
    auto r = st.r.head(m);
    auto w = st.w.head(m);
    eta.noalias() = Xb * coef;
    if (req.x_squares) st.x_squares += Xb.squaredNorm();
    if (pb.fit_intercept) eta.array() += intercept;
    for (Index i = 0; i < m; ++i) {
      const double y = pb.y[i0 + i], s = pb.sample_weight ? pb.sample_weight[i0 + i] : 1.0;
      const family::RowValues v = F::values(eta[i], y);
      st.loss += s * v.loss;
      if (F::classifies && s > 0.0 && (eta[i] > 0.0) != (y > 0.5)) ++st.n_misclassified;
      if (req.kind != Curvature::none)
        w[i] = s * curvature_weight<F>(req.kind, eta[i], y, v, i0 + i, req);
      r[i] = s * v.r;
    }
    st.grad.head(d).noalias() += Xb.transpose() * r;
    if (pb.fit_intercept) st.grad[d] += r.sum();
    if (diag) add_weighted_square(Xb.data(), m, d, pb.fit_intercept, w.data(), st.diag.data());
    if (full) {
      st.gram.set_block(Xb.data(), pb.rows(), pb.n, i0, m, pb.fit_intercept);
      st.gram.add(w.data(), st.curvature);
    }
  };
  std::vector<ScalarState> states =
      for_each_block<ScalarState>(pb.n, n_threads, init, body, block);

  const ScalarState& total =
      reduce_in_order(states, [&](ScalarState& acc, const ScalarState& part) {
        add_pass_sums(acc, part, diag);
        acc.x_squares += part.x_squares;
        if (full) acc.curvature += part.curvature;
      });
  const double scale = 1.0 / pb.weight_sum();
  if (req.grad) VectorMap(req.grad, dp) = scale * total.grad;
  if (req.x_squares) *req.x_squares = total.x_squares;
  if (diag) VectorMap(req.curvature, dp) = scale * total.diag;
  if (full) write_symmetric(total.curvature, dp, scale, req.curvature);
  return {scale * total.loss, total.n_misclassified};
}

template <class F>
void weights(const Problem& pb, const double* theta_ptr, const PassRequest& req, double* out,
             int n_threads) {
  const Index d = pb.d;
  const ConstVectorMap coef(theta_ptr, d);
  const double intercept = pb.fit_intercept ? theta_ptr[d] : 0.0;
  struct State {
    Vector eta;
    RowBlockReader reader;
  };
  auto init = [&] { return State{Vector(kBlockRows), RowBlockReader(pb.rows(), kBlockRows)}; };
  for_each_block<State>(pb.n, n_threads, init,
                        [&](State& st, Index i0, Index m) {
                          auto eta = st.eta.head(m);
                          eta.noalias() = st.reader.block(i0, m) * coef;
                          for (Index i = 0; i < m; ++i) {
                            const double e = eta[i] + intercept, y = pb.y[i0 + i];
                            const double s = pb.sample_weight ? pb.sample_weight[i0 + i] : 1.0;
                            out[i0 + i] = s * curvature_weight<F>(req.kind, e, y,
                                                                  F::values(e, y), i0 + i, req);
                          }
                        });
}

}  // namespace

void curvature_weights(Model model, const Problem& pb, const double* theta,
                       const PassRequest& req, double* out, int n_threads) {
  pb.check(model);
  require(model != Model::multinomial, "curvature_weights: one-output models only");
  require(req.kind != Curvature::none, "curvature_weights: a curvature kind is needed");
  require(req.kind != Curvature::mc || req.n_samples >= 1, "n_samples must be >= 1");
  switch (model) {
    case Model::logistic: return weights<family::Logistic>(pb, theta, req, out, n_threads);
    case Model::probit: return weights<family::Probit>(pb, theta, req, out, n_threads);
    case Model::poisson: return weights<family::Poisson>(pb, theta, req, out, n_threads);
    case Model::gaussian: return weights<family::Gaussian>(pb, theta, req, out, n_threads);
    case Model::multinomial: break;
  }
}

PassResult fused_pass_scalar(Model model, const Problem& pb, const double* theta,
                             const PassRequest& req, int n_threads) {
  switch (model) {
    case Model::logistic: return pass<family::Logistic>(pb, theta, req, n_threads);
    case Model::probit: return pass<family::Probit>(pb, theta, req, n_threads);
    case Model::poisson: return pass<family::Poisson>(pb, theta, req, n_threads);
    case Model::gaussian: return pass<family::Gaussian>(pb, theta, req, n_threads);
    case Model::multinomial: break;
  }
  throw std::invalid_argument("fused_pass_scalar: not a one-output model");
}

}  // namespace ngdx
