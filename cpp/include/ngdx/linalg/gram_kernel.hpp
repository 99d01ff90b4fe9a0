// The Gram kernels available to this build, one per instruction set, and the choice
// among them. A descriptor holds no code of its own: each kernel file defines one.
#pragma once

#include <cstddef>

namespace ngdx {

/// One packed block of rows as a Gram kernel reads it (see src/linalg/kernels/gram_tile.hpp).
/// A plain aggregate (no inline constructor to be compiled for two instruction sets):
/// value-initialize it, GramOperands op{}.
struct GramOperands {
  std::ptrdiff_t m, D;             ///< rows, padded width (a multiple of 8)
  std::ptrdiff_t used;             ///< columns in use, <= D (0: all D)
  const double* packed;            ///< the rows, as packed by GramKernel::pack
  const double* w;                 ///< row weights (null: unit weights)
  const void* prefetch;            ///< the next block's bytes, fetched into L2 meanwhile
  std::ptrdiff_t prefetch_bytes;
};

/// One compiled Gram micro-kernel (see src/linalg/kernels/gram_tile.hpp).
struct GramKernel {
  const char* name;           ///< "portable" (the build's NGDX_ARCH) or "avx512"
  std::ptrdiff_t tile_rows;   ///< rows per full tile (8 MV): bands are multiples of it
  /// C(lower, column-major, leading dimension ldc >= D, >= D columns) += sum_k w_k x_k x_k^T.
  void (*update)(const GramOperands& op, double* C, std::ptrdiff_t ldc, std::ptrdiff_t band);
  /// Packs m rows of X (row stride d, a trailing 1 when intercept is set) into D / 8
  /// panels of m x 8 at P.
  void (*pack)(const double* X, std::ptrdiff_t m, std::ptrdiff_t d, bool intercept,
               std::ptrdiff_t D, double* P);
};

namespace gram_portable {
extern const GramKernel kernel;
}
#ifdef NGDX_HAVE_AVX512_KERNEL
namespace gram_avx512 {
extern const GramKernel kernel;
}
#endif

}  // namespace ngdx
