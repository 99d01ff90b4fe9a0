// A row-major input matrix as the caller stored it (float64 or float32), and the
// per-thread reader that hands its row blocks to the kernels as doubles.
//
// Every kernel computes in double. A float64 X is read in place; a float32 X is read as
// it is (half the memory and bandwidth of a float64 copy) and converted once per block
// of rows into a small per-thread buffer, from which every use of the block (X theta,
// X^T r, the Gram's packing) reads. So a float32 X gives the float64 result of its values,
// up to the order of floating-point sums.
#pragma once

#include <algorithm>
#include <vector>

#include "ngdx/base/common.hpp"

namespace ngdx {

/// The element type of an input matrix: the bindings accept both and nothing else.
enum class Scalar : int { f64 = 0, f32 = 1 };

/// A row-major matrix of `cols` columns at `data`, of element type `type`, not owned.
struct RowsView {
  const void* data = nullptr;
  Scalar type = Scalar::f64;
  Index cols = 0;

  Index element_bytes() const { return type == Scalar::f32 ? 4 : 8; }
  /// Where row i starts, for prefetching.
  const void* row_address(Index i) const {
    return static_cast<const char*>(data) + i * cols * element_bytes();
  }
};

/// Reads blocks of up to `block_rows` rows of a RowsView as a row-major double array:
/// a pointer into X itself for float64, a converted copy in an owned buffer (allocated
/// once, at construction) for float32. One per thread; a block's pointer is valid until
/// the next call.
class RowBlockReader {
 public:
  RowBlockReader() = default;
  RowBlockReader(const RowsView& X, Index block_rows) : X_(X) {
    if (X.type == Scalar::f32) buffer_.resize(static_cast<std::size_t>(block_rows * X.cols));
  }
  /// Rows i0 .. i0 + m as doubles (m <= block_rows).
  const double* rows(Index i0, Index m) {
    if (X_.type == Scalar::f64) return static_cast<const double*>(X_.data) + i0 * X_.cols;
    const float* src = static_cast<const float*>(X_.data) + i0 * X_.cols;
    std::copy(src, src + m * X_.cols, buffer_.data());  // float -> double, exact
    return buffer_.data();
  }
  /// The same rows as an m x cols map.
  ConstRowMatrixMap block(Index i0, Index m) { return {rows(i0, m), m, X_.cols}; }

 private:
  RowsView X_;
  std::vector<double> buffer_;
};

}  // namespace ngdx
