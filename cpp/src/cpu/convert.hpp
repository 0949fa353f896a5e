// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file convert.hpp
/// @brief The one element-to-float rule of the engine (spec/math.md §1.2, port recommendation)
/// and a dispatcher that turns a runtime DataType into a compile-time element type, so loops
/// over stored values are instantiated per type instead of switching per element.

#include <cstdint>
#include <type_traits>
#include <utility>

#include "dsstne/enums.hpp"
#include "dsstne/error.hpp"

namespace dsstne::cpu {

/// Stored element → float. Byte types are normalised (uint8 → v/256, int8 → v/128) so that
/// image-like data lands in [0, 1) or [−1, 1); every other type is a plain conversion.
template <typename T>
inline float to_float(T v) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return static_cast<float>(v) * (1.0f / 256.0f);  // power of two: same as v / 256
  } else if constexpr (std::is_same_v<T, int8_t>) {
    return static_cast<float>(v) * (1.0f / 128.0f);
  } else {
    return static_cast<float>(v);
  }
}

/// Names a type without constructing a value of it.
template <typename T>
struct TypeTag {
  using type = T;
};

/// Calls `f(TypeTag<T>{})` with T the C++ element type stored for `type`, and returns its result.
/// @throws InvalidArgument for a code outside the DataType enumeration.
template <typename F>
decltype(auto) visit_data_type(DataType type, F&& f) {
  switch (type) {
    case DataType::UInt: return std::forward<F>(f)(TypeTag<uint32_t>{});
    case DataType::Int: return std::forward<F>(f)(TypeTag<int32_t>{});
    case DataType::LLInt: return std::forward<F>(f)(TypeTag<int64_t>{});
    case DataType::ULLInt: return std::forward<F>(f)(TypeTag<uint64_t>{});
    case DataType::Float: return std::forward<F>(f)(TypeTag<float>{});
    case DataType::Double: return std::forward<F>(f)(TypeTag<double>{});
    case DataType::RGB8: return std::forward<F>(f)(TypeTag<uint8_t>{});
    case DataType::RGB16: return std::forward<F>(f)(TypeTag<uint16_t>{});
    case DataType::UChar: return std::forward<F>(f)(TypeTag<uint8_t>{});
    case DataType::Char: return std::forward<F>(f)(TypeTag<int8_t>{});
  }
  DSSTNE_FAIL(InvalidArgument, "unknown data type code ", static_cast<uint32_t>(type));
}

}  // namespace dsstne::cpu
