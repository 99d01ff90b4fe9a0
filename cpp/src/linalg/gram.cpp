// The choice of Gram kernel: the fastest this build and CPU can run, or the one asked for.
#include <atomic>
#include <string>
#include <vector>

#include "ngdx/linalg/gram.hpp"

namespace ngdx {
namespace {

bool cpu_has_avx512() {
#if defined(NGDX_HAVE_AVX512_KERNEL) && (defined(__GNUC__) || defined(__clang__))
  // libgcc's check covers the OS too: it reads XCR0 for the zmm state.
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

const GramKernel& default_kernel() {
#ifdef NGDX_HAVE_AVX512_KERNEL
  if (cpu_has_avx512()) return gram_avx512::kernel;
#endif
  return gram_portable::kernel;
}

std::atomic<const GramKernel*> active{nullptr};

}  // namespace

const GramKernel& gram_kernel() {
  const GramKernel* k = active.load();
  return k ? *k : default_kernel();
}

std::vector<std::string> gram_kernels() {
  std::vector<std::string> names{default_kernel().name};
  if (names[0] != gram_portable::kernel.name) names.emplace_back(gram_portable::kernel.name);
  return names;
}

void select_gram_kernel(const std::string& name) {
  if (name == "auto") {
    active.store(nullptr);
    return;
  }
  const GramKernel* chosen = nullptr;
  if (name == gram_portable::kernel.name) chosen = &gram_portable::kernel;
#ifdef NGDX_HAVE_AVX512_KERNEL
  if (name == gram_avx512::kernel.name && cpu_has_avx512()) chosen = &gram_avx512::kernel;
#endif
  if (!chosen) {
    std::string allowed = "'auto'";
    for (const std::string& n : gram_kernels()) allowed += ", '" + n + "'";
    throw std::invalid_argument("Gram kernel '" + name + "' is not available here; allowed: " +
                                allowed);
  }
  active.store(chosen);
}

}  // namespace ngdx
