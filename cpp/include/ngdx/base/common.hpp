// Types, layout conventions and the argument check shared by every kernel. Nothing here
// knows about a model: the GLM enums live in glm/problem.hpp.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <stdexcept>
#include <string>

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

/// Throws std::invalid_argument (ValueError in Python) when cond is false.
inline void require(bool cond, const std::string& message) {
  if (!cond) throw std::invalid_argument(message);
}

}  // namespace ngdx
