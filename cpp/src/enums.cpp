// SPDX-License-Identifier: Apache-2.0
/// @file enums.cpp
/// @brief Printed names of DSSTNE's enumerations (spec/formats.md §0.2) and small lookups.

#include "dsstne/enums.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>

#include "dsstne/error.hpp"

namespace dsstne {
namespace {

/// Name at `code` in `names`, or "<Enum>(<code>)" for a code outside the table, so that printing
/// a corrupt value (e.g. read from a damaged model file) never throws inside an error message.
template <std::size_t N>
std::string name_of(const char* const (&names)[N], uint32_t code, const char* enum_name) {
  if (code < N) return names[code];
  return detail::concat(enum_name, "(", code, ")");
}

}  // namespace

std::string to_string(DataType v) {
  static const char* const kNames[] = {"UInt",   "Int",  "LLInt", "ULLInt", "Float",
                                       "Double", "RGB8", "RGB16", "UChar",  "Char"};
  return name_of(kNames, uint32_t(v), "DataType");
}

std::string to_string(LayerKind v) {
  static const char* const kNames[] = {"Input", "Hidden", "Output", "Target"};
  return name_of(kNames, uint32_t(v), "LayerKind");
}

std::string to_string(LayerType v) {
  static const char* const kNames[] = {"FullyConnected", "Convolutional", "Pooling"};
  return name_of(kNames, uint32_t(v), "LayerType");
}

std::string to_string(Activation v) {
  static const char* const kNames[] = {
      "Sigmoid",  "Tanh",      "RectifiedLinear",   "Linear",
      "ParametricRectifiedLinear", "SoftPlus", "SoftSign", "SoftMax",
      "RELUMax",  "LinearMax", "ExponentialLinear", "LeakyRectifiedLinear",
      "ScaledExponentialLinear"};
  return name_of(kNames, uint32_t(v), "Activation");
}

std::string to_string(WeightInit v) {
  static const char* const kNames[] = {"Xavier",   "CaffeXavier", "Gaussian", "Uniform",
                                       "UnitBall", "Constant",    "SELU"};
  return name_of(kNames, uint32_t(v), "WeightInit");
}

std::string to_string(PoolingFunction v) {
  // LRN and LCN print their long names, as DSSTNE does.
  static const char* const kNames[] = {"None",
                                       "Max",
                                       "Average",
                                       "LocalResponseNormalization",
                                       "Maxout",
                                       "DotProduct",
                                       "Cosine",
                                       "Stochastic",
                                       "LocalContrastNormalization",
                                       "GlobalTemporal"};
  return name_of(kNames, uint32_t(v), "PoolingFunction");
}

std::string to_string(ErrorFunction v) {
  // DSSTNE printed nothing for DataScaledMarginalCrossEntropy; we print its name.
  static const char* const kNames[] = {"L1",
                                       "L2",
                                       "CrossEntropy",
                                       "ScaledMarginalCrossEntropy",
                                       "DataScaledMarginalCrossEntropy",
                                       "Hinge",
                                       "L2Hinge"};
  return name_of(kNames, uint32_t(v), "ErrorFunction");
}

std::string to_string(TrainingMode v) {
  static const char* const kNames[] = {"SGD",     "Momentum", "AdaGrad", "Nesterov",
                                       "RMSProp", "AdaDelta", "Adam"};
  return name_of(kNames, uint32_t(v), "TrainingMode");
}

TrainingMode training_mode_from_string(const std::string& name) {
  static const struct {
    const char* spelling;
    TrainingMode mode;
  } kModes[] = {{"sgd", TrainingMode::SGD},         {"momentum", TrainingMode::Momentum},
                {"adagrad", TrainingMode::AdaGrad}, {"nesterov", TrainingMode::Nesterov},
                {"rmsprop", TrainingMode::RMSProp}, {"adadelta", TrainingMode::AdaDelta},
                {"adam", TrainingMode::Adam}};
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  for (const auto& m : kModes)
    if (lower == m.spelling) return m.mode;
  DSSTNE_FAIL(InvalidArgument, "unknown training mode '", name,
              "' (accepted, any case: sgd, momentum, adagrad, nesterov, rmsprop, adadelta, adam)");
}

std::size_t size_of(DataType type) {
  switch (type) {
    case DataType::UInt: return 4;
    case DataType::Int: return 4;
    case DataType::LLInt: return 8;
    case DataType::ULLInt: return 8;
    case DataType::Float: return 4;
    case DataType::Double: return 8;
    case DataType::RGB8: return 1;
    case DataType::RGB16: return 2;
    case DataType::UChar: return 1;
    case DataType::Char: return 1;
  }
  DSSTNE_FAIL(InvalidArgument, "unknown data type code ", uint32_t(type),
              " (valid codes are 0 to 9)");
}

}  // namespace dsstne
