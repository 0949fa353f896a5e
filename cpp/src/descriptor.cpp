// SPDX-License-Identifier: Apache-2.0
/// @file descriptor.cpp
/// @brief Lookups on the plain network description.

#include "dsstne/descriptor.hpp"

#include "dsstne/error.hpp"

namespace dsstne {

const LayerDescriptor& NetworkDescriptor::layer(const std::string& name) const {
  for (const LayerDescriptor& l : layers)
    if (l.name == name) return l;
  DSSTNE_FAIL(InvalidArgument, "network '", this->name, "' has no layer named '", name, "'");
}

}  // namespace dsstne
