# SPDX-License-Identifier: Apache-2.0
# Included by _core.pyx.

_KINDS = {0: "Input", 1: "Hidden", 2: "Output", 3: "Target"}


cdef class Layer:
    """A view of one layer of a Network (kept alive by the view). Get them from
    ``Network.layers`` or ``Network.layer(name)``."""
    cdef cpp.Layer* c_layer
    cdef readonly Network network

    def __init__(self, *args, **kwargs):
        raise TypeError("Layer objects come from Network.layers or Network.layer(name)")

    @staticmethod
    cdef Layer wrap(Network network, cpp.Layer* layer):
        cdef Layer self = Layer.__new__(Layer)
        self.c_layer = layer
        self.network = network
        return self

    cdef cpp.Layer* _layer(self) except NULL:
        if self.c_layer == NULL:
            raise RuntimeError("this Layer belongs to no network: get layers from "
                               "Network.layers or Network.layer(name)")
        return self.c_layer

    @property
    def name(self):
        return _str(self._layer().name())

    @property
    def kind(self):
        return _KINDS[<int>self._layer().kind()]

    @property
    def type(self):
        return _str(cpp.to_string(self._layer().type()))

    @property
    def activation(self):
        return _str(cpp.to_string(self._layer().descriptor().activation))

    @property
    def size(self):
        """Units per example."""
        return self._layer().stride()

    @property
    def dims(self):
        cdef const cpp.LayerDescriptor* d = &self._layer().descriptor()
        return tuple(d.n[i] for i in range(d.dimensions))[::-1]

    @property
    def kernel(self):
        """Kernel, KernelStride and the derived padding of a convolutional or pooling layer, each
        in the JSON order (x, y, z) over its kernel dimensions."""
        cdef const cpp.LayerDescriptor* d = &self._layer().descriptor()
        axes = range(max(1, min(3, d.kernel_dimensions)))
        return {"Kernel": [d.kernel[a] for a in axes],
                "KernelStride": [d.kernel_stride[a] for a in axes],
                "KernelPadding": [d.kernel_padding[a] for a in axes]}

    def _kernel_dimensions(self):
        return len(self.kernel["Kernel"])

    @property
    def data_set(self):
        """Name of the data set this layer reads (Input) or is trained on (Output)."""
        return _str(self._layer().descriptor().data_set)

    @property
    def sources(self):
        return [_str(s) for s in self._layer().descriptor().sources]

    @property
    def skips(self):
        return [_str(s) for s in self._layer().descriptor().skips]

    @property
    def p_dropout(self):
        return self._layer().descriptor().p_dropout

    @property
    def sparse(self):
        return self._layer().descriptor().sparse

    @property
    def batch_rows(self):
        """Examples in the current batch."""
        return self._layer().batch_rows()

    cdef object _values(self, bint deltas):
        cdef cpp.Layer* layer = self._layer()
        cdef cpp.Network* net = self.network._net()
        with self.network._busy:
            out = np.empty((layer.batch_rows(), layer.stride()), np.float32)
            net.gather_layer(layer[0], deltas, <float*><uintptr_t>out.ctypes.data)
        return out

    @property
    def units(self):
        """Activations of the current batch, (rows, size) (every rank's units: with several
        ranks all must read them). After train(), an output layer whose training step took its
        error and delta in one pass holds pre-activations, and DsstneError says so; run
        forward_batch() for its activations."""
        if self._layer().is_sparse_input():
            raise ValueError(f"layer '{self.name}' reads sparse data; its units are not "
                             "materialised")
        return self._values(False)

    @property
    def deltas(self):
        """∂E/∂z of the current batch after backward_batch, (rows, size)."""
        return self._values(True)

    @property
    def batch_norm(self):
        """A batch-normalized layer's state, one value per feature (a unit, or a convolution's
        output map): dict of float32 arrays ``scale``, ``bias``, ``running_mean``,
        ``running_variance`` and the optimizer state of scale and bias (``scale_velocity``,
        ``scale_velocity2``, ``bias_velocity``, ``bias_velocity2``); None without
        BatchNormalization."""
        cdef cpp.Layer* layer = self._layer()
        if not layer.batch_normalized():
            return None
        with self.network._busy:
            return {name: np.asarray(layer.bn_buffer(i), np.float32)
                    for i, name in enumerate(_BN_NAMES)}

    @batch_norm.setter
    def batch_norm(self, values):
        """Replaces the named buffers; all are checked (names, sizes, finite values, variances
        >= 0) before any is replaced."""
        cdef cpp.Layer* layer = self._layer()
        if not layer.batch_normalized():
            raise ValueError(f"layer '{self.name}' has no BatchNormalization")
        unknown = set(values) - set(_BN_NAMES)
        if unknown:
            raise ValueError(f"layer '{self.name}': unknown batch-norm buffers {sorted(unknown)} "
                             f"(known: {', '.join(_BN_NAMES)})")
        arrays = {}
        for name in _BN_NAMES:
            if name not in values:
                continue
            arr = np.ascontiguousarray(values[name], dtype=np.float32).ravel()
            if arr.size != layer.bn_features():
                raise ValueError(f"layer '{self.name}': batch-norm '{name}' holds "
                                 f"{layer.bn_features()} values, got {arr.size}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"layer '{self.name}': batch-norm '{name}' holds NaN or "
                                 "infinite values")
            if name == "running_variance" and np.any(arr < 0):
                raise ValueError(f"layer '{self.name}': a running variance is negative")
            arrays[name] = arr
        with self.network._busy:
            for i, name in enumerate(_BN_NAMES):
                if name in arrays:
                    layer.set_bn_buffer(i, <const float*><uintptr_t>arrays[name].ctypes.data,
                                        arrays[name].size)

    def __repr__(self):
        if self.c_layer == NULL:
            return "Layer(<no network>)"
        return f"Layer('{self.name}', {self.kind}, size={self.size}, {self.activation})"


