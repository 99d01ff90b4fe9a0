// Bindings of the Bayesian layer (cpp/include/ngdx/bayes/): Gaussian expectations of the
// per-row GLM terms, as _core.bayes.
#include "convert.hpp"
#include "ngdx/bayes/quadrature.hpp"

namespace ngdx::bindings {
namespace {

void quadrature_pass(const std::string& model_name, const Array& mean, const Array& var,
                     const Array& y, const Array& nodes, const Array& weights, int n_threads,
                     Array loss_out, Array d1_out, Array d2_out) {
  const Model model = parse_model(model_name);
  require(model != Model::multinomial, "quadrature_pass: one-output models only");
  const Index n = mean.size(), q = nodes.size();
  require_shape(mean, "mean", n);
  require_shape(var, "var", n);
  require_shape(y, "y", n);
  require_shape(nodes, "nodes", q);
  require_shape(weights, "weights", q);
  require_shape(loss_out, "loss_out", n);
  require_shape(d1_out, "d1_out", n);
  require_shape(d2_out, "d2_out", n);
  double* l = loss_out.mutable_data();
  double* d1 = d1_out.mutable_data();
  double* d2 = d2_out.mutable_data();
  // Safe without the GIL: every buffer is owned by an argument alive for the whole call.
  py::gil_scoped_release release;
  ngdx::quadrature_pass(model, n, mean.data(), var.data(), y.data(), q, nodes.data(),
                        weights.data(), l, d1, d2, n_threads);
}

double fused_pass(const std::string& model_name, const InputMatrix& X, const Array& y,
                  const OptArray& sample_weight, bool fit_intercept, const Array& mean,
                  const OptArray& factor, const Array& nodes, const Array& weights,
                  int n_threads, Array grad_out, Array hess_out) {
  const Model model = parse_model(model_name);
  require(model != Model::multinomial, "fused_pass: one-output models only");
  const ngdx::Problem pb = make_problem(X, y, 1, fit_intercept, sample_weight);
  const Index p = pb.n_params(), q = nodes.size();
  require_shape(mean, "mean", p);
  if (factor) require_shape(*factor, "factor", p, p);
  require_shape(nodes, "nodes", q);
  require_shape(weights, "weights", q);
  require_shape(grad_out, "grad_out", p);
  require_shape(hess_out, "hess_out", p, p);
  const double* F = factor ? factor->data() : nullptr;
  double* g = grad_out.mutable_data();
  double* H = hess_out.mutable_data();
  py::gil_scoped_release release;  // as in quadrature_pass
  return ngdx::quadrature_fused_pass(model, pb, mean.data(), F, q, nodes.data(),
                                     weights.data(), g, H, n_threads);
}

}  // namespace

void register_bayes(py::module_& m) {
  m.def("quadrature_pass", &quadrature_pass, py::arg("model"), py::arg("mean").noconvert(),
        py::arg("var").noconvert(), py::arg("y").noconvert(), py::arg("nodes").noconvert(),
        py::arg("weights").noconvert(), py::arg("n_threads"), py::arg("loss_out").noconvert(),
        py::arg("d1_out").noconvert(), py::arg("d2_out").noconvert(),
        "For eta_i ~ N(mean_i, var_i): E[loss], E[dloss/deta], E[d2loss/deta2] per row into\n"
        "the out arrays (n,), by the rule (nodes, weights) for N(0, 1). One-output models.");
  m.def("fused_pass", &fused_pass, py::arg("model"), py::arg("X").noconvert(),
        py::arg("y").noconvert(), py::arg("sample_weight").noconvert(), py::arg("fit_intercept"),
        py::arg("mean").noconvert(), py::arg("factor").noconvert(), py::arg("nodes").noconvert(),
        py::arg("weights").noconvert(), py::arg("n_threads"), py::arg("grad_out").noconvert(),
        py::arg("hess_out").noconvert(),
        "One sweep over X (float64 or float32) for q = N(mean, factor factor^T) (factor None:\n"
        "the point mean): returns sum_i s_i E[loss_i]; grad_out (p) and hess_out (p, p) get\n"
        "the sums of s_i E[loss'_i] x~_i and s_i E[loss''_i] x~_i x~_i^T. One-output models.");
}

}  // namespace ngdx::bindings
