// Bindings of the GLM-free linear algebra (cpp/include/ngdx/linalg/): weighted and score
// Grams, damped Cholesky and Kronecker-factored solves, as _core.linalg.
#include "convert.hpp"
#include "ngdx/linalg/gram.hpp"
#include "ngdx/linalg/kron.hpp"
#include "ngdx/linalg/score_gram.hpp"
#include "ngdx/linalg/solve.hpp"

namespace ngdx::bindings {
namespace {

void fisher_from_scores(const Array& S, bool diagonal, int n_threads, Array out) {
  require(S.ndim() == 2, "S must be 2-D, got shape " + shape_of(S));
  const Index n = S.shape(0), p = S.shape(1);
  if (diagonal) require_shape(out, "out", p);
  else require_shape(out, "out", p, p);
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass (register_glm.cpp)
  ngdx::fisher_from_scores(S.data(), n, p, diagonal, dst, n_threads);
}

bool damped_cholesky_solve(const Array& F, const Array& g, double damping, Array out) {
  const Index p = square_size(F, "F");
  require_shape(g, "g", p);
  require_shape(out, "out", p);
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass (register_glm.cpp)
  return ngdx::damped_cholesky_solve(F.data(), p, g.data(), damping, dst);
}

bool damped_cholesky_factor(Array A, double damping) {
  const Index p = square_size(A, "A");
  double* data = A.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass (register_glm.cpp)
  return ngdx::damped_cholesky_factor(data, p, damping);
}

void cholesky_solve(const Array& factor, const Array& g, Array out) {
  const Index p = square_size(factor, "factor");
  require_shape(g, "g", p);
  require_shape(out, "out", p);
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass (register_glm.cpp)
  ngdx::cholesky_solve(factor.data(), p, g.data(), dst);
}

void weighted_gram(const InputMatrix& A, const OptArray& w, bool intercept, double scale,
                   int n_threads, Array out) {
  const RowsView rows = rows_view(A, "A");
  const Index n = A.shape(0), d = A.shape(1), dp = d + (intercept ? 1 : 0);
  if (w) require_shape(*w, "w", n);
  require_shape(out, "out", dp, dp);
  const double* weights = w ? w->data() : nullptr;
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass (register_glm.cpp)
  ngdx::weighted_gram(rows, n, intercept, weights, scale, n_threads, dst);
}

bool kron_solve(const Array& A, const Array& G, const Array& V, double damping_a,
                double damping_g, Array out) {
  const Index m = square_size(A, "A"), K = square_size(G, "G");
  require_shape(V, "V", m, K);
  require_shape(out, "out", m, K);
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass (register_glm.cpp)
  return ngdx::kron_solve(A.data(), m, G.data(), K, V.data(), damping_a, damping_g, dst);
}

double dot(const Array& a, const Array& b) {
  require(a.ndim() == 1, "a must be 1-D, got shape " + shape_of(a));
  const Index n = a.shape(0);
  require_shape(b, "b", n);
  const double *x = a.data(), *z = b.data();
  py::gil_scoped_release release;
  return ConstVectorMap(x, n).dot(ConstVectorMap(z, n));
}

}  // namespace

void register_linalg(py::module_& m) {
  m.def("fisher_from_scores", &fisher_from_scores, py::arg("S").noconvert(),
        py::arg("diagonal"), py::arg("n_threads"), py::arg("out").noconvert(),
        "S^T S / n (or its diagonal) into out.");
  m.def("damped_cholesky_solve", &damped_cholesky_solve, py::arg("F").noconvert(),
        py::arg("g").noconvert(), py::arg("damping"), py::arg("out").noconvert(),
        "Solves (F + damping I) x = g into out; False when not positive definite.");
  m.def("damped_cholesky_factor", &damped_cholesky_factor, py::arg("A").noconvert(),
        py::arg("damping"),
        "Factors A + damping I in place; False when not positive definite.");
  m.def("cholesky_solve", &cholesky_solve, py::arg("factor").noconvert(), py::arg("g").noconvert(),
        py::arg("out").noconvert(), "Solves with a factor from damped_cholesky_factor into out.");
  m.def("weighted_gram", &weighted_gram, py::arg("A").noconvert(), py::arg("w").noconvert(),
        py::arg("intercept"), py::arg("scale"), py::arg("n_threads"), py::arg("out").noconvert(),
        "out (dp, dp) = scale * sum_i w_i a_i a_i^T, full symmetric; a_i is row i of A (n, d),\n"
        "float64 or float32, with a trailing 1 when intercept (dp = d + intercept); w (n,)\n"
        "or None for unit weights, signed allowed. Bit-identical to the fused pass's\n"
        "curvature for the same weights and thread count.");
  m.def("kron_solve", &kron_solve, py::arg("A").noconvert(), py::arg("G").noconvert(),
        py::arg("V").noconvert(), py::arg("damping_a"), py::arg("damping_g"),
        py::arg("out").noconvert(),
        "out (m, K) = (A + damping_a I)^-1 V (G + damping_g I)^-1 for symmetric A (m, m) and\n"
        "G (K, K) (lower triangles read), V (m, K); False, out untouched, when a damped\n"
        "factor is not positive definite (damped_cholesky_factor's test).");
  m.def("dot", &dot, py::arg("a").noconvert(), py::arg("b").noconvert(),
        "sum_i a_i b_i of two 1-D float64 arrays, on the calling thread. For n-long\n"
        "vectors in Python code around the passes: np.dot (and @) wakes OpenBLAS's\n"
        "threads above 1e4 entries, and they spin for ~0.1 s after it, taking the cores\n"
        "the passes' threads need (a (1e5, 50) logistic fit took twice its time).");
}

}  // namespace ngdx::bindings
