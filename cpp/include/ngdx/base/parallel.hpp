// Row-block parallelism with a fixed partition and an ordered reduction: the same
// inputs and thread count give bit-identical results.
#pragma once

#include <algorithm>
#include <exception>
#include <vector>

#include "ngdx/base/common.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ngdx {

/// Rows of X handled together: eta, weights and a scaled copy of the block stay in L2.
constexpr Index kBlockRows = 256;

/// Number of threads actually used for a region of `work` independent items.
inline int effective_threads(int n_threads, Index work) {
#ifdef _OPENMP
  int t = std::max(1, n_threads);
  return static_cast<int>(std::min<Index>(t, std::max<Index>(1, work)));
#else
  (void)n_threads;
  (void)work;
  return 1;
#endif
}

/// Contiguous share [begin, end) of `count` items for thread `tid` of `n_threads`:
/// a fixed partition, so results depend on the thread count only.
inline void thread_range(Index count, int tid, int n_threads, Index& begin, Index& end) {
  begin = count * tid / n_threads;
  end = count * (tid + 1) / n_threads;
}

inline int thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

/// Processors OpenMP can use (1 without OpenMP).
inline int max_threads() {
#ifdef _OPENMP
  return omp_get_num_procs();
#else
  return 1;
#endif
}

/// Whether this build runs parallel regions at all.
#ifdef _OPENMP
constexpr bool kHasOpenMP = true;
#else
constexpr bool kHasOpenMP = false;
#endif

/// Runs body(state, first_row, n_rows) over the row blocks of [0, n), each thread on a
/// contiguous range of blocks with its own state from init(); returns the states in
/// thread order, for the caller to reduce in that order (reduce_in_order).
template <class State, class Init, class Body>
std::vector<State> for_each_block(Index n, int n_threads, Init init, Body body,
                                  Index block_rows = kBlockRows) {
  const Index n_blocks = (n + block_rows - 1) / block_rows;
  const int T = effective_threads(n_threads, n_blocks);
  std::vector<State> states(T);
  std::exception_ptr error = nullptr;
#ifdef _OPENMP
#pragma omp parallel num_threads(T)
#endif
  {
    const int tid = thread_id();
    try {
      states[tid] = init();
      Index b0, b1;
      thread_range(n_blocks, tid, T, b0, b1);
      for (Index b = b0; b < b1; ++b) {
        const Index i0 = b * block_rows;
        body(states[tid], i0, std::min(block_rows, n - i0));
      }
    } catch (...) {
#ifdef _OPENMP
#pragma omp critical(ngdx_error)
#endif
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return states;
}

/// Folds the per-thread states of for_each_block into the first one, in thread order,
/// with add(total, part): the rounding of the sum depends on the thread count only.
template <class State, class Add>
State& reduce_in_order(std::vector<State>& states, Add add) {
  for (std::size_t t = 1; t < states.size(); ++t) add(states[0], states[t]);
  return states[0];
}

}  // namespace ngdx
