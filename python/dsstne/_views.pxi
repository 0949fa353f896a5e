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

    @property
    def units(self):
        """Activations of the current batch, (rows, size)."""
        cdef cpp.Layer* layer = self._layer()
        if layer.is_sparse_input():
            raise ValueError(f"layer '{self.name}' reads sparse data; its units are not "
                             "materialised")
        with self.network._busy:
            out = np.empty((layer.batch_rows(), layer.local_units()), np.float32)
            layer.download_units(<float*><uintptr_t>out.ctypes.data)
        return out

    @property
    def deltas(self):
        """∂E/∂z of the current batch after backward_batch, (rows, size)."""
        cdef cpp.Layer* layer = self._layer()
        with self.network._busy:
            out = np.empty((layer.batch_rows(), layer.local_units()), np.float32)
            layer.download_deltas(<float*><uintptr_t>out.ctypes.data)
        return out

    def __repr__(self):
        if self.c_layer == NULL:
            return "Layer(<no network>)"
        return f"Layer('{self.name}', {self.kind}, size={self.size}, {self.activation})"


_STATE_NAMES = ("velocity", "velocity2", "bias_velocity", "bias_velocity2")


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
        """(rows, columns) of the matrix as stored."""
        cdef cpp.Weight* w = self._weight()
        return (w.matrix_rows(), w.matrix_cols())

    @property
    def weights(self):
        """A copy of the matrix as stored: (n_in, n_out) input-major; for a shared weight its
        owner's."""
        cdef cpp.Weight* w = self._weight()
        with self.network._busy:
            return _float_buffer(self, w.matrix()).reshape(w.matrix_rows(), w.matrix_cols())

    @weights.setter
    def weights(self, values):
        cdef cpp.Weight* w = self._weight()
        arr = np.ascontiguousarray(values, dtype=np.float32)
        shape = (w.matrix_rows(), w.matrix_cols())
        if arr.shape != shape:
            raise ValueError(f"weights {self.input}->{self.output}: expected shape {shape}, "
                             f"got {arr.shape}")
        with self.network._busy:
            w.set_matrix(<const float*><uintptr_t>arr.ctypes.data, arr.size)

    @property
    def bias(self):
        cdef cpp.Weight* w = self._weight()
        with self.network._busy:
            return _float_buffer(self, w.bias())

    @bias.setter
    def bias(self, values):
        cdef cpp.Weight* w = self._weight()
        arr = np.ascontiguousarray(values, dtype=np.float32).ravel()
        with self.network._busy:
            w.set_bias(<const float*><uintptr_t>arr.ctypes.data, arr.size)

    @property
    def optimizer_state(self):
        """The optimizer's state of this connection: dict of flat float32 arrays (velocity or
        first moment, the second accumulator, and the same for the bias; empty when unused)."""
        cdef cpp.Weight* w = self._weight()
        with self.network._busy:
            return {name: _float_buffer(self, w.state_buffer(i))
                    for i, name in enumerate(_STATE_NAMES)}

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
        for i, name in enumerate(_STATE_NAMES):
            if name not in state:
                continue
            arr = np.ascontiguousarray(state[name], dtype=np.float32).ravel()
            held = w.state_buffer(i).size()
            if arr.size != held:
                raise ValueError(f"weights {self.input}->{self.output}: optimizer state '{name}' "
                                 f"holds {held} values, got {arr.size}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"weights {self.input}->{self.output}: optimizer state '{name}' "
                                 "holds NaN or infinite values")
            arrays[i] = arr
        with self.network._busy:
            for i, arr in arrays.items():
                w.set_state(i, <const float*><uintptr_t>arr.ctypes.data, arr.size)

    @property
    def gradient(self):
        """Stored gradient of the matrix after backward_batch: −(1/(sharing·rows))·∂E/∂W."""
        cdef cpp.Weight* w = self._weight()
        with self.network._busy:
            return _float_buffer(self, w.gradient()).reshape(w.matrix_rows(), w.matrix_cols())

    def __repr__(self):
        if self.c_weight == NULL:
            return "Weight(<no network>)"
        extra = " shared" + (" transposed" if self.transposed else "") if self.shared else ""
        return f"Weight('{self.input}' -> '{self.output}'{extra})"
