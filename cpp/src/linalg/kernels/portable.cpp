// The Gram micro-kernel for the build's own target (NGDX_ARCH): 8 x 4 tiles, 8 of the 16
// vector registers of 4 doubles (AVX2). NR must divide 8: B's columns come in 8s.
#include "gram_tile.hpp"
#include "ngdx/linalg/gram_kernel.hpp"

namespace ngdx {
namespace gram_portable {
namespace {
void update(const GramOperands& op, double* C, std::ptrdiff_t ldc, std::ptrdiff_t band) {
  gram_update<v4d, 1, 4>(op, C, ldc, band);
}
void pack(const double* X, std::ptrdiff_t m, std::ptrdiff_t d, bool intercept, std::ptrdiff_t D,
          double* P) {
  gram_pack(X, m, d, intercept, D, P);
}
}  // namespace

extern const GramKernel kernel = {"portable", 8, &update, &pack};

}  // namespace gram_portable
}  // namespace ngdx
