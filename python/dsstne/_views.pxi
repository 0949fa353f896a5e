# SPDX-License-Identifier: Apache-2.0
# Included by _core.pyx.

_KINDS = {0: "Input", 1: "Hidden", 2: "Output", 3: "Target"}



cdef object _buffer(cpp.DeviceBuffer[float]& buf):
    cdef vector[float] v = buf.download()
    return np.asarray(v, dtype=np.float32)


cdef class Layer:
    """A view of one layer of a Network (kept alive by the view)."""
    cdef cpp.Layer* c_layer
    cdef readonly Network network

    @staticmethod
    cdef Layer wrap(Network network, cpp.Layer* layer):
        cdef Layer self = Layer.__new__(Layer)
        self.c_layer = layer
        self.network = network
        return self

    @property
    def name(self):
        return _str(self.c_layer.name())

    @property
    def kind(self):
        return _KINDS[<int>self.c_layer.kind()]

    @property
    def type(self):
        return _str(cpp.to_string(self.c_layer.type()))

    @property
    def activation(self):
        return _str(cpp.to_string(self.c_layer.descriptor().activation))

    @property
    def size(self):
        """Units per example."""
        return self.c_layer.stride()

    @property
    def dims(self):
        cdef const cpp.LayerDescriptor* d = &self.c_layer.descriptor()
        return tuple(d.n[i] for i in range(d.dimensions))[::-1]

    @property
    def data_set(self):
        """Name of the data set this layer reads (Input) or is trained on (Output)."""
        return _str(self.c_layer.descriptor().data_set)

    @property
    def sources(self):
        return [_str(s) for s in self.c_layer.descriptor().sources]

    @property
    def skips(self):
        return [_str(s) for s in self.c_layer.descriptor().skips]

    @property
    def p_dropout(self):
        return self.c_layer.descriptor().p_dropout

    @property
    def sparse(self):
        return self.c_layer.descriptor().sparse

    @property
    def batch_rows(self):
        """Examples in the current batch."""
        return self.c_layer.batch_rows()

    @property
    def units(self):
        """Activations of the current batch, (rows, size)."""
        cdef int64_t rows = self.c_layer.batch_rows(), cols = self.c_layer.local_units()
        if self.c_layer.is_sparse_input():
            raise ValueError(f"layer '{self.name}' reads sparse data; its units are not "
                             "materialised")
        cdef vector[float] v = self.c_layer.download_units()
        return np.asarray(v, dtype=np.float32).reshape(rows, cols)

    @property
    def deltas(self):
        """∂E/∂z of the current batch after backward_batch, (rows, size)."""
        cdef int64_t rows = self.c_layer.batch_rows(), cols = self.c_layer.local_units()
        cdef vector[float] v = self.c_layer.download_deltas()
        return np.asarray(v, dtype=np.float32).reshape(rows, cols)

    def __repr__(self):
        return f"Layer('{self.name}', {self.kind}, size={self.size}, {self.activation})"


cdef class Weight:
    """A view of the connection between two layers: matrix (n_in × n_out) and bias."""
    cdef cpp.Weight* c_weight
    cdef readonly Network network

    @staticmethod
    cdef Weight wrap(Network network, cpp.Weight* weight):
        cdef Weight self = Weight.__new__(Weight)
        self.c_weight = weight
        self.network = network
        return self

    @property
    def input(self):
        return _str(self.c_weight.input().name())

    @property
    def output(self):
        return _str(self.c_weight.output().name())

    @property
    def shared(self):
        return self.c_weight.shared()

    @property
    def transposed(self):
        return self.c_weight.transposed()

    @property
    def sharing_count(self):
        return self.c_weight.sharing_count()

    @property
    def locked(self):
        """Locked weights are neither trained nor changed by updates."""
        return self.c_weight.locked()

    @locked.setter
    def locked(self, value):
        self.c_weight.set_locked(bool(value))

    @property
    def norm(self):
        return self.c_weight.norm()

    @norm.setter
    def norm(self, value):
        self.c_weight.set_norm(float(value))

    @property
    def weights(self):
        """The matrix as stored: (n_in, n_out) input-major; for a shared weight its owner's."""
        return _buffer(self.c_weight.matrix()).reshape(self.c_weight.matrix_rows(),
                                                      self.c_weight.matrix_cols())

    @weights.setter
    def weights(self, values):
        arr = np.ascontiguousarray(values, dtype=np.float32)
        shape = (self.c_weight.matrix_rows(), self.c_weight.matrix_cols())
        if arr.shape != shape:
            raise ValueError(f"weights {self.input}->{self.output}: expected shape {shape}, "
                             f"got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"weights {self.input}->{self.output}: NaN or infinite values")
        self.c_weight.set_matrix(arr.ravel())

    @property
    def bias(self):
        return _buffer(self.c_weight.bias())

    @bias.setter
    def bias(self, values):
        arr = np.ascontiguousarray(values, dtype=np.float32).ravel()
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"bias {self.input}->{self.output}: NaN or infinite values")
        self.c_weight.set_bias(arr)

    _STATE_NAMES = ("velocity", "velocity2", "bias_velocity", "bias_velocity2")

    @property
    def optimizer_state(self):
        """The optimizer's state of this connection: dict of flat float32 arrays (velocity or
        first moment, the second accumulator, and the same for the bias; empty when unused)."""
        cdef vector[float] v
        out = {}
        for i, name in enumerate(self._STATE_NAMES):
            v = self.c_weight.state(i)
            out[name] = np.asarray(v, dtype=np.float32)
        return out

    @optimizer_state.setter
    def optimizer_state(self, state):
        for i, name in enumerate(self._STATE_NAMES):
            if name in state:
                arr = np.ascontiguousarray(state[name], dtype=np.float32).ravel()
                self.c_weight.set_state(i, arr)

    @property
    def gradient(self):
        """Stored gradient of the matrix after backward_batch: −(1/(sharing·rows))·∂E/∂W."""
        cdef const cpp.DeviceBuffer[float]* g = &self.c_weight.gradient()
        cdef vector[float] v = g.download()
        return np.asarray(v, dtype=np.float32).reshape(self.c_weight.matrix_rows(),
                                                       self.c_weight.matrix_cols())

    def __repr__(self):
        extra = " shared" + (" transposed" if self.transposed else "") if self.shared else ""
        return f"Weight('{self.input}' -> '{self.output}'{extra})"
