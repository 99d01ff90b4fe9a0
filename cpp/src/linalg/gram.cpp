// The choice of Gram kernel (the fastest this build and CPU can run, or the one asked
// for) and the weighted Gram on its own.
#include "ngdx/linalg/gram.hpp"

#include <atomic>
#include <string>
#include <vector>

#include "ngdx/base/parallel.hpp"

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

void weighted_gram(const RowsView& A, Index n, bool intercept, const double* w, double scale,
                   int n_threads, double* out) {
  const Index dp = A.cols + (intercept ? 1 : 0);
  require(n > 0 && dp > 0, "the Gram needs at least one row and one column");
  struct State {
    GramWorkspace gram;
    RowBlockReader reader;
    Matrix acc;
  };
  const Index block = gram_block_rows(dp);
  const GramKernel& kernel = gram_kernel();
  auto states = for_each_block<State>(
      n, n_threads,
      [&] {
        State st{GramWorkspace(kernel, block, dp), RowBlockReader(A, block), Matrix()};
        st.acc = st.gram.zero_accumulator();
        return st;
      },
      [&](State& st, Index i0, Index m) {
        st.gram.set_block(st.reader.rows(i0, m), A, n, i0, m, intercept);
        st.gram.add(w ? w + i0 : nullptr, st.acc);
      },
      block);
  const State& total = reduce_in_order(states, [](State& acc, const State& part) {
    acc.acc += part.acc;
  });
  write_symmetric(total.acc, dp, scale, out);
}

}  // namespace ngdx
