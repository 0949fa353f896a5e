// SPDX-License-Identifier: Apache-2.0
#pragma once
/// @file layer_geometry.hpp
/// @brief How the units of convolutional and pooling layers form maps: the kernel geometry of a
/// connection, from the layer descriptors (docs/design.md "Convolution and pooling").
#include <cstdint>

#include "dsstne/descriptor.hpp"
#include "dsstne/kernel_types.hpp"

namespace dsstne {

/// A layer's units seen as `channels` maps of extent[2] × extent[1] × extent[0] values: the
/// first `kernel_dims` axes are spatial, the axes after them (the feature maps) are channels.
struct MapShape {
  int64_t channels = 1;
  int64_t extent[3] = {1, 1, 1};
  int64_t spatial() const { return extent[0] * extent[1] * extent[2]; }
};

MapShape map_shape(const LayerDescriptor& l, uint32_t kernel_dims);

/// The convolution from `source` into the Convolutional layer `layer`, with the layer's Kernel,
/// KernelStride and DSSTNE's padding for the source's extents.
/// @throws InvalidArgument naming the layers when the shapes do not fit the kernel.
ConvGeometry conv_geometry(const LayerDescriptor& layer, const LayerDescriptor& source);

/// Max or Average pooling from `source` into `layer`.
/// @throws InvalidArgument naming the layers when the shapes do not fit the kernel.
PoolGeometry pool_geometry(const LayerDescriptor& layer, const LayerDescriptor& source);

/// LRN runs across the channels of the last axis of the layer's dimensions.
MapShape lrn_shape(const LayerDescriptor& layer);

/// The kernel volume of a convolution (positions per filter and input channel).
inline int64_t kernel_volume(const ConvGeometry& g) {
  return g.kernel[0] * g.kernel[1] * g.kernel[2];
}
inline int64_t out_spatial(const ConvGeometry& g) { return g.out[0] * g.out[1] * g.out[2]; }

}  // namespace dsstne
