// The private module ngdx._core: a table of contents. Each layer of cpp/include/ngdx/ that
// Python calls has its own submodule, bound in its own register_*.cpp; convert.hpp says
// what the bindings accept (C-contiguous float64 arrays, shapes checked, no conversion).
#include "convert.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m, py::mod_gil_not_used()) {
  m.doc() = "ngdx compiled core (private: use the functions of the ngdx package)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const std::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  py::module_ glm = m.def_submodule("glm", "GLM kernels: the fused pass and the per-row kernels");
  ngdx::bindings::register_glm(glm);
  ngdx::bindings::register_sparse(glm);

  py::module_ linalg =
      m.def_submodule("linalg", "GLM-free linear algebra: Grams, damped and Kronecker solves");
  ngdx::bindings::register_linalg(linalg);

  py::module_ nn = m.def_submodule("nn", "Multilayer perceptrons: the fused pass, F v, forward");
  ngdx::bindings::register_nn(nn);

  py::module_ bayes = m.def_submodule("bayes", "Gaussian expectations of GLM terms (ngdx.bayes)");
  ngdx::bindings::register_bayes(bayes);

  py::module_ runtime = m.def_submodule("runtime", "Threads and the choice of Gram kernel");
  ngdx::bindings::register_runtime(runtime);
}
