// The register-blocked Gram micro-kernel, included only by the per-instruction-set kernel
// files (portable.cpp and avx512.cpp beside it), each compiled with its own target flags.
//
// Everything here has internal linkage (an unnamed namespace) and includes no library
// header with inline functions, so code compiled for AVX-512 can never be merged by the
// linker into the portable build's copies (an ODR violation that would crash on CPUs
// without AVX-512).
//
// A block of m rows of width D (a multiple of 8) is packed once (gram_pack) as D / 8
// panels of m x 8 doubles, so a tile reads both its operands sequentially: 8-row
// panels as vectors (A), NR <= 8 columns of one panel as broadcasts (B). Weights are
// applied to A in the tile, so one packing serves every weight vector (the K(K+1)/2
// multinomial pairs). C (column-major, leading dimension ldc >= D, at least D columns)
// receives C[i, j] += sum_k w_k x_k[i] x_k[j] for every 8-row panel that meets the
// lower triangle.
#pragma once

#include <cstddef>

#include "ngdx/linalg/gram_kernel.hpp"

namespace ngdx {
namespace {

using tile_index = std::ptrdiff_t;

/// Vectors of 8 doubles (one zmm register) and of 4 (one ymm, or two xmm).
typedef double v8d __attribute__((vector_size(64)));
typedef double v4d __attribute__((vector_size(32)));

/// Unaligned vector load and store: C's columns are only 8-byte aligned in general (the
/// packed panels are 64-byte aligned in practice, which the hardware rewards).
template <class V>
inline V load(const double* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof(V));
  return v;
}
template <class V>
inline void store(double* p, V v) {
  __builtin_memcpy(p, &v, sizeof(V));
}

/// C[rows i0 .. i0 + 8 MV, columns j0 .. j0 + NR) += sum_k w_k a_k b_k^T over m rows, with
/// vectors of type V (L doubles, 8 / L of them per 8-row panel, of which the first P
/// are computed: P = 1 with V = v4d is the first 4 rows of one panel). Row k of panel q
/// of A is at A + q a_panel + k a_row, row k of the B columns at B + k b_row; w null
/// means unit weights. acc stays in registers: 3 x 8 zmm for <v8d, 3, 8>, 2 x 4 ymm for
/// <v4d, 1, 4>.
template <class V, int MV, int NR, int P = 8 / static_cast<int>(sizeof(V) / sizeof(double))>
inline void gram_tile(const double* __restrict A, tile_index a_panel, tile_index a_row,
                      const double* __restrict B, tile_index b_row,
                      const double* __restrict w, tile_index m, double* __restrict C,
                      tile_index ldc) {
  constexpr int L = static_cast<int>(sizeof(V) / sizeof(double));
  V acc[MV * P][NR];
#pragma GCC unroll 8
  for (int v = 0; v < MV * P; ++v)
#pragma GCC unroll 16
    for (int c = 0; c < NR; ++c) acc[v][c] = V{};
  for (tile_index k = 0; k < m; ++k, A += a_row, B += b_row) {
    V a[MV * P];
#pragma GCC unroll 8
    for (int v = 0; v < MV * P; ++v) a[v] = load<V>(A + (v / P) * a_panel + L * (v % P));
    if (w) {
      const double wk = w[k];
#pragma GCC unroll 8
      for (int v = 0; v < MV * P; ++v) a[v] *= wk;
    }
#pragma GCC unroll 16
    for (int c = 0; c < NR; ++c) {
      const double bc = B[c];
#pragma GCC unroll 8
      for (int v = 0; v < MV * P; ++v) acc[v][c] += a[v] * bc;
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v < MV * P; ++v)
#pragma GCC unroll 16
    for (int c = 0; c < NR; ++c) {
      double* cp = C + c * ldc + 8 * (v / P) + L * (v % P);
      store<V>(cp, load<V>(cp) + acc[v][c]);
    }
}

/// P[(j / 8) 8 m + 8 k + j % 8] = x_k[j] for j < D: row k of X (row stride d) with a
/// trailing 1 when intercept is set and zeros past it, as D / 8 panels of m x 8.
inline void gram_pack(const double* __restrict X, tile_index m, tile_index d, bool intercept,
                      tile_index D, double* __restrict P) {
  const tile_index full = d / 8 * 8;
  for (tile_index k = 0; k < m; ++k) {
    const double* __restrict x = X + k * d;
    double* __restrict dst = P + 8 * k;
    for (tile_index j0 = 0; j0 < full; j0 += 8) {
      store<v4d>(dst + j0 * m, load<v4d>(x + j0));
      store<v4d>(dst + j0 * m + 4, load<v4d>(x + j0 + 4));
    }
    for (tile_index j0 = full; j0 < D; j0 += 8)
      for (int c = 0; c < 8; ++c) {
        const tile_index j = j0 + c;
        dst[j0 * m + c] = j < d ? x[j] : (j == d && intercept ? 1.0 : 0.0);
      }
  }
}

/// Spreads software prefetches of the next block of rows over the tiles of this one, so
/// its transfer from memory overlaps the arithmetic instead of following it.
struct Prefetcher {
  const char* next = nullptr;
  const char* end = nullptr;
  tile_index per_tile = 0;  // bytes
  void operator()() {
    for (tile_index b = 0; b < per_tile && next < end; b += 64, next += 64)
      __builtin_prefetch(next, 0, 2);
  }
};

/// The lower part of C += sum_k w_k x_k x_k^T for one packed block of m rows, tiled for
/// the cache: rows in bands of `band` (a multiple of 8 MV) so the band's A panels stay in
/// L2 while the B panels of every column left of the band's bottom stream past them.
/// A last panel with at most 4 rows in use (op.used) is computed 4 rows wide: half the
/// arithmetic of its tiles on CPUs that split 8-wide vectors (Zen 4), no more elsewhere.
template <class V, int MV, int NR>
inline void gram_update(const GramOperands& op, double* C, tile_index ldc, tile_index band) {
  const tile_index m = op.m, D = op.D;
  const bool half = op.used > 0 && D - op.used >= 4;
  const tile_index rows = half ? D - 8 : D;  // rows of whole panels
  // One tile of up to `panels` 8-row panels at row i, columns j0 .. j0 + NR (panels = 0:
  // the first 4 rows of the panel at i).
  auto run = [&](tile_index i, tile_index panels, tile_index j0) {
    const double* A = op.packed + i * m;                      // panel i / 8
    const double* B = op.packed + (j0 / 8) * 8 * m + j0 % 8;  // columns j0 % 8 .. of j0 / 8
    double* Cp = C + j0 * ldc + i;
    if (panels == 0)
      gram_tile<v4d, 1, NR, 1>(A, 8 * m, 8, B, 8, op.w, m, Cp, ldc);
    else if (panels == MV)
      gram_tile<V, MV, NR>(A, 8 * m, 8, B, 8, op.w, m, Cp, ldc);
    else if (MV > 2 && panels == 2)
      gram_tile<V, (MV > 2 ? 2 : 1), NR>(A, 8 * m, 8, B, 8, op.w, m, Cp, ldc);
    else
      gram_tile<V, 1, NR>(A, 8 * m, 8, B, 8, op.w, m, Cp, ldc);
  };
  // Visits every tile once (count them with a no-op first, to share out the prefetches).
  auto sweep = [&](auto&& visit) {
    for (tile_index ib = 0; ib < D; ib += band) {
      const tile_index ie = ib + band < D ? ib + band : D;
      for (tile_index j0 = 0; j0 < ie; j0 += NR) {
        tile_index i = (j0 / 8) * 8;
        if (i < ib) i = ib;
        const tile_index whole = ie < rows ? ie : rows;
        while (i < whole) {
          tile_index panels = (whole - i) / 8;
          if (panels > MV) panels = (MV == 3 && panels == 4) ? 2 : MV;  // 2 + 2, not 3 + 1
          visit(i, panels, j0);
          i += 8 * panels;
        }
        if (i < ie) visit(i, 0, j0);  // the half-used last panel
      }
    }
  };
  Prefetcher prefetch;
  if (op.prefetch && op.prefetch_bytes > 0) {
    tile_index n_tiles = 0;
    sweep([&](tile_index, tile_index, tile_index) { ++n_tiles; });
    prefetch.next = static_cast<const char*>(op.prefetch);
    prefetch.end = prefetch.next + op.prefetch_bytes;
    prefetch.per_tile = (op.prefetch_bytes / n_tiles + 127) / 64 * 64;
  }
  sweep([&](tile_index i, tile_index panels, tile_index j0) {
    run(i, panels, j0);
    prefetch();
  });
}

}  // namespace
}  // namespace ngdx
