// The Gram micro-kernel for AVX-512, compiled with -mavx512f whatever NGDX_ARCH is and
// chosen only when the CPU reports AVX-512F: 24 x 8 tiles in 24 of the 32 zmm registers.
#include "gram_tile.hpp"
#include "ngdx/linalg/gram_kernel.hpp"

namespace ngdx {
namespace gram_avx512 {
namespace {
void update(const GramOperands& op, double* C, std::ptrdiff_t ldc, std::ptrdiff_t band) {
  gram_update<v8d, 3, 8>(op, C, ldc, band);
}
void pack(const double* X, std::ptrdiff_t m, std::ptrdiff_t d, bool intercept, std::ptrdiff_t D,
          double* P) {
  gram_pack(X, m, d, intercept, D, P);
}
}  // namespace

extern const GramKernel kernel = {"avx512", 24, &update, &pack};

}  // namespace gram_avx512
}  // namespace ngdx
