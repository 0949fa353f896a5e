// SPDX-License-Identifier: Apache-2.0
#include "layer_geometry.hpp"

#include "dsstne/error.hpp"

namespace dsstne {
namespace {

constexpr const char* kAxes[3] = {"x", "y", "z"};

/// DSSTNE's padding rule (spec formats §1.9), from the source extent of an axis.
int64_t padding(int64_t in, int64_t k, int64_t s) {
  if (in < k) return (k - in + 1) / 2;
  return s == 1 ? k / 2 : 0;
}

/// The kernel axes of `layer` over `source`: extents, kernel, stride, padding; every output
/// window must start inside the padded input.
template <typename Geometry>
void fill_axes(const LayerDescriptor& layer, const LayerDescriptor& source, const MapShape& in,
               const MapShape& out, Geometry& g) {
  for (int a = 0; a < 3; ++a) {
    const bool kernel_axis = uint32_t(a) < layer.kernel_dimensions;
    g.in[a] = in.extent[a];
    g.out[a] = out.extent[a];
    g.kernel[a] = kernel_axis ? layer.kernel[std::size_t(a)] : 1;
    g.stride[a] = kernel_axis ? layer.kernel_stride[std::size_t(a)] : 1;
    g.pad[a] = kernel_axis ? padding(g.in[a], g.kernel[a], g.stride[a]) : 0;
    DSSTNE_EXPECTS(g.kernel[a] >= 1 && g.stride[a] >= 1, "layer '", layer.name, "': Kernel and ",
                   "KernelStride must be at least 1 on axis ", kAxes[a]);
    DSSTNE_EXPECTS(g.pad[a] < g.kernel[a] && g.in[a] + 2 * g.pad[a] >= g.kernel[a], "layer '",
                   layer.name, "': kernel ", g.kernel[a], " on axis ", kAxes[a],
                   " does not fit source '", source.name, "' of extent ", g.in[a]);
    const int64_t most = (g.in[a] + 2 * g.pad[a] - g.kernel[a]) / g.stride[a] + 1;
    DSSTNE_EXPECTS(g.out[a] >= 1 && g.out[a] <= most, "layer '", layer.name, "': ", g.out[a],
                   " outputs on axis ", kAxes[a], " but kernel ", g.kernel[a], ", stride ",
                   g.stride[a], " and padding ", g.pad[a], " over source '", source.name,
                   "' of extent ", g.in[a], " give at most ", most);
  }
}

}  // namespace

MapShape map_shape(const LayerDescriptor& l, uint32_t kernel_dims) {
  MapShape m;
  for (uint32_t a = 0; a < 3; ++a) m.extent[a] = a < kernel_dims ? int64_t(l.n[a]) : 1;
  m.channels = int64_t(l.stride()) / m.spatial();
  return m;
}

ConvGeometry conv_geometry(const LayerDescriptor& layer, const LayerDescriptor& source) {
  const MapShape in = map_shape(source, layer.kernel_dimensions);
  const MapShape out = map_shape(layer, layer.kernel_dimensions);
  ConvGeometry g;
  g.in_channels = in.channels;
  g.out_channels = out.channels;
  fill_axes(layer, source, in, out, g);
  return g;
}

PoolGeometry pool_geometry(const LayerDescriptor& layer, const LayerDescriptor& source) {
  const MapShape in = map_shape(source, layer.kernel_dimensions);
  const MapShape out = map_shape(layer, layer.kernel_dimensions);
  DSSTNE_EXPECTS(in.channels == out.channels, "layer '", layer.name, "': pooling keeps the ",
                 in.channels, " maps of source '", source.name, "' but its N gives ",
                 out.channels);
  PoolGeometry g;
  g.channels = in.channels;
  fill_axes(layer, source, in, out, g);
  return g;
}

MapShape lrn_shape(const LayerDescriptor& layer) {
  const uint32_t dims = layer.dimensions < 1 ? 1 : layer.dimensions > 4 ? 4 : layer.dimensions;
  MapShape m;
  m.channels = layer.n[dims - 1];
  m.extent[0] = int64_t(layer.stride()) / m.channels;
  return m;
}

}  // namespace dsstne