_STATE_NAMES = ("velocity", "velocity2", "bias_velocity", "bias_velocity2")
_BN_NAMES = ("scale", "bias", "running_mean", "running_variance", "scale_velocity",
             "scale_velocity2", "bias_velocity", "bias_velocity2")


cdef class Weight:
    """A view of the connection between two layers: matrix (n_in × n_out) and bias. Get them
    from ``Network.weights`` or ``Network.weight(input, output)``."""
    cdef cpp.Weight* c_weight
    cdef readonly Network network

    def __init__(self, *args, **kwargs):
        raise TypeError("Weight objects come from Network.weights or Network.weight(in, out)")

    @staticmethod
    cdef Weight wrap(Network network, cpp.Weight* weight):
        cdef Weight self = Weight.__new__(Weight)
        self.c_weight = weight
        self.network = network
        return self

    cdef cpp.Weight* _weight(self) except NULL:
        if self.c_weight == NULL:
            raise RuntimeError("this Weight belongs to no network: get weights from "
                               "Network.weights or Network.weight(input, output)")
        return self.c_weight

    @property
    def input(self):
        return _str(self._weight().input().name())

    @property
    def output(self):
        return _str(self._weight().output().name())

    @property
    def shared(self):
        return self._weight().shared()

    @property
    def transposed(self):
        return self._weight().transposed()

    @property
    def sharing_count(self):
        return self._weight().sharing_count()

    @property
    def locked(self):
        """Locked weights are neither trained nor changed by updates."""
        return self._weight().locked()

    @locked.setter
    def locked(self, value):
        cdef cpp.Weight* w = self._weight()
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"locked must be True or False, got {value!r}")
        with self.network._busy:
            w.set_locked(bool(value))

    @property
    def norm(self):
        return self._weight().norm()

    @norm.setter
    def norm(self, value):
        cdef cpp.Weight* w = self._weight()
        cdef float c_norm = _real(value, "norm")
        if not (math.isfinite(c_norm) and c_norm >= 0):
            raise ValueError(f"norm (the largest L2 norm of a unit's weights, 0 = none) must be "
                             f"a finite number >= 0, got {value}")
        with self.network._busy:
            w.set_norm(c_norm)

    @property
    def shape(self):
        """(rows, columns) of the whole matrix (n_in, n_out; the owner's for a shared weight)."""
        cdef cpp.Weight* w = self._weight()
        return (w.matrix_rows(), w.matrix_cols())

    @property
    def convolutional(self):
        """Whether this connection is a convolution: its weights are filters, shaped
        (out_channels, in_channels · kernel volume) by `shape`."""
        return self._weight().convolutional()

    @property
    def filter_shape(self):
        """A convolution's filters as (out_channels, in_channels, kz, ky, kx), with only the
        kernel axes the layer has (DSSTNE's NetCDF order); None for a matrix."""
        cdef cpp.Weight* w = self._weight()
        if not w.convolutional():
            return None
        cdef const cpp.ConvGeometry* g = &w.conv_geometry()
        dims = self.network.layer(self.output)._kernel_dimensions()
        kernel = tuple(g.kernel[a] for a in range(dims))[::-1]
        return (g.out_channels, g.in_channels) + kernel

    @property
    def split(self):
        """How the ranks divide the matrix: "columns" (each holds its output units' columns) or
        "rows" (its input units' rows); "columns" on one rank."""
        return "rows" if self._weight().split() == cpp.WeightSplit.Rows else "columns"

    @property
    def local_block(self):
        """(row_begin, rows, col_begin, cols): the block of the whole matrix this rank holds."""
        cdef cpp.MatrixBlock b = self._weight().block()
        return (b.row_begin, b.rows, b.col_begin, b.cols)

    cdef object _gather(self, int which):
        cdef cpp.Weight* w = self._weight()
        cdef cpp.Network* net = self.network._net()
        with self.network._busy:
            out = np.empty(net.parameter_size(w[0], which), np.float32)
            net.gather_parameter(w[0], which, <float*><uintptr_t>out.ctypes.data)
        return out

    cdef _set(self, int which, values):
        cdef cpp.Weight* w = self._weight()
        cdef cpp.Network* net = self.network._net()
        arr = np.ascontiguousarray(values, dtype=np.float32).ravel()
        with self.network._busy:
            net.set_parameter(w[0], which, <const float*><uintptr_t>arr.ctypes.data, arr.size)

    @property
    def weights(self):
        """A copy of the whole matrix: (n_in, n_out) input-major; for a shared weight its
        owner's. With several ranks it is gathered from their blocks (all ranks must read it)."""
        return self._gather(cpp.kMatrix).reshape(self.shape)

    @weights.setter
    def weights(self, values):
        arr = np.asarray(values)
        if arr.shape != self.shape:
            raise ValueError(f"weights {self.input}->{self.output}: expected shape {self.shape}, "
                             f"got {arr.shape}")
        self._set(cpp.kMatrix, arr)

    @property
    def bias(self):
        return self._gather(cpp.kBias)

    @bias.setter
    def bias(self, values):
        self._set(cpp.kBias, values)

    @property
    def optimizer_state(self):
        """The optimizer's state of this connection: dict of flat float32 arrays (velocity or
        first moment, the second accumulator, and the same for the bias; empty when unused)."""
        return {name: self._gather(i) for i, name in enumerate(_STATE_NAMES)}

    @optimizer_state.setter
    def optimizer_state(self, state):
        """Replaces the named buffers; every one is checked (names, sizes, finite values) before
        any is replaced."""
        cdef cpp.Weight* w = self._weight()
        unknown = set(state) - set(_STATE_NAMES)
        if unknown:
            raise ValueError(f"weights {self.input}->{self.output}: unknown optimizer state "
                             f"{sorted(unknown)} (known: {', '.join(_STATE_NAMES)})")
        arrays = {}
        cdef cpp.Network* net = self.network._net()
        for i, name in enumerate(_STATE_NAMES):
            if name not in state:
                continue
            arr = np.ascontiguousarray(state[name], dtype=np.float32).ravel()
            held = net.parameter_size(w[0], i)
            if arr.size != held:
                raise ValueError(f"weights {self.input}->{self.output}: optimizer state '{name}' "
                                 f"holds {held} values, got {arr.size}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"weights {self.input}->{self.output}: optimizer state '{name}' "
                                 "holds NaN or infinite values")
            arrays[i] = arr
        for i, arr in arrays.items():
            self._set(i, arr)

    @property
    def gradient(self):
        """Stored gradient of the matrix after backward_batch: −(1/(sharing·rows))·∂E/∂W.
        train() with SGD (no L1 decay) writes most steps into the weights without storing the
        gradient: reading it then raises until forward_batch() and backward_batch() run."""
        return self._gather(cpp.kGradient).reshape(self.shape)

    def __repr__(self):
        if self.c_weight == NULL:
            return "Weight(<no network>)"
        extra = " shared" + (" transposed" if self.transposed else "") if self.shared else ""
        return f"Weight('{self.input}' -> '{self.output}'{extra})"
