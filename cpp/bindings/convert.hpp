// What every register_*.cpp shares: the array types the bindings accept, shape checks with
// messages that name the argument, and the name -> enum maps. Python (python/ngdx/)
// validates values and converts every array to C-contiguous float64 once (X: float64 or
// float32); here only shapes are checked, so no input can make a kernel read or write out
// of bounds. Arrays are taken without conversion (noconvert): a wrongly laid-out array is
// a TypeError, never a silent copy.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "ngdx/base/common.hpp"
#include "ngdx/glm/pass.hpp"
#include "ngdx/glm/problem.hpp"

namespace ngdx::bindings {

namespace py = pybind11;

using Array = py::array_t<double, py::array::c_style>;
using OptArray = std::optional<Array>;
/// An input matrix the kernels read as it is: C-contiguous float64 or float32 (rows_view).
using InputMatrix = py::array;

/// Each binds one layer's kernels into its submodule of _core (see module.cpp).
void register_glm(py::module_& m);
void register_sparse(py::module_& m);  // the GLM kernels on a CSR X, also into _core.glm
void register_linalg(py::module_& m);
void register_runtime(py::module_& m);
void register_nn(py::module_& m);
void register_bayes(py::module_& m);

/// The value `name` stands for in `table`, else a ValueError listing the valid names:
/// "unknown WHAT 'name'; valid: a, b, c".
template <class E>
E parse_name(const std::string& name, const char* what,
             std::initializer_list<std::pair<const char*, E>> table) {
  std::string valid;
  for (const auto& [key, value] : table) {
    if (name == key) return value;
    valid += (valid.empty() ? "" : ", ") + std::string(key);
  }
  throw std::invalid_argument("unknown " + std::string(what) + " '" + name + "'; valid: " + valid);
}

inline Model parse_model(const std::string& name) {
  return parse_name<Model>(name, "model", {{"logistic", Model::logistic},
                                           {"probit", Model::probit},
                                           {"poisson", Model::poisson},
                                           {"gaussian", Model::gaussian},
                                           {"multinomial", Model::multinomial}});
}

inline Curvature parse_kind(const std::string& name) {
  return parse_name<Curvature>(name, "curvature kind", {{"none", Curvature::none},
                                                        {"true", Curvature::fisher_true},
                                                        {"empirical", Curvature::empirical},
                                                        {"hessian", Curvature::hessian},
                                                        {"mc", Curvature::mc}});
}

inline std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t k = 0; k < a.ndim(); ++k) s += (k ? ", " : "") + std::to_string(a.shape(k));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

inline void require_shape(const py::array& a, const char* name, Index rows, Index cols = -1) {
  const bool ok = cols < 0 ? (a.ndim() == 1 && a.shape(0) == rows)
                           : (a.ndim() == 2 && a.shape(0) == rows && a.shape(1) == cols);
  require(ok, std::string(name) + " must have shape (" + std::to_string(rows) +
                  (cols < 0 ? ",)" : ", " + std::to_string(cols) + ")") + ", got " + shape_of(a));
}

/// p for a square (p, p) matrix argument, or ValueError.
inline Index square_size(const Array& A, const char* name) {
  require(A.ndim() == 2 && A.shape(0) == A.shape(1),
          std::string(name) + " must be a square matrix, got shape " + shape_of(A));
  return A.shape(0);
}

/// A fused pass's request, its buffers' shapes checked against p (curvature_out is needed
/// unless kind is "none": (p, p), or (p,) when diagonal).
inline PassRequest make_pass_request(Index p, const std::string& kind, bool diagonal,
                                     Index n_samples, std::uint64_t seed, OptArray& grad_out,
                                     OptArray& curvature_out) {
  PassRequest req;
  req.kind = parse_kind(kind);
  req.diagonal = diagonal;
  req.n_samples = n_samples;
  req.seed = seed;
  if (grad_out) {
    require_shape(*grad_out, "grad_out", p);
    req.grad = grad_out->mutable_data();
  }
  if (req.kind != Curvature::none) {
    require(curvature_out.has_value(), "curvature_out is needed for kind '" + kind + "'");
    if (diagonal) require_shape(*curvature_out, "curvature_out", p);
    else require_shape(*curvature_out, "curvature_out", p, p);
    req.curvature = curvature_out->mutable_data();
  }
  return req;
}

/// A 2-D C-contiguous float64 or float32 array as a RowsView; TypeError for any other
/// dtype or layout (as pybind11's noconvert gives for the float64-only arguments).
inline RowsView rows_view(const InputMatrix& a, const char* name) {
  RowsView view;
  if (py::array_t<double, py::array::c_style>::check_(a)) view.type = Scalar::f64;
  else if (py::array_t<float, py::array::c_style>::check_(a)) view.type = Scalar::f32;
  else
    throw py::type_error(std::string(name) + " must be a C-contiguous float64 or float32 array, "
                         "got dtype " + py::str(a.dtype()).cast<std::string>() +
                         (a.flags() & py::array::c_style ? "" : ", not C-contiguous"));
  require(a.ndim() == 2, std::string(name) + " must be 2-D, got shape " + shape_of(a));
  view.data = a.data();
  view.cols = a.shape(1);
  return view;
}

/// The frozen problem, with shapes checked against X.
inline Problem make_problem(const InputMatrix& X, const OptArray& y, Index n_classes,
                            bool fit_intercept, const OptArray& sample_weight) {
  const RowsView rows = rows_view(X, "X");
  Problem pb;
  pb.X = rows.data;
  pb.x_type = rows.type;
  pb.n = X.shape(0);
  pb.d = X.shape(1);
  pb.n_classes = n_classes;
  pb.fit_intercept = fit_intercept;
  require(n_classes >= 1, "n_classes must be >= 1");
  if (y) {
    require_shape(*y, "y", pb.n);
    pb.y = y->data();
  }
  if (sample_weight) {
    require_shape(*sample_weight, "sample_weight", pb.n);
    pb.sample_weight = sample_weight->data();
  }
  return pb;
}

}  // namespace ngdx::bindings
