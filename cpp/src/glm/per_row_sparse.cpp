// The sparse problem's checks, and the per-row kernels on a CSR X: scores, predicted means,
// mean KL, Fisher-vector products and Monte Carlo labels (sparse.hpp).
#include <string>
#include <vector>

#include "sparse_rows.hpp"

namespace ngdx {

template <class I>
void CsrMatrix<I>::check() const {
  require(n >= 1, "X must have at least one row");
  require(d >= 0 && nnz >= 0, "X must have a non-negative number of columns and nonzeros");
  require(nnz == 0 || (data != nullptr && indices != nullptr), "X's data and indices must be given");
  require(indptr != nullptr && indptr[0] == 0, "X's indptr must start at 0");
  for (Index i = 0; i < n; ++i)
    if (indptr[i] > indptr[i + 1])  // the message is built only on failure
      throw std::invalid_argument("X's indptr must be non-decreasing, got a decrease at row " +
                                  std::to_string(i));
  require(static_cast<Index>(indptr[n]) == nnz,
          "X's indptr must end at the number of nonzeros " + std::to_string(nnz) + ", got " +
              std::to_string(static_cast<Index>(indptr[n])));
}

template <class I>
Problem SparseProblem<I>::meta() const {
  static const double kNotRead = 0.0;  // Problem::check asks for an X; no kernel reads it
  Problem pb;
  pb.X = &kNotRead;
  pb.n = X.n;
  pb.d = X.d;
  pb.y = y;
  pb.sample_weight = sample_weight;
  pb.n_classes = n_classes;
  pb.fit_intercept = fit_intercept;
  return pb;
}

template <class I>
void SparseProblem<I>::check(Model model, bool labels) const {
  X.check();
  meta().check(model, labels);
}

namespace {

/// Sum over threads, in thread order, of the states' `sum`.
template <class I>
double ordered_sum(const std::vector<sparse::EtaState<I>>& states) {
  double total = 0.0;
  for (const auto& st : states) total += st.sum;
  return total;
}

/// Per-thread state of the Fisher-vector product.
template <class I>
struct FvpState {
  sparse::RowReader<I> row;
  std::vector<double> eta, u, z, scratch;
  Vector out;
  double quad = 0.0;
};

}  // namespace

template <class I>
void scores(Model model, const SparseProblem<I>& pb, const double* theta, double* out,
            int n_threads) {
  pb.check(model);
  const Index K = pb.n_classes, p = pb.n_params();
  family::dispatch_row_family(model, K, [&](auto fam) {
    sparse::for_each_row_eta(pb, fam, theta, nullptr, n_threads,
                             [&](sparse::EtaState<I>& st, Index i) {
                               double* r = st.eta_q.data();  // free: no theta_q here
                               fam.residual(st.eta.data(), pb.y[i], r, st.scratch.data());
                               for (Index k = 0; k < K; ++k) r[k] = -r[k];
                               double* s = out + i * p;
                               for (Index j = 0; j < p; ++j) s[j] = 0.0;
                               st.row.add_outer(r, K, s);
                             });
    return 0;
  });
}

template <class I>
void predict_mean(Model model, const SparseProblem<I>& pb, const double* theta, double* out,
                  int n_threads) {
  pb.check(model, false);
  const Index K = pb.n_classes;
  family::dispatch_row_family(model, K, [&](auto fam) {
    sparse::for_each_row_eta(
        pb, fam, theta, nullptr, n_threads,
        [&](sparse::EtaState<I>& st, Index i) { fam.mean(st.eta.data(), out + i * K); });
    return 0;
  });
}

template <class I>
double mean_kl(Model model, const SparseProblem<I>& pb, const double* theta_p,
               const double* theta_q, int n_threads) {
  pb.check(model, false);
  return family::dispatch_row_family(model, pb.n_classes, [&](auto fam) {
    auto states = sparse::for_each_row_eta(
        pb, fam, theta_p, theta_q, n_threads, [&](sparse::EtaState<I>& st, Index i) {
          st.sum += sparse::row_weight(pb, i) *
                    fam.kl(st.eta.data(), st.eta_q.data(), st.scratch.data());
        });
    return ordered_sum(states) / pb.meta().weight_sum();
  });
}

template <class I>
void sample_labels(Model model, const SparseProblem<I>& pb, const double* theta, Index S,
                   std::uint64_t seed, double* out, int n_threads) {
  pb.check(model, false);
  require(S >= 1, "n_samples must be >= 1");
  family::dispatch_row_family(model, pb.n_classes, [&](auto fam) {
    sparse::for_each_row_eta(pb, fam, theta, nullptr, n_threads,
                             [&](sparse::EtaState<I>& st, Index i) {
                               for (Index s = 0; s < S; ++s)
                                 out[i * S + s] = fam.sample(st.eta.data(),
                                                             rng::Stream(seed, i, S, s),
                                                             st.scratch.data());
                             });
    return 0;
  });
}

template <class I>
double fisher_vector_product(Model model, const SparseProblem<I>& pb, const double* theta,
                             const double* v, double* out, int n_threads) {
  pb.check(model, false);
  const Index K = pb.n_classes, p = pb.n_params();
  return family::dispatch_row_family(model, K, [&](auto fam) {
    auto init = [&] {
      FvpState<I> st{sparse::RowReader<I>(pb), std::vector<double>(K), std::vector<double>(K),
                     std::vector<double>(K), std::vector<double>(fam.scratch_size() + 1),
                     Vector::Zero(p), 0.0};
      return st;
    };
    auto body = [&](FvpState<I>& st, Index i0, Index m) {
      for (Index i = i0; i < i0 + m; ++i) {
        st.row.read(i);
        st.row.times(theta, K, st.eta.data());
        st.row.times(v, K, st.u.data());
        fam.fisher_times(st.eta.data(), st.u.data(), st.z.data(), st.scratch.data());
        const double s = sparse::row_weight(pb, i);
        double q = 0.0;
        for (Index k = 0; k < K; ++k) {
          q += st.u[k] * st.z[k];
          st.z[k] *= s;
        }
        st.quad += s * q;
        st.row.add_outer(st.z.data(), K, st.out.data());
      }
    };
    auto states = for_each_block<FvpState<I>>(pb.X.n, n_threads, init, body);
    const FvpState<I>& total = reduce_in_order(states, [](FvpState<I>& acc, const FvpState<I>& part) {
      acc.out += part.out;
      acc.quad += part.quad;
    });
    const double scale = 1.0 / pb.meta().weight_sum();
    VectorMap(out, p) = scale * total.out;
    return scale * total.quad;
  });
}

#define NGDX_SPARSE_INSTANTIATE(I)                                                            \
  template struct CsrMatrix<I>;                                                               \
  template struct SparseProblem<I>;                                                           \
  template void scores(Model, const SparseProblem<I>&, const double*, double*, int);          \
  template void predict_mean(Model, const SparseProblem<I>&, const double*, double*, int);    \
  template double mean_kl(Model, const SparseProblem<I>&, const double*, const double*, int); \
  template void sample_labels(Model, const SparseProblem<I>&, const double*, Index,           \
                              std::uint64_t, double*, int);                                   \
  template double fisher_vector_product(Model, const SparseProblem<I>&, const double*,        \
                                        const double*, double*, int);
NGDX_SPARSE_INSTANTIATE(std::int32_t)
NGDX_SPARSE_INSTANTIATE(std::int64_t)
#undef NGDX_SPARSE_INSTANTIATE

}  // namespace ngdx
