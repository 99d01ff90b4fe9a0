// Bindings of the network layer (cpp/include/ngdx/nn/): the fused pass, the Fisher-vector
// product and the forward pass, as _core.nn. Every shape and name is checked here, before
// the GIL is released, with a ValueError that names the argument.
#include "convert.hpp"
#include "ngdx/nn/network.hpp"

namespace ngdx::bindings {
namespace {

nn::Activation parse_activation(const std::string& name) {
  return parse_name<nn::Activation>(name, "activation", {{"relu", nn::Activation::relu},
                                                         {"tanh", nn::Activation::tanh},
                                                         {"logistic", nn::Activation::logistic},
                                                         {"identity", nn::Activation::identity}});
}

nn::Output parse_output(const std::string& name) {
  return parse_name<nn::Output>(name, "output", {{"multinomial", nn::Output::multinomial},
                                                 {"logistic", nn::Output::logistic},
                                                 {"gaussian", nn::Output::gaussian},
                                                 {"poisson", nn::Output::poisson}});
}

nn::Curvature parse_curvature(const std::string& name) {
  return parse_name<nn::Curvature>(name, "curvature", {{"none", nn::Curvature::none},
                                                       {"kfac", nn::Curvature::kfac},
                                                       {"dense", nn::Curvature::dense}});
}

nn::FisherKind parse_fisher_kind(const std::string& name) {
  return parse_name<nn::FisherKind>(name, "kind", {{"true", nn::FisherKind::fisher_true},
                                                   {"empirical", nn::FisherKind::empirical},
                                                   {"mc", nn::FisherKind::mc}});
}

/// The network, theta's length checked against it.
nn::Network make_network(const std::vector<Index>& layer_sizes, const std::string& activation,
                         const std::string& output, const Array& theta) {
  nn::Network net(layer_sizes, parse_activation(activation), parse_output(output));
  require_shape(theta, "theta", net.n_params());
  return net;
}

/// X's rows (n >= 1, d = layer_sizes[0]) and the sample weights (n,).
nn::Data make_data(const nn::Network& net, const InputMatrix& X, const OptArray& sample_weight) {
  nn::Data data;
  data.X = rows_view(X, "X");
  data.n = X.shape(0);
  require(data.n >= 1, "X must have at least one row");
  require(data.X.cols == net.n_inputs(),
          "X must have layer_sizes[0] = " + std::to_string(net.n_inputs()) + " columns, got " +
              shape_of(X));
  if (sample_weight) {
    require_shape(*sample_weight, "sample_weight", data.n);
    data.sample_weight = sample_weight->data();
  }
  return data;
}

/// factors_out's arrays A_1, G_1, ..., A_L, G_L: float64, C-contiguous, writeable, of the
/// layers' shapes. The returned references keep them alive even if the list changes.
std::vector<Array> factor_buffers(const nn::Network& net, const py::list& factors) {
  const Index L = net.n_layers();
  require(static_cast<Index>(factors.size()) == 2 * L,
          "factors_out must be a list of 2 L = " + std::to_string(2 * L) +
              " arrays [A_1, G_1, ..., A_L, G_L], got " + std::to_string(factors.size()));
  std::vector<Array> out;
  for (Index j = 0; j < 2 * L; ++j) {
    const std::string name = "factors_out[" + std::to_string(j) + "]";
    py::handle h = factors[static_cast<std::size_t>(j)];
    if (!Array::check_(h))
      throw py::type_error(name + " must be a C-contiguous float64 array");
    auto a = py::reinterpret_borrow<Array>(h);
    require(a.writeable(), name + " must be writeable");
    const nn::Layer& layer = net.layers[j / 2];
    const Index size = j % 2 == 0 ? layer.fan_in + 1 : layer.fan_out;
    require_shape(a, name.c_str(), size, size);
    out.push_back(a);
  }
  return out;
}

py::tuple fused_pass(const InputMatrix& X, const OptArray& y, const OptArray& sample_weight,
                     const std::vector<Index>& layer_sizes, const Array& theta,
                     const std::string& activation, const std::string& output,
                     const std::string& curvature, const std::string& kind, Index n_mc_samples,
                     std::uint64_t seed, int n_threads, OptArray grad_out,
                     std::optional<py::list> factors_out, OptArray fisher_out) {
  const nn::Network net = make_network(layer_sizes, activation, output, theta);
  nn::Data data = make_data(net, X, sample_weight);
  nn::PassRequest req;
  req.curvature = parse_curvature(curvature);
  req.kind = parse_fisher_kind(kind);
  req.n_mc_samples = n_mc_samples;
  req.seed = seed;
  const Index K = net.n_outputs(), p = net.n_params();
  if (y) {
    if (net.output == nn::Output::multinomial || (K == 1 && y->ndim() == 1))
      require_shape(*y, "y", data.n);
    else
      require_shape(*y, "y", data.n, K);
    data.y = y->data();
  } else {
    require(req.kind == nn::FisherKind::fisher_true,
            "y is needed for kind '" + kind + "' (None only with kind 'true')");
    require(!grad_out, "grad_out must be None when y is None (no gradient without labels)");
  }
  if (req.curvature != nn::Curvature::none && req.kind == nn::FisherKind::mc)
    require(n_mc_samples >= 1, "n_mc_samples must be >= 1, got " + std::to_string(n_mc_samples));
  if (grad_out) {
    require_shape(*grad_out, "grad_out", p);
    req.grad = grad_out->mutable_data();
  }
  std::vector<Array> factors;  // held until the GIL is back
  if (req.curvature == nn::Curvature::kfac) {
    require(factors_out.has_value(), "factors_out is needed for curvature 'kfac'");
    factors = factor_buffers(net, *factors_out);
    for (Array& a : factors) req.factors.push_back(a.mutable_data());
  } else {
    require(!factors_out, "factors_out must be None unless curvature is 'kfac'");
  }
  if (req.curvature == nn::Curvature::dense) {
    require(fisher_out.has_value(), "fisher_out is needed for curvature 'dense'");
    require_shape(*fisher_out, "fisher_out", p, p);
    req.fisher = fisher_out->mutable_data();
  } else {
    require(!fisher_out, "fisher_out must be None unless curvature is 'dense'");
  }
  nn::PassResult result;
  {
    // Safe without the GIL: every buffer is owned by an argument or by `factors` (another
    // thread may empty the list factors_out meanwhile) for the whole call, and nothing
    // below touches a Python object.
    py::gil_scoped_release release;
    result = nn::fused_pass(net, data, theta.data(), req, n_threads);
  }
  return py::make_tuple(result.loss, result.n_misclassified);
}

double fisher_vector_product(const InputMatrix& X, const OptArray& sample_weight,
                             const std::vector<Index>& layer_sizes, const Array& theta,
                             const std::string& activation, const std::string& output,
                             const Array& v, int n_threads, Array out) {
  const nn::Network net = make_network(layer_sizes, activation, output, theta);
  const nn::Data data = make_data(net, X, sample_weight);
  require_shape(v, "v", net.n_params());
  require_shape(out, "out", net.n_params());
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass
  return nn::fisher_vector_product(net, data, theta.data(), v.data(), dst, n_threads);
}

void forward(const InputMatrix& X, const std::vector<Index>& layer_sizes, const Array& theta,
             const std::string& activation, const std::string& output, bool mean, int n_threads,
             Array out) {
  const nn::Network net = make_network(layer_sizes, activation, output, theta);
  const nn::Data data = make_data(net, X, std::nullopt);
  require_shape(out, "out", data.n, net.n_outputs());
  double* dst = out.mutable_data();
  py::gil_scoped_release release;  // as in fused_pass
  nn::forward(net, data, theta.data(), mean, dst, n_threads);
}

}  // namespace

void register_nn(py::module_& m) {
  m.def("fused_pass", &fused_pass, py::arg("X").noconvert(), py::arg("y").noconvert(),
        py::arg("sample_weight").noconvert(), py::arg("layer_sizes"),
        py::arg("theta").noconvert(), py::arg("activation"), py::arg("output"),
        py::arg("curvature"), py::arg("kind"), py::arg("n_mc_samples"), py::arg("seed"),
        py::arg("n_threads"), py::arg("grad_out").noconvert(), py::arg("factors_out"),
        py::arg("fisher_out").noconvert(),
        "(weighted mean NLL, misclassified rows); fills grad_out (p,), factors_out\n"
        "[A_1, G_1, ..., A_L, G_L] (curvature 'kfac') or fisher_out (p, p) ('dense').");
  m.def("fisher_vector_product", &fisher_vector_product, py::arg("X").noconvert(),
        py::arg("sample_weight").noconvert(), py::arg("layer_sizes"),
        py::arg("theta").noconvert(), py::arg("activation"), py::arg("output"),
        py::arg("v").noconvert(), py::arg("n_threads"), py::arg("out").noconvert(),
        "Fills out (p,) with F v (the true Fisher, the GGN); returns v^T F v.");
  m.def("forward", &forward, py::arg("X").noconvert(), py::arg("layer_sizes"),
        py::arg("theta").noconvert(), py::arg("activation"), py::arg("output"),
        py::arg("mean"), py::arg("n_threads"), py::arg("out").noconvert(),
        "Fills out (n, K) with eta, or the output family's mean when mean is True.");
}

}  // namespace ngdx::bindings
