// Bindings of the GLM-free linear algebra (cpp/include/ngdx/linalg/): score Grams,
// damped Cholesky solves, as _core.linalg.
#include "convert.hpp"
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
}

}  // namespace ngdx::bindings
