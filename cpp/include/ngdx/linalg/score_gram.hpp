// Batched score accumulation: the empirical Fisher S^T S / n of a caller's score matrix.
#pragma once

#include "ngdx/base/common.hpp"

namespace ngdx {

/// out = S^T S / n (p x p row-major), or its diagonal (p) when diagonal is set.
/// S is n x p row-major; blocked, threaded symmetric rank-k updates.
void fisher_from_scores(const double* S, Index n, Index p, bool diagonal, double* out,
                        int n_threads);

}  // namespace ngdx
