// Weighted Gram accumulation: the core of every curvature matrix.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "ngdx/base/rows.hpp"
#include "ngdx/linalg/gram_kernel.hpp"

namespace ngdx {

/// Rows per block of a pass that builds a Gram of dp columns. Measured on the fused pass
/// (2 threads, AVX-512 kernel): at dp = 100, 64 rows took 150 ms against 172 ms for 256
/// and 195 ms for 1024 (the packed block stays near L1); at dp = 500 and 2000, and for
/// the 55 Grams of a 10-class multinomial at dp = 200, 128 rows were best or within 5%.
inline Index gram_block_rows(Index dp) { return dp <= 256 ? 64 : 128; }

/// The kernel the next pass will use: AVX-512 when the build has it and the CPU
/// reports it, the portable one otherwise, unless select_gram_kernel() said otherwise.
const GramKernel& gram_kernel();
/// "auto", or the name of an available kernel; std::invalid_argument otherwise.
void select_gram_kernel(const std::string& name);
/// Names of the kernels this build and CPU can run, the default first.
std::vector<std::string> gram_kernels();

/// Per-thread scratch of the weighted Gram for the kernel fixed at construction: one
/// block of rows packed (with the intercept's column of ones and zero padding) for any
/// number of weight vectors. Accumulators are D x D column-major matrices (D = dp
/// rounded up to 8) whose leading dp x dp lower triangle is the Gram.
class GramWorkspace {
 public:
  GramWorkspace() = default;
  GramWorkspace(const GramKernel& kernel, Index block_rows, Index dp)
      : kernel_(&kernel), D_((dp + 7) / 8 * 8) {
    packed_.assign(static_cast<std::size_t>(block_rows * D_ + 8), 0.0);
    // band x m x 8 bytes of A panels within 512 KiB of L2, in whole tiles.
    const Index tile = kernel.tile_rows;
    band_ = std::max<Index>(tile, (Index(65536) / block_rows) / tile * tile);
  }
  Matrix zero_accumulator() const { return Matrix::Zero(D_, D_); }

  /// Packs the m rows of X (row stride d, a trailing 1 when intercept is set) as the
  /// next block; `next` (or null) is where the block after it starts, its next_bytes
  /// bytes fetched into L2 during the next add().
  void set_rows(const double* X, Index m, Index d, bool intercept, const void* next = nullptr,
                Index next_bytes = 0) {
    double* P = aligned(packed_);
    kernel_->pack(X, m, d, intercept, D_, P);
    op_ = GramOperands{};
    op_.m = m, op_.D = D_, op_.used = d + (intercept ? 1 : 0), op_.packed = P;
    op_.prefetch = next, op_.prefetch_bytes = next ? next_bytes : 0;
  }
  /// set_rows for rows i0 .. i0 + m of X (n rows), given as doubles at `rows` (X itself,
  /// or its float32 rows converted by a RowBlockReader), prefetching the block of up to m
  /// rows after them from X.
  void set_block(const double* rows, const RowsView& X, Index n, Index i0, Index m,
                 bool intercept) {
    const Index next = std::min(m, n - i0 - m);  // rows of the block after this one
    set_rows(rows, m, X.cols, intercept, next > 0 ? X.row_address(i0 + m) : nullptr,
             next * X.cols * X.element_bytes());
  }
  /// acc(lower) += sum_k w_k x_k x_k^T over the rows set last (w null: unit weights).
  void add(const double* w, Matrix& acc) {
    op_.w = w;
    kernel_->update(op_, acc.data(), acc.rows(), band_);
    op_.prefetch = nullptr;  // once per block is enough
  }

 private:
  static double* aligned(std::vector<double>& v) {  // first 64-byte boundary
    const auto addr = reinterpret_cast<std::uintptr_t>(v.data());
    return v.data() + ((64 - addr % 64) % 64) / sizeof(double);
  }

  const GramKernel* kernel_ = nullptr;
  Index D_ = 0, band_ = 0;
  std::vector<double> packed_;
  GramOperands op_{};
};

/// diag += sum_i w_i * x_i^2 (elementwise), x_i with a trailing 1 when intercept is set.
inline void add_weighted_square(const double* X, Index m, Index d, bool intercept, const double* w,
                                double* diag) {
  for (Index i = 0; i < m; ++i) {
    const double wi = w[i];
    const double* x = X + i * d;
    for (Index j = 0; j < d; ++j) diag[j] += wi * x[j] * x[j];
    if (intercept) diag[d] += wi;
  }
}

/// Copies the leading p x p lower triangle of `lower` (scaled) into the full symmetric
/// row-major out (p x p).
inline void write_symmetric(const Matrix& lower, Index p, double scale, double* out) {
  for (Index i = 0; i < p; ++i)
    for (Index j = 0; j <= i; ++j) out[i * p + j] = out[j * p + i] = scale * lower(i, j);
}

/// out (dp x dp, full symmetric, row-major; dp = d + intercept) = scale * sum_i w_i a_i a_i^T,
/// a_i row i of A (n x d = A.cols, row-major, float64 or float32) with a trailing 1 when
/// intercept is set; w null means unit weights, and signed weights are allowed. The fused
/// pass's row blocks, thread partition and ordered reduction: its curvature for weights w
/// is this Gram, bit for bit, at the same thread count. K-FAC's factors are such Grams
/// (activations with the bias column, output gradients).
void weighted_gram(const RowsView& A, Index n, bool intercept, const double* w, double scale,
                   int n_threads, double* out);

}  // namespace ngdx
