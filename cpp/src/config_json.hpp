// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file config_json.hpp
/// @brief Private helpers of the JSON network parser (config*.cpp): typed reads of JSON values
/// with messages that name the key and the layer, and the parser's internal stages.

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsstne/descriptor.hpp"
#include "dsstne/error.hpp"

namespace dsstne::config_detail {

using Json = nlohmann::json;

/// ASCII lower-case copy (keys and enumerated values are matched on this).
std::string lower(std::string s);

/// "key 'pDropout' in layer 'Hidden1'" — the subject of messages about a layer key.
std::string layer_key(const std::string& key, const std::string& layer);

/// Reads of one JSON value; `what` names it ("top-level key 'Version'", layer_key(...)).
/// A value of the wrong JSON type is an InvalidArgument naming `what`, never a nlohmann error.
/// A number beyond the float32 range is refused (it could not be saved).
float get_float(const Json& v, const std::string& what);
/// A whole number in [0, max] (DSSTNE's asInt truncated fractions; we refuse them).
uint32_t get_uint(const Json& v, const std::string& what,
                  uint32_t max = std::numeric_limits<uint32_t>::max());
/// true/false, or a number (non-zero is true) as DSSTNE's asBool accepted.
bool get_bool(const Json& v, const std::string& what);
std::string get_string(const Json& v, const std::string& what);
/// A string or an array of strings (Source, Skip).
std::vector<std::string> get_string_list(const Json& v, const std::string& what);
void expect_object(const Json& v, const std::string& what);

/// One accepted (lower-case) spelling of an enumerated value.
template <typename E>
struct Spelling {
  const char* text;
  E value;
};

/// Matches a string value case-insensitively against `table`.
/// @throws InvalidArgument naming the value, `what` and every accepted spelling.
template <typename E, std::size_t N>
E get_enum(const Json& v, const std::string& what, const Spelling<E> (&table)[N]) {
  const std::string text = get_string(v, what);
  const std::string key = lower(text);
  for (const auto& s : table)
    if (key == s.text) return s.value;
  std::string accepted;
  for (const auto& s : table) accepted += (accepted.empty() ? "" : ", ") + std::string(s.text);
  DSSTNE_FAIL(InvalidArgument, "unknown value '", text, "' for ", what, " (accepted, any case: ",
              accepted, ")");
}

/// Parses element `list_pos` of a `Layers` list of `list_size` elements; `earlier` holds the
/// layers already parsed (for the default name's position and the default source).
LayerDescriptor parse_layer(const Json& obj, std::size_t list_pos, std::size_t list_size,
                            const std::vector<LayerDescriptor>& earlier);

/// Derives the sizes of Hidden Convolutional/Pooling layers from their sources (spec §1.9).
/// Layers whose sources are missing, on a cycle, or (transitively) sized by `"N": "auto"` are
/// left as written and returned by name; with `strict` such a leftover is an InvalidArgument
/// instead (use after "auto" sizes are resolved). Never loops forever.
std::vector<std::string> derive_geometry(NetworkDescriptor& desc, bool strict);

/// Every check of validate() except the final rejection of what is not supported yet.
void validate_structure(const NetworkDescriptor& desc);

/// Range checks of every numeric parameter (dropout and denoising in [0, 1), norms >= 0, floats
/// finite, counts that model files store as int32 within it, layers below 2^31 units).
void validate_parameters(const NetworkDescriptor& desc);

}  // namespace dsstne::config_detail
