# SPDX-License-Identifier: Apache-2.0
# C++ declarations of libdsstne used by the Cython classes (tier 1: externs only).
from libc.stdint cimport int64_t, uint32_t, uint64_t, uint8_t, uintptr_t
from libcpp cimport bool
from cpython.ref cimport PyObject
from libcpp.memory cimport shared_ptr, unique_ptr
from libcpp.pair cimport pair
from libcpp.string cimport string
from libcpp.vector cimport vector


cdef extern from "exception_handler.hpp" namespace "dsstne::python":
    cdef void translate_exception()
    cdef void register_errors(object base, object cuda, object numerical, object communication)


cdef extern from "dsstne/enums.hpp" namespace "dsstne" nogil:
    cdef enum class DataType(uint32_t):
        UInt, Int, LLInt, ULLInt, Float, Double, RGB8, RGB16, UChar, Char
    cdef enum class LayerKind(uint32_t):
        Input, Hidden, Output, Target
    cdef enum class LayerType(uint32_t):
        FullyConnected, Convolutional, Pooling
    cdef enum class Activation(uint32_t):
        pass
    cdef enum class ErrorFunction(uint32_t):
        pass
    cdef enum class TrainingMode(uint32_t):
        pass
    string to_string(LayerKind) except +translate_exception
    string to_string(LayerType) except +translate_exception
    string to_string(Activation) except +translate_exception
    string to_string(ErrorFunction) except +translate_exception
    string to_string(DataType) except +translate_exception
    string to_string(TrainingMode) except +translate_exception
    TrainingMode training_mode_from_string(const string&) except +translate_exception


cdef extern from "dsstne/comm.hpp" namespace "dsstne" nogil:
    cdef cppclass Communicator:
        int rank()
        int size()
        string name()
        vector[vector[unsigned char]] allgather_bytes(const void*, int64_t) \
            except +translate_exception
    bool mpi_built()
    shared_ptr[Communicator] mpi_communicator(uintptr_t, double) except +translate_exception
    bool nccl_built()
    shared_ptr[Communicator] nccl_communicator(shared_ptr[Communicator], int, double) \
        except +translate_exception


cdef extern from "dsstne/context.hpp" namespace "dsstne" nogil:
    cdef enum class Device(int):
        CPU, CUDA
    cdef enum class GemmMath(int):
        Float32, TF32, BFloat16
    cdef enum class ConvAlgorithms(int):
        Deterministic, GemmOrder
    cdef cppclass Context:
        Context()
        @staticmethod
        Context from_string(const string&, uint64_t) except +translate_exception
        bool is_cuda()
        Device device()
        int device_ordinal()
        uint64_t seed()
        void set_tf32(bool) except +translate_exception
        bool tf32()
        void set_gemm_math(GemmMath)
        GemmMath gemm_math()
        void set_conv_algorithms(ConvAlgorithms)
        ConvAlgorithms conv_algorithms()
        Communicator& comm()
        Context with_communicator(shared_ptr[Communicator]) except +translate_exception
        string describe()
        @staticmethod
        bool cuda_built()


cdef extern from "dsstne/cuda_runtime.hpp" namespace "dsstne::cuda" nogil:
    int device_count()


cdef extern from "dsstne/device_buffer.hpp" namespace "dsstne" nogil:
    cdef cppclass MemoryUsage:
        int64_t cpu_bytes, cuda_bytes, cpu_peak, cuda_peak
    MemoryUsage memory_usage()
    cdef cppclass DeviceBuffer[T]:
        size_t size()
        const T* data()
        Device device()
        vector[T] download() except +translate_exception
        void download_to(T*, size_t) except +translate_exception


cdef extern from "dsstne/device_buffer.hpp" namespace "dsstne::detail" nogil:
    void copy_to_host(const Context&, void*, const void*, size_t) except +translate_exception


cdef extern from "dsstne/memory_budget.hpp" namespace "dsstne" nogil:
    cdef cppclass MemoryItem:
        string what
        double bytes
    void check_fits(Device, const vector[MemoryItem]&, const string&) \
        except +translate_exception


cdef extern from "dsstne/descriptor.hpp" namespace "dsstne" nogil:
    cdef cppclass LayerDescriptor:
        string name
        string data_set
        uint32_t dimensions
        float p_dropout
        bool sparse
        Activation activation
        uint32_t n[4]
        uint32_t kernel[3]
        uint32_t kernel_stride[3]
        uint32_t kernel_padding[3]
        uint32_t kernel_dimensions
        bool batch_normalization
        vector[string] sources
        vector[string] skips
    cdef cppclass NetworkDescriptor:
        string name
        ErrorFunction error_function
        bool shuffle_indices
        vector[LayerDescriptor] layers


cdef extern from "dsstne/config.hpp" namespace "dsstne" nogil:
    NetworkDescriptor parse_network_json(const string&) except +translate_exception
    NetworkDescriptor load_network_json(const string&) except +translate_exception
    string to_json(const NetworkDescriptor&) except +translate_exception


