// pybind11 bindings: the private module ngdx._core. Python (python/ngdx/) validates values
// and converts every array to C-contiguous float64 once; here only shapes are checked, so
// no input can make a kernel read or write out of bounds. Arrays are taken without
// conversion (noconvert): a wrongly laid-out array is a TypeError, never a silent copy.
#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "ngdx/base/parallel.hpp"
#include "ngdx/glm/pass.hpp"
#include "ngdx/glm/per_row.hpp"
#include "ngdx/linalg/gram.hpp"
#include "ngdx/linalg/score_gram.hpp"
#include "ngdx/linalg/solve.hpp"

namespace py = pybind11;
using ngdx::Curvature;
using ngdx::Index;
using ngdx::Model;
using ngdx::require;

namespace {

using Array = py::array_t<double, py::array::c_style>;
using OptArray = std::optional<Array>;

Model parse_model(const std::string& name) {
  if (name == "logistic") return Model::logistic;
  if (name == "probit") return Model::probit;
  if (name == "poisson") return Model::poisson;
  if (name == "gaussian") return Model::gaussian;
  if (name == "multinomial") return Model::multinomial;
  throw std::invalid_argument("unknown model '" + name +
                              "'; valid: logistic, probit, poisson, gaussian, multinomial");
}

Curvature parse_kind(const std::string& name) {
  if (name == "none") return Curvature::none;
  if (name == "true") return Curvature::fisher_true;
  if (name == "empirical") return Curvature::empirical;
  if (name == "hessian") return Curvature::hessian;
  if (name == "mc") return Curvature::mc;
  throw std::invalid_argument("unknown curvature kind '" + name +
                              "'; valid: none, true, empirical, hessian, mc");
}

std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t k = 0; k < a.ndim(); ++k) s += (k ? ", " : "") + std::to_string(a.shape(k));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

void require_shape(const py::array& a, const char* name, Index rows, Index cols = -1) {
  const bool ok = cols < 0 ? (a.ndim() == 1 && a.shape(0) == rows)
                           : (a.ndim() == 2 && a.shape(0) == rows && a.shape(1) == cols);
  require(ok, std::string(name) + " must have shape (" + std::to_string(rows) +
                  (cols < 0 ? ",)" : ", " + std::to_string(cols) + ")") + ", got " + shape_of(a));
}

