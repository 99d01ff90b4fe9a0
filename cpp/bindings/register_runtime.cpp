// Bindings of the run-time settings: threads and the choice of Gram kernel, as
// _core.runtime.
#include <string>

#include "convert.hpp"
#include "ngdx/base/parallel.hpp"
#include "ngdx/linalg/gram.hpp"

namespace ngdx::bindings {

void register_runtime(py::module_& m) {
  m.def("max_threads", &ngdx::max_threads, "Processors OpenMP can use (1 without OpenMP).");
  m.def("gram_kernels", &ngdx::gram_kernels,
        "Names of the Gram kernels this build and CPU can run, the default first.");
  m.def("gram_kernel", [] { return std::string(ngdx::gram_kernel().name); },
        "The Gram kernel passes use now.");
  m.def("select_gram_kernel", &ngdx::select_gram_kernel, py::arg("name"),
        "Uses the named Gram kernel ('auto' for the default) in every later pass.");
  m.attr("has_openmp") = ngdx::kHasOpenMP;
}

}  // namespace ngdx::bindings
