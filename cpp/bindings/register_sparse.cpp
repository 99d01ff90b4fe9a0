// Bindings of the GLM kernels on a CSR X (cpp/include/ngdx/glm/sparse.hpp), into _core.glm
// as the dense kernels' names with a _csr suffix. X comes as its three arrays (data
// float64; indices and indptr both int32 or both int64, as scipy gives them) and its
// number of columns; each function is bound once per index type, so neither is ever
// converted. Python (ngdx._data.csr.csr_parts) checks values; here only shapes and the
// offsets are checked, and the column indices as the kernels read them.
#include <cstdint>

#include "convert.hpp"
#include "ngdx/glm/sparse.hpp"

namespace ngdx::bindings {
namespace {

template <class I>
using IndexArray = py::array_t<I, py::array::c_style>;

template <class I>
SparseProblem<I> make_sparse_problem(const Array& data, const IndexArray<I>& indices,
                                     const IndexArray<I>& indptr, Index n_features,
                                     const OptArray& y, Index n_classes, bool fit_intercept,
                                     const OptArray& sample_weight) {
  require(data.ndim() == 1, "data must be 1-D, got shape " + shape_of(data));
  require_shape(indices, "indices", data.shape(0));
  require(indptr.ndim() == 1 && indptr.shape(0) >= 2,
          "indptr must be 1-D with at least 2 entries (one row), got shape " + shape_of(indptr));
  require(n_features >= 0, "n_features must be >= 0");
  require(n_classes >= 1, "n_classes must be >= 1");
  SparseProblem<I> pb;
  pb.X.data = data.data();
  pb.X.indices = indices.data();
  pb.X.indptr = indptr.data();
  pb.X.n = indptr.shape(0) - 1;
  pb.X.d = n_features;
  pb.X.nnz = data.shape(0);
  pb.n_classes = n_classes;
  pb.fit_intercept = fit_intercept;
  if (y) {
    require_shape(*y, "y", pb.X.n);
    pb.y = y->data();
  }
  if (sample_weight) {
    require_shape(*sample_weight, "sample_weight", pb.X.n);
    pb.sample_weight = sample_weight->data();
  }
  return pb;
}

template <class I>
py::tuple fused_pass_csr(const std::string& model_name, const Array& data,
                         const IndexArray<I>& indices, const IndexArray<I>& indptr,
                         Index n_features, const OptArray& y, const Array& theta, Index n_classes,
                         bool fit_intercept, const OptArray& sample_weight,
                         const std::string& kind, bool diagonal, Index n_samples,
                         std::uint64_t seed, int n_threads, OptArray grad_out,
                         OptArray curvature_out) {
  const Model model = parse_model(model_name);
  const SparseProblem<I> pb = make_sparse_problem(data, indices, indptr, n_features, y, n_classes,
                                                  fit_intercept, sample_weight);
  const Index p = pb.n_params();
  require_shape(theta, "theta", p);
  const PassRequest req =
      make_pass_request(p, kind, diagonal, n_samples, seed, grad_out, curvature_out);
  PassResult result;
  {
    // Safe without the GIL: every buffer is owned by an argument alive for the whole call,
    // and nothing below touches a Python object.
    py::gil_scoped_release release;
    result = fused_pass(model, pb, theta.data(), req, n_threads);
  }
  return py::make_tuple(result.loss, result.n_misclassified);
}

template <class I>
void curvature_weights_csr(const std::string& model_name, const Array& data,
                           const IndexArray<I>& indices, const IndexArray<I>& indptr,
                           Index n_features, const Array& y, const Array& theta,
                           bool fit_intercept, const OptArray& sample_weight,
                           const std::string& kind, Index n_samples, std::uint64_t seed,
                           int n_threads, Array out) {
  const Model model = parse_model(model_name);
  const SparseProblem<I> pb =
      make_sparse_problem(data, indices, indptr, n_features, y, 1, fit_intercept, sample_weight);
  require_shape(theta, "theta", pb.n_params());
  require_shape(out, "out", pb.X.n);
  PassRequest req;
  req.kind = parse_kind(kind);
  req.n_samples = n_samples;
  req.seed = seed;
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass_csr
  curvature_weights(model, pb, theta.data(), req, dst, n_threads);
}

template <class I>
void scores_csr(const std::string& model_name, const Array& data, const IndexArray<I>& indices,
                const IndexArray<I>& indptr, Index n_features, const Array& y,
                const Array& theta, Index n_classes, bool fit_intercept, int n_threads,
                Array out) {
  const Model model = parse_model(model_name);
  const SparseProblem<I> pb = make_sparse_problem(data, indices, indptr, n_features, y, n_classes,
                                                  fit_intercept, std::nullopt);
  require_shape(theta, "theta", pb.n_params());
  require_shape(out, "out", pb.X.n, pb.n_params());
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass_csr
  scores(model, pb, theta.data(), dst, n_threads);
}

template <class I>
void predict_mean_csr(const std::string& model_name, const Array& data,
                      const IndexArray<I>& indices, const IndexArray<I>& indptr,
                      Index n_features, const Array& theta, Index n_classes, bool fit_intercept,
                      int n_threads, Array out) {
  const Model model = parse_model(model_name);
  const SparseProblem<I> pb = make_sparse_problem(data, indices, indptr, n_features, std::nullopt,
                                                  n_classes, fit_intercept, std::nullopt);
  require_shape(theta, "theta", pb.n_params());
  require_shape(out, "out", pb.X.n, n_classes);
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass_csr
  predict_mean(model, pb, theta.data(), dst, n_threads);
}

template <class I>
double mean_kl_csr(const std::string& model_name, const Array& data, const IndexArray<I>& indices,
                   const IndexArray<I>& indptr, Index n_features, const Array& theta_p,
                   const Array& theta_q, Index n_classes, bool fit_intercept,
                   const OptArray& sample_weight, int n_threads) {
  const Model model = parse_model(model_name);
  const SparseProblem<I> pb = make_sparse_problem(data, indices, indptr, n_features, std::nullopt,
                                                  n_classes, fit_intercept, sample_weight);
  require_shape(theta_p, "theta_p", pb.n_params());
  require_shape(theta_q, "theta_q", pb.n_params());
  py::gil_scoped_release release;  // as in fused_pass_csr
  return mean_kl(model, pb, theta_p.data(), theta_q.data(), n_threads);
}

template <class I>
double fisher_vector_product_csr(const std::string& model_name, const Array& data,
                                 const IndexArray<I>& indices, const IndexArray<I>& indptr,
                                 Index n_features, const Array& theta, const Array& v,
                                 Index n_classes, bool fit_intercept,
                                 const OptArray& sample_weight, int n_threads, Array out) {
  const Model model = parse_model(model_name);
  const SparseProblem<I> pb = make_sparse_problem(data, indices, indptr, n_features, std::nullopt,
                                                  n_classes, fit_intercept, sample_weight);
  require_shape(theta, "theta", pb.n_params());
  require_shape(v, "v", pb.n_params());
  require_shape(out, "out", pb.n_params());
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass_csr
  return fisher_vector_product(model, pb, theta.data(), v.data(), dst, n_threads);
}

template <class I>
void sample_labels_csr(const std::string& model_name, const Array& data,
                       const IndexArray<I>& indices, const IndexArray<I>& indptr,
                       Index n_features, const Array& theta, Index n_classes, bool fit_intercept,
                       Index n_samples, std::uint64_t seed, int n_threads, Array out) {
  const Model model = parse_model(model_name);
  const SparseProblem<I> pb = make_sparse_problem(data, indices, indptr, n_features, std::nullopt,
                                                  n_classes, fit_intercept, std::nullopt);
  require_shape(theta, "theta", pb.n_params());
  require(n_samples >= 1, "n_samples must be >= 1");
  require_shape(out, "out", pb.X.n, n_samples);
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass_csr
  sample_labels(model, pb, theta.data(), n_samples, seed, dst, n_threads);
}

/// X's four arguments, as every _csr function takes them first after the model.
#define NGDX_CSR_ARGS                                                                       \
  py::arg("model"), py::arg("data").noconvert(), py::arg("indices").noconvert(),            \
      py::arg("indptr").noconvert(), py::arg("n_features")

/// Binds one index type's overloads (pybind11 tries the int32 one, then the int64 one).
template <class I>
void register_index_type(py::module_& m) {
  m.def("fused_pass_csr", &fused_pass_csr<I>, NGDX_CSR_ARGS, py::arg("y").noconvert(),
        py::arg("theta").noconvert(), py::arg("n_classes"), py::arg("fit_intercept"),
        py::arg("sample_weight").noconvert(), py::arg("kind"), py::arg("diagonal"),
        py::arg("n_samples"), py::arg("seed"), py::arg("n_threads"),
        py::arg("grad_out").noconvert(), py::arg("curvature_out").noconvert(),
        "fused_pass on a CSR X (data, indices, indptr, n_features).");
  m.def("curvature_weights_csr", &curvature_weights_csr<I>, NGDX_CSR_ARGS,
        py::arg("y").noconvert(), py::arg("theta").noconvert(), py::arg("fit_intercept"),
        py::arg("sample_weight").noconvert(), py::arg("kind"), py::arg("n_samples"),
        py::arg("seed"), py::arg("n_threads"), py::arg("out").noconvert(),
        "curvature_weights on a CSR X.");
  m.def("scores_csr", &scores_csr<I>, NGDX_CSR_ARGS, py::arg("y").noconvert(),
        py::arg("theta").noconvert(), py::arg("n_classes"), py::arg("fit_intercept"),
        py::arg("n_threads"), py::arg("out").noconvert(), "scores on a CSR X.");
  m.def("predict_mean_csr", &predict_mean_csr<I>, NGDX_CSR_ARGS, py::arg("theta").noconvert(),
        py::arg("n_classes"), py::arg("fit_intercept"), py::arg("n_threads"),
        py::arg("out").noconvert(), "predict_mean on a CSR X.");
  m.def("mean_kl_csr", &mean_kl_csr<I>, NGDX_CSR_ARGS, py::arg("theta_p").noconvert(),
        py::arg("theta_q").noconvert(), py::arg("n_classes"), py::arg("fit_intercept"),
        py::arg("sample_weight").noconvert(), py::arg("n_threads"), "mean_kl on a CSR X.");
  m.def("fisher_vector_product_csr", &fisher_vector_product_csr<I>, NGDX_CSR_ARGS,
        py::arg("theta").noconvert(), py::arg("v").noconvert(), py::arg("n_classes"),
        py::arg("fit_intercept"), py::arg("sample_weight").noconvert(), py::arg("n_threads"),
        py::arg("out").noconvert(), "fisher_vector_product on a CSR X.");
  m.def("sample_labels_csr", &sample_labels_csr<I>, NGDX_CSR_ARGS,
        py::arg("theta").noconvert(), py::arg("n_classes"), py::arg("fit_intercept"),
        py::arg("n_samples"), py::arg("seed"), py::arg("n_threads"), py::arg("out").noconvert(),
        "sample_labels on a CSR X.");
}

#undef NGDX_CSR_ARGS

}  // namespace

void register_sparse(py::module_& m) {
  register_index_type<std::int32_t>(m);
  register_index_type<std::int64_t>(m);
}

}  // namespace ngdx::bindings
