// Types, layout conventions and threading helpers shared by every kernel.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ngdx {

using Index = Eigen::Index;
/// Row-major dense matrix: the layout of X, of per-sample scores and of theta (d x K).
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Matrix = Eigen::MatrixXd;
using Vector = Eigen::VectorXd;
using RowMatrixMap = Eigen::Map<RowMatrix>;
using ConstRowMatrixMap = Eigen::Map<const RowMatrix>;
using VectorMap = Eigen::Map<Vector>;
using ConstVectorMap = Eigen::Map<const Vector>;

/// Rows of X handled together: eta, weights and a scaled copy of the block stay in L2.
constexpr Index kBlockRows = 256;

/// The GLM families (the order is part of the binding, see bindings.cpp).
enum class Model : int { logistic = 0, probit = 1, poisson = 2, gaussian = 3, multinomial = 4 };

/// Which curvature matrix a pass accumulates.
enum class Curvature : int { none = 0, fisher_true = 1, empirical = 2, hessian = 3, mc = 4 };

/// Throws std::invalid_argument (ValueError in Python) when cond is false.
inline void require(bool cond, const std::string& message) {
  if (!cond) throw std::invalid_argument(message);
}

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

}  // namespace ngdx