cdef extern from "dsstne/dataset.hpp" namespace "dsstne" nogil:
    cdef cppclass Dims:
        uint32_t width, height, length, dimensions
    cdef cppclass DataSetArrays:
        string name
        uint32_t attributes
        DataType type
        Dims dims
        int64_t records
        const uint64_t* sparse_start
        const uint64_t* sparse_end
        int64_t nnz
        const uint32_t* sparse_indices
        const void* sparse_values
        const void* dense_data
        int64_t dense_count
        const float* weights
        int64_t weight_count
        const uint32_t* index
        int64_t index_count
        bool borrow
    cdef cppclass DataSet:
        DataSet(const Context&, const DataSetArrays&) except +translate_exception
        shared_ptr[DataSet] to(const Context&) except +translate_exception
        const string& name()
        void set_name(string)
        uint32_t attributes()
        DataType type()
        const Dims& dims()
        uint64_t stride()
        bool sparse()
        bool boolean()
        bool weighted()
        bool indexed()
        bool ignore_zero()
        int64_t examples()
        int64_t records()
        int64_t nnz()
        double density()
        void set_sparse_ignore_zero(bool) except +translate_exception
        bool borrowed()
        int64_t duplicates()
        float value_min()
        float value_max()
        const DeviceBuffer[uint64_t]& sparse_start_buffer()
        const DeviceBuffer[uint64_t]& sparse_end_buffer()
        const DeviceBuffer[uint32_t]& sparse_indices_buffer()
        const DeviceBuffer[unsigned char]& values_buffer()
        const DeviceBuffer[float]& weights_buffer()
        const DeviceBuffer[uint32_t]& index_buffer()
    ctypedef shared_ptr[DataSet] DataSetPtr


cdef extern from "dsstne/comm.hpp" namespace "dsstne" nogil:
    cdef cppclass Slice:
        int64_t begin
        int64_t end


cdef extern from "dsstne/layer.hpp" namespace "dsstne" nogil:
    cdef cppclass Layer:
        const string& name()
        LayerKind kind()
        LayerType type()
        const LayerDescriptor& descriptor()
        int64_t stride()
        Slice slice()
        int64_t local_units()
        const DataSetPtr& data_set()
        int64_t batch_rows()
        void download_units(float*) except +translate_exception
        void download_deltas(float*) except +translate_exception
        bool is_sparse_input()
        bool batch_normalized()
        int64_t bn_features()
        vector[float] bn_buffer(int) except +translate_exception
        void set_bn_buffer(int, const float*, size_t) except +translate_exception


cdef extern from "dsstne/kernel_types.hpp" namespace "dsstne" nogil:
    cdef cppclass MatrixBlock:
        int64_t row_begin, rows, col_begin, cols
    cdef cppclass ConvGeometry:
        int64_t in_channels, out_channels
        int64_t kernel[3]


cdef extern from "dsstne/weight.hpp" namespace "dsstne" nogil:
    cdef enum class WeightSplit(int):
        Columns, Rows
    cdef cppclass Weight:
        Layer& input()
        Layer& output()
        int64_t n_in()
        int64_t n_out()
        bool shared()
        bool transposed()
        int sharing_count()
        bool locked()
        void set_locked(bool)
        float norm()
        void set_norm(float)
        int64_t matrix_rows()
        int64_t matrix_cols()
        bool convolutional()
        const ConvGeometry& conv_geometry()
        WeightSplit split()
        MatrixBlock block()
        DeviceBuffer[float]& matrix()
        DeviceBuffer[float]& bias()
        const DeviceBuffer[float]& gradient()
        const DeviceBuffer[float]& state_buffer(int) except +translate_exception
        void set_state(int, const float*, size_t) except +translate_exception
        void set_matrix(const float*, size_t) except +translate_exception
        void set_bias(const float*, size_t) except +translate_exception


cdef extern from "dsstne/network.hpp" namespace "dsstne" nogil:
    cdef enum class Mode(int):
        Prediction, Training, Validation
    cdef cppclass TrainParams:
        TrainingMode mode
        float alpha, lambda_ "lambda", lambda1, mu, mu1
        int alpha_interval
        float alpha_multiplier
    cdef cppclass EpochStats:
        int epoch
        double error, regularization, validation_error, seconds
        float alpha
    ctypedef vector[pair[string, DataSetPtr]] Bindings
    cdef cppclass Network:
        Network(NetworkDescriptor, const vector[DataSetPtr]&, int64_t, const Context&) \
            except +translate_exception
        const NetworkDescriptor& descriptor()
        const vector[unique_ptr[Layer]]& layers()
        const vector[unique_ptr[Weight]]& weights()
        Layer& layer(const string&) except +translate_exception
        Weight& weight(const string&, const string&) except +translate_exception
        int64_t batch()
        void set_batch(int64_t) except +translate_exception
        int64_t examples()
        void attach(const vector[DataSetPtr]&) except +translate_exception
        void bind(const Bindings&, bool) except +translate_exception
        Bindings bindings()
        int epochs_trained()
        int64_t steps()
        void reset_optimizer()
        TrainingMode training_mode()
        void set_progress(int, int64_t, TrainingMode) except +translate_exception
        void forward_batch(int64_t, Mode) except +translate_exception
        double batch_error() except +translate_exception
        void backward_batch() except +translate_exception
        double error() except +translate_exception
        void predict(const string&, float*, int64_t) except +translate_exception
        int64_t parameter_size(const Weight&, int) except +translate_exception
        void gather_parameter(const Weight&, int, float*) except +translate_exception
        void set_parameter(Weight&, int, const float*, int64_t) except +translate_exception
        void gather_layer(const Layer&, bool, float*) except +translate_exception
        void predict_topk(const string&, int64_t, const DataSet*, float*, uint32_t*,
                          int64_t) except +translate_exception


cdef extern from "dsstne/network.hpp" nogil:
    # Network::parameter_size and friends: which buffer (optimizer state 0-3, or these)
    const int kMatrix "dsstne::Network::kMatrix"
    const int kBias "dsstne::Network::kBias"
    const int kGradient "dsstne::Network::kGradient"


cdef extern from "callbacks.hpp" namespace "dsstne::python" nogil:
    vector[EpochStats] train_with_python(Network&, int, const TrainParams&, const Bindings&,
                                         PyObject* on_epoch, PyObject* errors,
                                         PyObject* interrupted) \
        except +translate_exception


cdef extern from "log_sink.hpp" namespace "dsstne::python":
    void set_python_log_sink(PyObject* fn)
