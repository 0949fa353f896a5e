// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file config.hpp
/// @brief The JSON network language of DSSTNE: text in, NetworkDescriptor out.

#include <cstddef>
#include <string>

#include "dsstne/descriptor.hpp"

namespace dsstne {

/// Deepest nesting of arrays and objects a JSON network description may have.
constexpr int kMaxJsonDepth = 32;
/// Largest network description file load_network_json reads.
constexpr std::size_t kMaxConfigBytes = std::size_t(16) << 20;

/// Parses a JSON network description. Keys and enumerated values are case-insensitive;
/// defaults, aliases and derived flags are DSSTNE's (docs/compatibility.md lists where we
/// differ). `"N": "auto"` is kept as `n_auto` and resolved against data sets when a Network is
/// built.
/// Convolutional and Pooling layers parse (their geometry is derived); building a Network from
/// them raises NotSupported until they are implemented.
/// @throws InvalidArgument for malformed JSON, unknown keys or values (naming the key and the
///         layer), a Source/Skip/SharedWeights name that does not exist, or a cycle.
NetworkDescriptor parse_network_json(const std::string& text);

/// The descriptor in DSSTNE's JSON language; parse_network_json of the text gives back an equal
/// descriptor (with "auto" sizes already resolved) for fully connected networks (convolution's
/// derived sizes are not yet written back in its JSON form).
std::string to_json(const NetworkDescriptor& desc);

/// Reads a file (at most kMaxConfigBytes) and parses it with parse_network_json; errors name
/// the file.
NetworkDescriptor load_network_json(const std::string& path);

/// Checks a descriptor built by hand or read from a model file: names unique, sources and skips
/// exist, no cycle, kinds consistent. @throws InvalidArgument naming the culprit;
/// @throws NotSupported ("not supported yet: layer X is Convolutional") for conv/pooling layers.
void validate(const NetworkDescriptor& desc);

}  // namespace dsstne
