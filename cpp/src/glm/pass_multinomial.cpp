// The fused pass for the multinomial (softmax) family.
//
// theta is dp x K row-major. Per row: eta = x^T theta (K), prob = softmax(eta),
// loss = logsumexp(eta) - eta_y, r = prob - e_y, and a K x K curvature weight W:
//   true / hessian: diag(prob) - prob prob^T      empirical: r r^T
//   mc: mean over sampled labels of r~ r~^T.
// The full curvature sum_i (x_i x_i^T) kron W_i is built from its K(K+1)/2 distinct
// dp x dp blocks G_kl = sum_i W_i[k,l] x_i x_i^T, each a signed weighted Gram.
#include <vector>

#include "ngdx/base/parallel.hpp"
#include "ngdx/glm/families.hpp"
#include "ngdx/glm/pass.hpp"
#include "ngdx/linalg/gram.hpp"

namespace ngdx {
namespace {

struct MultinomialState {
  double loss = 0.0, x_squares = 0.0;
  Index n_misclassified = 0;
  RowMatrix grad;             // dp x K
  Vector diag;                // p
  std::vector<Matrix> blocks; // K(K+1)/2 padded lower triangles, pair (k <= l) at pair_index(k, l)
  RowMatrix eta, r;           // block rows x K
  RowMatrix w;                // block rows x K(K+1)/2 (or K when diagonal)
  RowMatrix wt;               // K(K+1)/2 x block rows: contiguous weights of one pair
  Vector prob, rs;
  RowBlockReader reader;
  GramWorkspace gram;
};

inline Index pair_index(Index k, Index l, Index K) { return k * K - k * (k - 1) / 2 + (l - k); }

}  // namespace

PassResult fused_pass_multinomial(const Problem& pb, const double* theta_ptr,
                                  const PassRequest& req, int n_threads) {
  const Index d = pb.d, dp = pb.dp(), K = pb.n_classes, p = dp * K;
  const Index n_pairs = K * (K + 1) / 2;
  const Curvature kind = req.kind;
  const bool full = kind != Curvature::none && !req.diagonal;
  const bool diag = kind != Curvature::none && req.diagonal;
  const Index n_weights = full ? n_pairs : (diag ? K : 0);
  const ConstRowMatrixMap coef(theta_ptr, d, K);
  const double* intercept = pb.fit_intercept ? theta_ptr + d * K : nullptr;

  const Index block = full ? gram_block_rows(dp) : kBlockRows;
  const GramKernel& kernel = gram_kernel();
  auto init = [&] {
    MultinomialState st;
    st.grad = RowMatrix::Zero(dp, K);
    st.eta.resize(block, K);
    st.r.resize(block, K);
    st.prob.resize(K);
    st.rs.resize(K);
    st.reader = RowBlockReader(pb.rows(), block);
    if (n_weights) st.w.resize(block, n_weights);
    if (diag) st.diag = Vector::Zero(p);
    if (full) {
      st.gram = GramWorkspace(kernel, block, dp);
      st.blocks.assign(n_pairs, st.gram.zero_accumulator());
      st.wt.resize(n_pairs, block);
    }
    return st;
  };

  // Adds weight * (v v^T), restricted to the stored entries, to row i of st.w.
  auto add_outer = [&](MultinomialState& st, Index i, const double* v, double weight) {
    double* wi = st.w.row(i).data();
    if (full) {
      for (Index k = 0; k < K; ++k)
        for (Index l = k; l < K; ++l) wi[pair_index(k, l, K)] += weight * v[k] * v[l];
    } else {
      for (Index k = 0; k < K; ++k) wi[k] += weight * v[k] * v[k];
    }
  };

  auto body = [&](MultinomialState& st, Index i0, Index m) {
    const ConstRowMatrixMap Xb = st.reader.block(i0, m);
    auto eta = st.eta.topRows(m);
    auto r = st.r.topRows(m);
    eta.noalias() = Xb * coef;
    if (req.x_squares) st.x_squares += Xb.squaredNorm();
    if (intercept)
      for (Index i = 0; i < m; ++i)
        for (Index k = 0; k < K; ++k) eta(i, k) += intercept[k];
    if (n_weights) st.w.topRows(m).setZero();
    double* prob = st.prob.data();
    for (Index i = 0; i < m; ++i) {
      const Index row = i0 + i;
      const Index y = static_cast<Index>(pb.y[row]);
      const double s = pb.sample_weight ? pb.sample_weight[row] : 1.0;
      st.loss += s * family::Multinomial::nll(&eta(i, 0), static_cast<int>(y), prob,
                                              static_cast<int>(K));
      if (s > 0.0) {  // correct only when eta_y is the strict maximum
        bool correct = true;
        for (Index k = 0; k < K; ++k) correct = correct && (k == y || eta(i, k) < eta(i, y));
        if (!correct) ++st.n_misclassified;
      }
      family::Multinomial::residual(prob, static_cast<int>(y), &r(i, 0), static_cast<int>(K));
      switch (kind) {
        case Curvature::fisher_true:
        case Curvature::hessian: {  // diag(prob) - prob prob^T, diagonal as prob (1 - prob)
          double* wi = st.w.row(i).data();
          for (Index k = 0; k < K; ++k) {
            const double c = family::Multinomial::complement(prob, static_cast<int>(k),
                                                             static_cast<int>(K));
            if (full) {
              wi[pair_index(k, k, K)] += s * prob[k] * c;
              for (Index l = k + 1; l < K; ++l) wi[pair_index(k, l, K)] -= s * prob[k] * prob[l];
            } else {
              wi[k] += s * prob[k] * c;
            }
          }
          break;
        }
        case Curvature::empirical: add_outer(st, i, &r(i, 0), s); break;
        case Curvature::mc: {
          const double share = s / static_cast<double>(req.n_samples);
          for (Index smp = 0; smp < req.n_samples; ++smp) {
            const rng::Stream stream(req.seed, static_cast<std::uint64_t>(row),
                                     static_cast<std::uint64_t>(req.n_samples),
                                     static_cast<std::uint64_t>(smp));
            const int ys = family::Multinomial::sample(prob, static_cast<int>(K), stream);
            family::Multinomial::residual(prob, ys, st.rs.data(), static_cast<int>(K));
            add_outer(st, i, st.rs.data(), share);
          }
          break;
        }
        case Curvature::none: break;
      }
      if (s != 1.0) r.row(i) *= s;
    }
    st.grad.topRows(d).noalias() += Xb.transpose() * r;
    if (intercept) st.grad.row(d) += r.colwise().sum();
    if (diag) {
      for (Index i = 0; i < m; ++i) {
        const double* x = Xb.row(i).data();
        const double* wi = st.w.row(i).data();
        double* out = st.diag.data();
        for (Index j = 0; j < d; ++j)
          for (Index k = 0; k < K; ++k) out[j * K + k] += wi[k] * x[j] * x[j];
        if (intercept)
          for (Index k = 0; k < K; ++k) out[d * K + k] += wi[k];
      }
    }
    if (full) {
      st.wt.leftCols(m) = st.w.topRows(m).transpose();
      st.gram.set_block(Xb.data(), pb.rows(), pb.n, i0, m, pb.fit_intercept);
      for (Index q = 0; q < n_pairs; ++q) st.gram.add(&st.wt(q, 0), st.blocks[q]);
    }
  };
  std::vector<MultinomialState> states =
      for_each_block<MultinomialState>(pb.n, n_threads, init, body, block);

  const MultinomialState& total =
      reduce_in_order(states, [&](MultinomialState& acc, const MultinomialState& part) {
        add_pass_sums(acc, part, diag);
        acc.x_squares += part.x_squares;
        if (full)
          for (Index q = 0; q < n_pairs; ++q) acc.blocks[q] += part.blocks[q];
      });
  const double scale = 1.0 / pb.weight_sum();
  if (req.grad) RowMatrixMap(req.grad, dp, K) = scale * total.grad;
  if (req.x_squares) *req.x_squares = total.x_squares;
  if (diag) VectorMap(req.curvature, p) = scale * total.diag;
  if (full) {
    // out[(j K + k), (j' K + l)] = G_{min(k,l), max(k,l)}(max(j,j'), min(j,j')): lower storage.
    for (Index k = 0; k < K; ++k)
      for (Index l = k; l < K; ++l) {
        const Matrix& G = total.blocks[pair_index(k, l, K)];
        for (Index j = 0; j < dp; ++j)
          for (Index jj = 0; jj < dp; ++jj) {
            const double v = scale * (j >= jj ? G(j, jj) : G(jj, j));
            req.curvature[(j * K + k) * p + (jj * K + l)] = v;
            req.curvature[(jj * K + l) * p + (j * K + k)] = v;
          }
      }
  }
  return {scale * total.loss, total.n_misclassified};
}

}  // namespace ngdx
