// Bindings of the GLM layer (cpp/include/ngdx/glm/): the fused pass and the per-row
// kernels, as _core.glm.
#include "convert.hpp"
#include "ngdx/glm/pass.hpp"
#include "ngdx/glm/per_row.hpp"

namespace ngdx::bindings {
namespace {

py::tuple fused_pass(const std::string& model_name, const InputMatrix& X, const OptArray& y,
                  const Array& theta, Index n_classes, bool fit_intercept,
                  const OptArray& sample_weight, const std::string& kind, bool diagonal,
                  Index n_samples, std::uint64_t seed, int n_threads, OptArray grad_out,
                  OptArray curvature_out, OptArray x_squares_out) {
  const Model model = parse_model(model_name);
  const ngdx::Problem pb = make_problem(X, y, n_classes, fit_intercept, sample_weight);
  const Index p = pb.n_params();
  require_shape(theta, "theta", p);
  ngdx::PassRequest req =
      make_pass_request(p, kind, diagonal, n_samples, seed, grad_out, curvature_out);
  if (x_squares_out) {
    require_shape(*x_squares_out, "x_squares_out", 1);
    req.x_squares = x_squares_out->mutable_data();
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

void curvature_weights(const std::string& model_name, const InputMatrix& X, const Array& y,
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

void scores(const std::string& model_name, const InputMatrix& X, const Array& y, const Array& theta,
            Index n_classes, bool fit_intercept, int n_threads, Array out) {
  const Model model = parse_model(model_name);
  const ngdx::Problem pb = make_problem(X, y, n_classes, fit_intercept, std::nullopt);
  require_shape(theta, "theta", pb.n_params());
  require_shape(out, "out", pb.n, pb.n_params());
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass
  ngdx::scores(model, pb, theta.data(), dst, n_threads);
}

void predict_mean(const std::string& model_name, const InputMatrix& X, const Array& theta,
                  Index n_classes, bool fit_intercept, int n_threads, Array out) {
  const Model model = parse_model(model_name);
  const ngdx::Problem pb = make_problem(X, std::nullopt, n_classes, fit_intercept, std::nullopt);
  require_shape(theta, "theta", pb.n_params());
  require_shape(out, "out", pb.n, n_classes);
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass
  ngdx::predict_mean(model, pb, theta.data(), dst, n_threads);
}

double mean_kl(const std::string& model_name, const InputMatrix& X, const Array& theta_p,
               const Array& theta_q, Index n_classes, bool fit_intercept,
               const OptArray& sample_weight, int n_threads) {
  const Model model = parse_model(model_name);
  const ngdx::Problem pb = make_problem(X, std::nullopt, n_classes, fit_intercept, sample_weight);
  require_shape(theta_p, "theta_p", pb.n_params());
  require_shape(theta_q, "theta_q", pb.n_params());
  py::gil_scoped_release release;  // as in fused_pass
  return ngdx::mean_kl(model, pb, theta_p.data(), theta_q.data(), n_threads);
}

double fisher_vector_product(const std::string& model_name, const InputMatrix& X,
                             const Array& theta, const Array& v, Index n_classes,
                             bool fit_intercept, const OptArray& sample_weight, int n_threads,
                             Array out) {
  const Model model = parse_model(model_name);
  const ngdx::Problem pb = make_problem(X, std::nullopt, n_classes, fit_intercept, sample_weight);
  require_shape(theta, "theta", pb.n_params());
  require_shape(v, "v", pb.n_params());
  require_shape(out, "out", pb.n_params());
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass
  return ngdx::fisher_vector_product(model, pb, theta.data(), v.data(), dst, n_threads);
}

void sample_labels(const std::string& model_name, const InputMatrix& X, const Array& theta,
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

}  // namespace

void register_glm(py::module_& m) {
  m.def("fused_pass", &fused_pass, py::arg("model"), py::arg("X").noconvert(),
        py::arg("y").noconvert(), py::arg("theta").noconvert(), py::arg("n_classes"),
        py::arg("fit_intercept"), py::arg("sample_weight").noconvert(), py::arg("kind"),
        py::arg("diagonal"), py::arg("n_samples"), py::arg("seed"), py::arg("n_threads"),
        py::arg("grad_out").noconvert(), py::arg("curvature_out").noconvert(),
        py::arg("x_squares_out").noconvert() = py::none(),
        "(mean NLL, misclassified rows); fills grad_out (p,), curvature_out ((p, p), or\n"
        "(p,) when diagonal) and x_squares_out (1,): the sum of the squares of X's entries.");
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
}

}  // namespace ngdx::bindings
