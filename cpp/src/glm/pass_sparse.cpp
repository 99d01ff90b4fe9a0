// The fused pass on a CSR X (sparse.hpp) for all five families, and the per-row
// curvature weights of the one-output ones.
//
// The full curvature sum_i s_i (x_i x_i^T) kron W_i is accumulated in a thread-local
// packed lower triangle of the p x p matrix (p = dp K, parameter (j, k) at j K + k): the
// entry (r, c), c <= r, at tri[r] + c with tri[r] = r (r + 1) / 2. For each pair of a
// row's nonzeros (columns hi >= lo) the K x K block at rows hi K .. and columns lo K ..
// gets x_hi x_lo W_i (only its lower half when hi = lo): whatever the order of the
// columns, each pair lands in the lower triangle.
#include <algorithm>
#include <vector>

#include "sparse_rows.hpp"

namespace ngdx {
namespace {

template <class I>
struct SparseState {
  double loss = 0.0;
  Index n_misclassified = 0;
  Vector grad, diag, lower;  // p; p when diagonal; p (p + 1) / 2 when full
  sparse::RowReader<I> row;
  std::vector<double> eta, r, W, scratch;
};

/// lower += s (x x^T) kron W over the pairs of the row's nonzeros (W K x K row-major).
template <class I>
void add_row_curvature(const sparse::RowReader<I>& row, Index K, const double* W, double s,
                       const Index* tri, double* lower) {
  const Index m = row.size();
  const Index* cols = row.cols();
  const double* vals = row.vals();
  if (K == 1) {
    const double w = s * W[0];
    if (w == 0.0) return;
    for (Index a = 0; a < m; ++a) {
      const Index ja = cols[a];
      const double wa = w * vals[a];
      for (Index b = 0; b <= a; ++b) {
        const Index jb = cols[b];
        lower[tri[std::max(ja, jb)] + std::min(ja, jb)] += wa * vals[b];
      }
    }
    return;
  }
  for (Index a = 0; a < m; ++a)
    for (Index b = 0; b <= a; ++b) {
      const Index hi = std::max(cols[a], cols[b]), lo = std::min(cols[a], cols[b]);
      const double xx = s * vals[a] * vals[b];
      if (xx == 0.0) continue;
      for (Index k = 0; k < K; ++k) {
        double* dst = lower + tri[hi * K + k] + lo * K;
        const double* wk = W + k * K;
        const Index l_end = hi == lo ? k + 1 : K;
        for (Index l = 0; l < l_end; ++l) dst[l] += xx * wk[l];
      }
    }
}

/// diag[j K + k] += s x_j^2 W_k over the row's nonzeros (W the K diagonal weights).
template <class I>
void add_row_diagonal(const sparse::RowReader<I>& row, Index K, const double* W, double s,
                      double* diag) {
  for (Index a = 0; a < row.size(); ++a) {
    const double x2 = s * row.vals()[a] * row.vals()[a];
    double* dst = diag + row.cols()[a] * K;
    for (Index k = 0; k < K; ++k) dst[k] += x2 * W[k];
  }
}

template <class I, class Fam>
PassResult pass(const SparseProblem<I>& pb, const Fam& fam, const double* theta,
                const PassRequest& req, int n_threads) {
  const Index K = pb.n_classes, p = pb.n_params();
  const bool full = req.kind != Curvature::none && !req.diagonal;
  const bool diag = req.kind != Curvature::none && req.diagonal;
  std::vector<Index> tri(full ? p : 0);
  for (Index r = 0; r < static_cast<Index>(tri.size()); ++r) tri[r] = r * (r + 1) / 2;

  auto init = [&] {
    SparseState<I> st;
    st.grad = Vector::Zero(p);
    if (diag) st.diag = Vector::Zero(p);
    if (full) st.lower = Vector::Zero(p * (p + 1) / 2);
    st.row = sparse::RowReader<I>(pb);
    st.eta.resize(K);
    st.r.resize(K);
    st.W.resize(K * K);
    st.scratch.resize(fam.scratch_size() + 1);
    return st;
  };
  auto body = [&](SparseState<I>& st, Index i0, Index m) {
    for (Index i = i0; i < i0 + m; ++i) {
      st.row.read(i);
      st.row.times(theta, K, st.eta.data());
      const double s = sparse::row_weight(pb, i);
      const family::RowPass out = fam.pass(req, st.eta.data(), pb.y[i], i, st.r.data(),
                                           st.W.data(), full, st.scratch.data());
      st.loss += s * out.loss;
      if (s > 0.0 && out.wrong) ++st.n_misclassified;
      for (Index k = 0; k < K; ++k) st.r[k] *= s;
      st.row.add_outer(st.r.data(), K, st.grad.data());
      if (diag) add_row_diagonal(st.row, K, st.W.data(), s, st.diag.data());
      if (full) add_row_curvature(st.row, K, st.W.data(), s, tri.data(), st.lower.data());
    }
  };
  std::vector<SparseState<I>> states = for_each_block<SparseState<I>>(pb.X.n, n_threads, init, body);

  const SparseState<I>& total =
      reduce_in_order(states, [&](SparseState<I>& acc, const SparseState<I>& part) {
        add_pass_sums(acc, part, diag);
        if (full) acc.lower += part.lower;
      });
  const double scale = 1.0 / pb.meta().weight_sum();
  if (req.grad) VectorMap(req.grad, p) = scale * total.grad;
  if (diag) VectorMap(req.curvature, p) = scale * total.diag;
  if (full)
    for (Index r = 0; r < p; ++r)
      for (Index c = 0; c <= r; ++c)
        req.curvature[r * p + c] = req.curvature[c * p + r] = scale * total.lower[tri[r] + c];
  return {scale * total.loss, total.n_misclassified};
}

}  // namespace

template <class I>
PassResult fused_pass(Model model, const SparseProblem<I>& problem, const double* theta,
                      const PassRequest& request, int n_threads) {
  problem.check(model);
  require(request.kind == Curvature::none || request.curvature != nullptr,
          "a curvature buffer is needed");
  require(request.kind != Curvature::mc || request.n_samples >= 1, "n_samples must be >= 1");
  return family::dispatch_row_family(model, problem.n_classes, [&](auto fam) {
    return pass(problem, fam, theta, request, n_threads);
  });
}

template <class I>
void curvature_weights(Model model, const SparseProblem<I>& pb, const double* theta,
                       const PassRequest& req, double* out, int n_threads) {
  pb.check(model);
  require(model != Model::multinomial, "curvature_weights: one-output models only");
  require(req.kind != Curvature::none, "curvature_weights: a curvature kind is needed");
  require(req.kind != Curvature::mc || req.n_samples >= 1, "n_samples must be >= 1");
  family::dispatch_row_family(model, 1, [&](auto fam) {
    sparse::for_each_row_eta(pb, fam, theta, nullptr, n_threads,
                             [&](sparse::EtaState<I>& st, Index i) {
                               double r, w;
                               fam.pass(req, st.eta.data(), pb.y[i], i, &r, &w, false,
                                        st.scratch.data());
                               out[i] = sparse::row_weight(pb, i) * w;
                             });
    return 0;
  });
}

template PassResult fused_pass(Model, const SparseProblem<std::int32_t>&, const double*,
                               const PassRequest&, int);
template PassResult fused_pass(Model, const SparseProblem<std::int64_t>&, const double*,
                               const PassRequest&, int);
template void curvature_weights(Model, const SparseProblem<std::int32_t>&, const double*,
                                const PassRequest&, double*, int);
template void curvature_weights(Model, const SparseProblem<std::int64_t>&, const double*,
                                const PassRequest&, double*, int);

}  // namespace ngdx