/// The frozen problem, with shapes checked against X.
ngdx::Problem make_problem(const Array& X, const OptArray& y, Index n_classes, bool fit_intercept,
                           const OptArray& sample_weight) {
  require(X.ndim() == 2, "X must be 2-D, got shape " + shape_of(X));
  ngdx::Problem pb;
  pb.X = X.data();
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

py::tuple fused_pass(const std::string& model_name, const Array& X, const OptArray& y,
                  const Array& theta, Index n_classes, bool fit_intercept,
                  const OptArray& sample_weight, const std::string& kind, bool diagonal,
                  Index n_samples, std::uint64_t seed, int n_threads, OptArray grad_out,
                  OptArray curvature_out) {
  const Model model = parse_model(model_name);
  const ngdx::Problem pb = make_problem(X, y, n_classes, fit_intercept, sample_weight);
  const Index p = pb.n_params();
  require_shape(theta, "theta", p);
  ngdx::PassRequest req;
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
  ngdx::PassResult result;
  {
    // Safe to run without the GIL: every buffer above is owned by an argument that stays
    // alive for the whole call, and nothing below touches a Python object.
    py::gil_scoped_release release;
    result = ngdx::fused_pass(model, pb, theta.data(), req, n_threads);
  }
  return py::make_tuple(result.loss, result.n_misclassified);
}

void curvature_weights(const std::string& model_name, const Array& X, const Array& y,
                       const Array& theta, bool fit_intercept, const OptArray& sample_weight,
                       const std::string& kind, Index n_samples, std::uint64_t seed,
                       int n_threads, Array out) {
  const Model model = parse_model(model_name);
  const ngdx::Problem pb = make_problem(X, y, 1, fit_intercept, sample_weight);
  require_shape(theta, "theta", pb.n_params());
  require_shape(out, "out", pb.n);
  ngdx::PassRequest req;
  req.kind = parse_kind(kind);
  req.n_samples = n_samples;
  req.seed = seed;
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass
  ngdx::curvature_weights(model, pb, theta.data(), req, dst, n_threads);
}

void scores(const std::string& model_name, const Array& X, const Array& y, const Array& theta,
            Index n_classes, bool fit_intercept, int n_threads, Array out) {
  const Model model = parse_model(model_name);
  const ngdx::Problem pb = make_problem(X, y, n_classes, fit_intercept, std::nullopt);
  require_shape(theta, "theta", pb.n_params());
  require_shape(out, "out", pb.n, pb.n_params());
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass
  ngdx::scores(model, pb, theta.data(), dst, n_threads);
}

void predict_mean(const std::string& model_name, const Array& X, const Array& theta,
                  Index n_classes, bool fit_intercept, int n_threads, Array out) {
  const Model model = parse_model(model_name);
  const ngdx::Problem pb = make_problem(X, std::nullopt, n_classes, fit_intercept, std::nullopt);
  require_shape(theta, "theta", pb.n_params());
  require_shape(out, "out", pb.n, n_classes);
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass
  ngdx::predict_mean(model, pb, theta.data(), dst, n_threads);
}

double mean_kl(const std::string& model_name, const Array& X, const Array& theta_p,
               const Array& theta_q, Index n_classes, bool fit_intercept,
               const OptArray& sample_weight, int n_threads) {
  const Model model = parse_model(model_name);
  const ngdx::Problem pb = make_problem(X, std::nullopt, n_classes, fit_intercept, sample_weight);
  require_shape(theta_p, "theta_p", pb.n_params());
  require_shape(theta_q, "theta_q", pb.n_params());
  py::gil_scoped_release release;  // as in fused_pass
  return ngdx::mean_kl(model, pb, theta_p.data(), theta_q.data(), n_threads);
}

double fisher_vector_product(const std::string& model_name, const Array& X, const Array& theta,
                             const Array& v, Index n_classes, bool fit_intercept,
                             const OptArray& sample_weight, int n_threads, Array out) {
  const Model model = parse_model(model_name);
  const ngdx::Problem pb = make_problem(X, std::nullopt, n_classes, fit_intercept, sample_weight);
  require_shape(theta, "theta", pb.n_params());
  require_shape(v, "v", pb.n_params());
  require_shape(out, "out", pb.n_params());
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass
  return ngdx::fisher_vector_product(model, pb, theta.data(), v.data(), dst, n_threads);
}

void sample_labels(const std::string& model_name, const Array& X, const Array& theta,
                   Index n_classes, bool fit_intercept, Index n_samples, std::uint64_t seed,
                   int n_threads, Array out) {
  const Model model = parse_model(model_name);
  const ngdx::Problem pb = make_problem(X, std::nullopt, n_classes, fit_intercept, std::nullopt);
  require_shape(theta, "theta", pb.n_params());
  require(n_samples >= 1, "n_samples must be >= 1");
  require_shape(out, "out", pb.n, n_samples);
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass
  ngdx::sample_labels(model, pb, theta.data(), n_samples, seed, dst, n_threads);
}

void fisher_from_scores(const Array& S, bool diagonal, int n_threads, Array out) {
  require(S.ndim() == 2, "S must be 2-D, got shape " + shape_of(S));
  const Index n = S.shape(0), p = S.shape(1);
  if (diagonal) require_shape(out, "out", p);
  else require_shape(out, "out", p, p);
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass
  ngdx::fisher_from_scores(S.data(), n, p, diagonal, dst, n_threads);
}

/// p for a square (p, p) matrix argument, or ValueError.
Index square_size(const Array& A, const char* name) {
  require(A.ndim() == 2 && A.shape(0) == A.shape(1),
          std::string(name) + " must be a square matrix, got shape " + shape_of(A));
  return A.shape(0);
}

bool damped_cholesky_solve(const Array& F, const Array& g, double damping, Array out) {
  const Index p = square_size(F, "F");
  require_shape(g, "g", p);
  require_shape(out, "out", p);
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass
  return ngdx::damped_cholesky_solve(F.data(), p, g.data(), damping, dst);
}

bool damped_cholesky_factor(Array A, double damping) {
  const Index p = square_size(A, "A");
  double* data = A.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass
  return ngdx::damped_cholesky_factor(data, p, damping);
}

void cholesky_solve(const Array& factor, const Array& g, Array out) {
  const Index p = square_size(factor, "factor");
  require_shape(g, "g", p);
  require_shape(out, "out", p);
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass
  ngdx::cholesky_solve(factor.data(), p, g.data(), dst);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "ngdx compiled core (private: use the functions of the ngdx package)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const std::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  m.def("fused_pass", &fused_pass, py::arg("model"), py::arg("X").noconvert(),
        py::arg("y").noconvert(), py::arg("theta").noconvert(), py::arg("n_classes"),
        py::arg("fit_intercept"), py::arg("sample_weight").noconvert(), py::arg("kind"),
        py::arg("diagonal"), py::arg("n_samples"), py::arg("seed"), py::arg("n_threads"),
        py::arg("grad_out").noconvert(), py::arg("curvature_out").noconvert(),
        "(mean NLL, misclassified rows); fills grad_out (p,) and curvature_out ((p, p), or\n"
        "(p,) when diagonal).");
  m.def("fisher_vector_product", &fisher_vector_product, py::arg("model"),
        py::arg("X").noconvert(), py::arg("theta").noconvert(), py::arg("v").noconvert(),
        py::arg("n_classes"), py::arg("fit_intercept"), py::arg("sample_weight").noconvert(),
        py::arg("n_threads"), py::arg("out").noconvert(),
        "Fills out (p,) with F v (true Fisher at theta); returns v^T F v.");
  m.def("curvature_weights", &curvature_weights, py::arg("model"), py::arg("X").noconvert(),
        py::arg("y").noconvert(), py::arg("theta").noconvert(), py::arg("fit_intercept"),
        py::arg("sample_weight").noconvert(), py::arg("kind"), py::arg("n_samples"),
        py::arg("seed"), py::arg("n_threads"), py::arg("out").noconvert(),
        "Per-row curvature weights times sample weights, into out (n,); one-output models.");
  m.def("scores", &scores, py::arg("model"), py::arg("X").noconvert(), py::arg("y").noconvert(),
        py::arg("theta").noconvert(), py::arg("n_classes"), py::arg("fit_intercept"),
        py::arg("n_threads"), py::arg("out").noconvert(), "Per-sample scores into out (n, p).");
  m.def("predict_mean", &predict_mean, py::arg("model"), py::arg("X").noconvert(),
        py::arg("theta").noconvert(), py::arg("n_classes"), py::arg("fit_intercept"),
        py::arg("n_threads"), py::arg("out").noconvert(),
        "The model's mean at each row, into out (n, n_classes).");
  m.def("mean_kl", &mean_kl, py::arg("model"), py::arg("X").noconvert(),
        py::arg("theta_p").noconvert(), py::arg("theta_q").noconvert(), py::arg("n_classes"),
        py::arg("fit_intercept"), py::arg("sample_weight").noconvert(), py::arg("n_threads"),
        "Mean KL(p(.|x, theta_p) || p(.|x, theta_q)).");
  m.def("sample_labels", &sample_labels, py::arg("model"), py::arg("X").noconvert(),
        py::arg("theta").noconvert(), py::arg("n_classes"), py::arg("fit_intercept"),
        py::arg("n_samples"), py::arg("seed"), py::arg("n_threads"), py::arg("out").noconvert(),
        "The labels the mc curvature draws, into out (n, n_samples).");
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
  m.def("max_threads", &ngdx::max_threads, "Processors OpenMP can use (1 without OpenMP).");
  m.def("gram_kernels", &ngdx::gram_kernels,
        "Names of the Gram kernels this build and CPU can run, the default first.");
  m.def("gram_kernel", [] { return std::string(ngdx::gram_kernel().name); },
        "The Gram kernel passes use now.");
  m.def("select_gram_kernel", &ngdx::select_gram_kernel, py::arg("name"),
        "Uses the named Gram kernel ('auto' for the default) in every later pass.");
  m.attr("has_openmp") = ngdx::kHasOpenMP;
}
