// Row-block parallelism with a fixed partition and an ordered reduction: the same
// inputs and thread count give bit-identical results.
#pragma once

#include <exception>
#include <vector>

#include "ngdx/common.hpp"

namespace ngdx {

/// Runs body(state, first_row, n_rows) over the row blocks of [0, n), each thread on a
/// contiguous range of blocks with its own state from init(); returns the states in
/// thread order, for the caller to reduce in that order.
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

}  // namespace ngdx
