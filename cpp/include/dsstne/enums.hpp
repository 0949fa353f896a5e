// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file enums.hpp
/// @brief DSSTNE's enumerations with the numeric codes its files use, and name lookup.
///
/// The codes are part of the file formats (NetCDF data sets and models) and must not change.

#include <cstdint>
#include <string>

namespace dsstne {

/// Data set attribute bits (NetCDF `attributesN`).
namespace attr {
constexpr uint32_t kSparse = 1;
constexpr uint32_t kBoolean = 2;
constexpr uint32_t kCompressed = 4;
constexpr uint32_t kRecurrent = 8;
constexpr uint32_t kMutable = 16;
constexpr uint32_t kSparseIgnoreZero = 32;
constexpr uint32_t kIndexed = 64;
constexpr uint32_t kWeighted = 128;
constexpr uint32_t kAll = 255;
}  // namespace attr

/// Element type of a data set's stored values (NetCDF `dataTypeN`).
enum class DataType : uint32_t {
  UInt = 0, Int = 1, LLInt = 2, ULLInt = 3, Float = 4, Double = 5,
  RGB8 = 6, RGB16 = 7, UChar = 8, Char = 9
};
enum class NetworkKind : uint32_t { FeedForward = 0, AutoEncoder = 1 };
enum class LayerKind : uint32_t { Input = 0, Hidden = 1, Output = 2, Target = 3 };
enum class LayerType : uint32_t { FullyConnected = 0, Convolutional = 1, Pooling = 2 };
/// Layer attribute bits (model file `layer<i>_attributes`).
namespace layer_attr {
constexpr uint32_t kSparse = 1;
constexpr uint32_t kDenoising = 2;
constexpr uint32_t kBatchNormalization = 4;
}  // namespace layer_attr
enum class Activation : uint32_t {
  Sigmoid = 0, Tanh = 1, RectifiedLinear = 2, Linear = 3, ParametricRectifiedLinear = 4,
  SoftPlus = 5, SoftSign = 6, SoftMax = 7, RELUMax = 8, LinearMax = 9, ExponentialLinear = 10,
  LeakyRectifiedLinear = 11, ScaledExponentialLinear = 12
};
enum class WeightInit : uint32_t {
  Xavier = 0, CaffeXavier = 1, Gaussian = 2, Uniform = 3, UnitBall = 4, Constant = 5, SELU = 6
};
enum class PoolingFunction : uint32_t {
  None = 0, Max = 1, Average = 2, LRN = 3, Maxout = 4, DotProduct = 5, Cosine = 6,
  Stochastic = 7, LCN = 8, GlobalTemporal = 9
};
enum class ErrorFunction : uint32_t {
  L1 = 0, L2 = 1, CrossEntropy = 2, ScaledMarginalCrossEntropy = 3,
  DataScaledMarginalCrossEntropy = 4, Hinge = 5, L2Hinge = 6
};
enum class TrainingMode : uint32_t {
  SGD = 0, Momentum = 1, AdaGrad = 2, Nesterov = 3, RMSProp = 4, AdaDelta = 5, Adam = 6
};

/// Human-readable names, as DSSTNE prints them.
std::string to_string(DataType v);
std::string to_string(LayerKind v);
std::string to_string(LayerType v);
std::string to_string(Activation v);
std::string to_string(WeightInit v);
std::string to_string(PoolingFunction v);
std::string to_string(ErrorFunction v);
std::string to_string(TrainingMode v);

/// Parses a training mode name (case-insensitive: "sgd", "Adam", "rmsprop", ...).
/// @throws InvalidArgument naming the value and the accepted names.
TrainingMode training_mode_from_string(const std::string& name);

/// Size in bytes of one stored element of `type`. @throws InvalidArgument for unknown codes.
std::size_t size_of(DataType type);

}  // namespace dsstne
