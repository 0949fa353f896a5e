// SPDX-License-Identifier: Apache-2.0
// libdsstne built without nvcc: every dsstne::cuda entry point raises a clear error (the CUDA
// backend in cuda/ replaces this file whenever nvcc is found at build time).
#include "dsstne/cuda_runtime.hpp"
#include "dsstne/error.hpp"
#include "dsstne/kernels.hpp"

namespace dsstne::cuda {
namespace {
[[noreturn]] void unavailable(const char* what) {
  DSSTNE_FAIL(NotSupported, "this libdsstne was built without CUDA (no nvcc at build time): '",
              what, "' is unavailable");
}
}  // namespace

int device_count() noexcept { return 0; }
void set_device(int) { unavailable("set_device"); }
const char* device_name(int) { unavailable("device_name"); }
void* allocate(std::size_t) { unavailable("allocate"); }
void release(void*) noexcept {}
void copy_to_device(void*, const void*, std::size_t) { unavailable("copy_to_device"); }
void copy_to_host(void*, const void*, std::size_t) { unavailable("copy_to_host"); }
void copy_on_device(void*, const void*, std::size_t) { unavailable("copy_on_device"); }
void zero(void*, std::size_t) { unavailable("zero"); }
void synchronize() {}
void memory_info(std::size_t*, std::size_t*) { unavailable("memory_info"); }
void set_tf32(bool) { unavailable("set_tf32"); }

void activation_forward(const ActivationParams&, float*, int64_t, int64_t) {
  unavailable("activation_forward");
}
void activation_backward(const ActivationParams&, const float*, float*, int64_t, int64_t) {
  unavailable("activation_backward");
}
double output_error(const LossParams&, const float*, int64_t, int64_t, int64_t,
                    const TargetView&) {
  unavailable("output_error");
}
void output_delta(const LossParams&, const float*, int64_t, int64_t, int64_t, const TargetView&,
                  float*) {
  unavailable("output_delta");
}
void gemm(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
          int64_t, float, float*, int64_t) {
  unavailable("gemm");
}
void broadcast_rows(const float*, int64_t, int64_t, bool, float*) { unavailable("broadcast_rows"); }
void add(const float*, int64_t, float*) { unavailable("add"); }
void column_mean(const float*, int64_t, int64_t, float*) { unavailable("column_mean"); }
void fill(float*, int64_t, float) { unavailable("fill"); }
void clip_row_norms(float*, int64_t, int64_t, float) { unavailable("clip_row_norms"); }
void clip_column_norms(float*, int64_t, int64_t, float) { unavailable("clip_column_norms"); }
void sparse_product(const CsrView&, const float*, int64_t, float*) {
  unavailable("sparse_product");
}
void sparse_transposed_product(const CsrView&, const float*, int64_t, int64_t, float, float,
                               float*) {
  unavailable("sparse_transposed_product");
}
void csr_to_dense(const CsrView&, int64_t, int64_t, float*) { unavailable("csr_to_dense"); }
void sparse_row_counts(const SparseStorageView&, const uint32_t*, int64_t, int64_t*) {
  unavailable("sparse_row_counts");
}
void sparse_batch_fill(const SparseStorageView&, const uint32_t*, int64_t, const int64_t*, bool,
                       const DenoiseParams&, uint32_t*, float*) {
  unavailable("sparse_batch_fill");
}
void dense_batch_fill(const DenseStorageView&, const uint32_t*, int64_t, int64_t, int64_t, bool,
                      float*) {
  unavailable("dense_batch_fill");
}
void gather_weights(const float*, const uint32_t*, int64_t, float*) {
  unavailable("gather_weights");
}
void init_weights(WeightInit, float, const RandomStream&, int64_t, int64_t, const MatrixBlock&,
                  float*) {
  unavailable("init_weights");
}
void shuffle_permutation(const RandomStream&, int64_t, uint32_t*) {
  unavailable("shuffle_permutation");
}
void dropout_forward(const ActivationParams&, float, const RandomStream&, int64_t, int64_t,
                     int64_t, int64_t, float*, float*, uint8_t*) {
  unavailable("dropout_forward");
}
void dropout_backward(const ActivationParams&, float, const uint8_t*, int64_t, int64_t, float*) {
  unavailable("dropout_backward");
}
void sparseness_penalty(const float*, int64_t, int64_t, float, float, float*) {
  unavailable("sparseness_penalty");
}
double regularization_error(const float*, int64_t, float, float) {
  unavailable("regularization_error");
}
void update_weights(const UpdateParams&, const float*, int64_t, float*, float*, float*) {
  unavailable("update_weights");
}
void update_biases(const UpdateParams&, const float*, int64_t, float*, float*, float*) {
  unavailable("update_biases");
}
void topk(const float*, int64_t, int64_t, int64_t, int64_t, const CsrView*, float*, uint32_t*) {
  unavailable("topk");
}

}  // namespace dsstne::cuda
