// SPDX-License-Identifier: Apache-2.0
// CUDA-vs-CPU parity of the pooling kernels (cuda/src/pooling.cu against cpp/src/cpu/
// pooling.cpp) on random data, with maxout's ties and NaNs, accumulation and a skipped source.
//
// Bitwise everywhere: maxout compares and copies; the dot products and norms are double sums in
// the lane order both backends share (cpu/pooling_terms.hpp), every other step one explicitly
// rounded double operation, each result rounded to float once. A mismatch means the two orders
// or roundings have drifted apart, not numerical noise.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "cuda_parity.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne {
namespace {

struct Shape {
  int64_t rows, cols;
};
// One unit; widths below, at and above one lane sweep (256); more rows than one grid's extent
// (65535); a row many lane sweeps wide.
constexpr Shape kShapes[] = {{1, 1}, {3, 7}, {5, 256}, {37, 1001}, {70000, 3}, {4, 70000}};

enum class Kind { Maxout, Dot, Cosine };

/// Host data and device copies of `count` sources, with ties and NaNs for maxout.
struct Sources {
  Sources(const Context& ctx, int64_t count, Shape s, uint64_t seed) : shape(s) {
    const std::size_t n = std::size_t(s.rows * s.cols);
    for (int64_t k = 0; k < count; ++k) {
      std::vector<float> x = testing::uniform_values(n, seed + uint64_t(k));
      if (k > 0)  // every 5th unit ties with source 0, every 97th is NaN
        for (std::size_t e = 0; e < n; e += 5) x[e] = host_data[0][e];
      if (k == count - 1 && count > 1)
        for (std::size_t e = 3; e < n; e += 97) x[e] = std::numeric_limits<float>::quiet_NaN();
      host_data.push_back(x);
      device_data.push_back(testing::on_device(ctx, x));
    }
  }
  std::vector<const float*> on_host() const {
    std::vector<const float*> p;
    for (const auto& x : host_data) p.push_back(x.data());
    return p;
  }
  std::vector<const float*> on_gpu() const {
    std::vector<const float*> p;
    for (const auto& x : device_data) p.push_back(x.data());
    return p;
  }
  int64_t count() const { return int64_t(host_data.size()); }
  Shape shape;
  std::vector<std::vector<float>> host_data;
  std::vector<DeviceBuffer<float>> device_data;
};

int64_t out_cols(Kind kind, const Sources& s) {
  return kind == Kind::Maxout ? s.shape.cols : s.count() - 1;
}

/// The NaNs are for maxout; the sums would only carry them along.
Sources make_sources(const Context& ctx, Kind kind, int64_t count, Shape s, uint64_t seed) {
  Sources src(ctx, count, s, seed);
  if (kind != Kind::Maxout) {
    for (std::size_t k = 0; k < src.host_data.size(); ++k) {
      src.host_data[k] = testing::uniform_values(src.host_data[k].size(), seed + 1000 + k);
      src.device_data[k].upload(src.host_data[k]);
    }
  }
  return src;
}

/// One backend's pooling kernels, so one helper drives both.
struct Backend {
  decltype(&cpu::maxout_forward) maxout_forward;
  decltype(&cpu::maxout_backward) maxout_backward;
  decltype(&cpu::dot_product_forward) dot_product_forward;
  decltype(&cpu::dot_product_backward) dot_product_backward;
  decltype(&cpu::cosine_forward) cosine_forward;
  decltype(&cpu::cosine_backward) cosine_backward;
};
const Backend kCpu{cpu::maxout_forward,       cpu::maxout_backward, cpu::dot_product_forward,
                   cpu::dot_product_backward, cpu::cosine_forward,  cpu::cosine_backward};
const Backend kGpu{cuda::maxout_forward,       cuda::maxout_backward, cuda::dot_product_forward,
                   cuda::dot_product_backward, cuda::cosine_forward,  cuda::cosine_backward};

void forward(const Backend& run, Kind kind, const Context& c,
             const std::vector<const float*>& list, Shape s, float* y) {
  const int64_t n = int64_t(list.size());
  if (kind == Kind::Maxout) run.maxout_forward(c, list.data(), n, s.rows, s.cols, y);
  if (kind == Kind::Dot) run.dot_product_forward(c, list.data(), n, s.rows, s.cols, y);
  if (kind == Kind::Cosine) run.cosine_forward(c, list.data(), n, s.rows, s.cols, y);
}

void backward(const Backend& run, Kind kind, const Context& c,
              const std::vector<const float*>& list, Shape s, const float* delta,
              bool accumulate, const std::vector<float*>& d) {
  const int64_t n = int64_t(list.size());
  if (kind == Kind::Maxout)
    run.maxout_backward(c, list.data(), n, s.rows, s.cols, delta, accumulate, d.data());
  if (kind == Kind::Dot)
    run.dot_product_backward(c, list.data(), n, s.rows, s.cols, delta, accumulate, d.data());
  if (kind == Kind::Cosine)
    run.cosine_backward(c, list.data(), n, s.rows, s.cols, delta, accumulate, d.data());
}

void expect_parity(const Context& ctx, Kind kind, int64_t count, Shape s, uint64_t seed) {
  const std::string what = "kind " + std::to_string(int(kind)) + " sources " +
                           std::to_string(count) + " " + std::to_string(s.rows) + "x" +
                           std::to_string(s.cols);
  SCOPED_TRACE(what);
  const Sources src = make_sources(ctx, kind, count, s, seed);
  const std::size_t out_n = std::size_t(s.rows * out_cols(kind, src));
  std::vector<float> ref(out_n);
  forward(kCpu, kind, testing::host, src.on_host(), s, ref.data());
  DeviceBuffer<float> y(ctx, out_n, "y");
  forward(kGpu, kind, ctx, src.on_gpu(), s, y.data());
  testing::expect_bitwise(ref, y.download(), what + " forward");

  const std::vector<float> delta = testing::uniform_values(out_n, seed + 500);
  const auto d_delta = testing::on_device(ctx, delta);
  const std::size_t n = std::size_t(s.rows * s.cols);
  for (bool accumulate : {false, true}) {
    std::vector<std::vector<float>> ref_d;
    std::vector<DeviceBuffer<float>> gpu_d;
    std::vector<float*> ref_p, gpu_p;
    for (int64_t k = 0; k < count; ++k) {
      ref_d.push_back(testing::uniform_values(n, seed + 600 + uint64_t(k)));
      gpu_d.push_back(testing::on_device(ctx, ref_d.back()));
    }
    for (int64_t k = 0; k < count; ++k) {
      const bool skipped = count > 2 && k == 1;  // a source that takes no delta
      ref_p.push_back(skipped ? nullptr : ref_d[k].data());
      gpu_p.push_back(skipped ? nullptr : gpu_d[k].data());
    }
    backward(kCpu, kind, testing::host, src.on_host(), s, delta.data(), accumulate, ref_p);
    backward(kGpu, kind, ctx, src.on_gpu(), s, d_delta.data(), accumulate, gpu_p);
    for (int64_t k = 0; k < count; ++k)
      testing::expect_bitwise(ref_d[k], gpu_d[k].download(),
                     what + (accumulate ? " accumulated" : " written") + " delta " +
                         std::to_string(k));
  }
}

TEST(CudaParityPooling, RandomSources) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  uint64_t seed = 10;
  for (Kind kind : {Kind::Maxout, Kind::Dot, Kind::Cosine}) {
    // Maxout down to one source (a copy); the pair functions from one pair.
    const int64_t fewest = kind == Kind::Maxout ? 1 : 2;
    for (const Shape& s : kShapes)
      for (int64_t count : {fewest, fewest + 1, int64_t(6)})
        expect_parity(ctx, kind, count, s, seed += 50);
  }
}

TEST(CudaParityPooling, EverySourceTheListHolds) {
  DSSTNE_CUDA_CONTEXT_OR_SKIP(ctx);
  for (Kind kind : {Kind::Maxout, Kind::Dot, Kind::Cosine})
    expect_parity(ctx, kind, kMaxPoolingSources, Shape{9, 300}, 40);
}

}  // namespace
}  // namespace dsstne
