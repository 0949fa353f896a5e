# SPDX-License-Identifier: Apache-2.0
# Included by _core.pyx.

_MODES = {"prediction": cpp.Mode.Prediction, "training": cpp.Mode.Training,
          "validation": cpp.Mode.Validation}


def _config_text(config):
    """JSON text from a path, a JSON string or a dict."""
    if isinstance(config, dict):
        try:
            return json.dumps(config, allow_nan=False), None
        except RecursionError:
            raise ValueError("the network description nests too deeply to be a DSSTNE "
                             "config") from None
        except ValueError as e:  # NaN/Inf, or a dict that contains itself
            raise ValueError(f"the network description cannot be written as JSON: {e}") from None
    if isinstance(config, (bytes, bytearray)):
        config = config.decode("utf-8")
    text = str(config) if not isinstance(config, str) else config
    if text.lstrip().startswith("{") or text.lstrip().startswith("["):
        return text, None
    return None, os.fspath(config)


class _NotingInterrupts:
    """While training runs, wraps the SIGINT handler so that every Ctrl-C it turns into an
    exception is also noted in `seen`, which the engine polls between batches. Python drops a
    KeyboardInterrupt raised inside a finalizer (reported as unraisable); the garbage collector
    can run one during an epoch callback or a log message, and the Ctrl-C must not vanish with it.
    Only the main thread may set handlers, and a handler that is not a Python callable (ignored,
    or the system default) is left alone."""

    def __init__(self, seen):
        self._seen = seen
        self._previous = None
        self._handler = None

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        previous = signal.getsignal(signal.SIGINT)
        if not callable(previous):
            return self
        seen = self._seen

        def noting(signum, frame):
            try:
                previous(signum, frame)
            except BaseException:
                seen.append(signum)
                raise

        signal.signal(signal.SIGINT, noting)
        self._previous, self._handler = previous, noting
        return self

    def __exit__(self, *exc):
        # Left alone if the callback set a handler of its own meanwhile.
        if self._handler is not None and signal.getsignal(signal.SIGINT) is self._handler:
            signal.signal(signal.SIGINT, self._previous)
        return False


class _Busy:
    """Serialises calls on one Network: other threads wait; the training thread itself may call
    back in (an epoch callback that saves or evaluates the network)."""

    def __init__(self):
        self.lock = threading.RLock()

    def __enter__(self):
        self.lock.acquire()  # waits without the GIL

    def __exit__(self, *exc):
        self.lock.release()


cdef class Network:
    """Network(config, data=(), *, batch=512, context=None, device=None, seed=12134)
--

    A neural network built from DSSTNE's JSON language and bound to data sets by name.

    Parameters
    ----------
    config : str, os.PathLike or dict
        A JSON file, a JSON string, or the parsed dict.
    data : DataSet or list of DataSet
        Bound to the Input/Output layers whose ``DataSet`` matches their names; also resolves
        ``"N": "auto"``.
    batch : int
        Mini-batch size (the last batch of an epoch may be smaller).
    context : Context, optional
        Device and seed; default ``Context(device, seed)``.
    """
    cdef cpp.Network* c_net
    cdef readonly Context context
    cdef list _data
    cdef object _busy

    def __cinit__(self):
        self.c_net = NULL
        self._busy = _Busy()
        self._data = []

    def __init__(self, config, data=(), *, batch=512, Context context=None, device=None,
                 seed=12134):
        if self.c_net != NULL:
            raise RuntimeError(f"network '{self.name}' is already initialised")
        context = context if context is not None else Context(device, seed)
        if isinstance(data, DataSet):
            data = [data]
        data = [_on(context, d) for d in data]
        cdef vector[shared_ptr[cpp.DataSet]] c_data
        for d in data:
            c_data.push_back((<DataSet>d).c_ptr)
        cdef int64_t c_batch = _whole(batch, "batch", 1, _INT64_MAX)
        text, path = _config_text(config)
        cdef cpp.NetworkDescriptor desc
        if path is not None:
            desc = cpp.load_network_json(_bytes(path))
        else:
            desc = cpp.parse_network_json(_bytes(text))
        with nogil:
            self.c_net = new cpp.Network(move(desc), c_data, c_batch, context.c_ctx)
        self.context = context
        self._data = data

    def __dealloc__(self):
        if self.c_net != NULL:
            with nogil:
                del self.c_net

    cdef cpp.Network* _net(self) except NULL:
        if self.c_net == NULL:
            raise RuntimeError("this Network was never initialised: make one with "
                               "Network(config, data, ...) (a subclass's __init__ must call "
                               "super().__init__)")
        return self.c_net

    def _here(self, d):
        """`d` on this network's device (data sets made elsewhere are copied once)."""
        self._net()
        return _on(self.context, d)

    # ---- structure ---------------------------------------------------------------------------
    @property
    def name(self):
        return _str(self._net().descriptor().name)

    @property
    def config(self):
        """The network's description in DSSTNE's JSON language ("auto" sizes resolved)."""
        return _str(cpp.to_json(self._net().descriptor()))

    @property
    def training_mode(self):
        """The optimizer whose state the weights hold ("SGD", "Adam", ...)."""
        return _str(cpp.to_string(self._net().training_mode()))

    def set_progress(self, epochs, steps, optimizer):
        """Restores saved training progress (epochs and optimizer steps taken, and the optimizer
        whose state the weights will be given), so that training continues as if it had never
        stopped."""
        cdef int c_epochs = _whole(epochs, "epochs", 0, _INT32_MAX)
        cdef int64_t c_steps = _whole(steps, "steps", 0, _INT64_MAX)
        cdef cpp.TrainingMode mode = cpp.training_mode_from_string(_bytes(optimizer))
        with self._busy:
            self._net().set_progress(c_epochs, c_steps, mode)

    @property
    def error_function(self):
        return _str(cpp.to_string(self._net().descriptor().error_function))

    @property
    def layers(self):
        """Every layer, in file order."""
        cdef cpp.Network* net = self._net()
        return [Layer.wrap(self, net.layers()[i].get()) for i in range(net.layers().size())]

    def layer(self, name):
        return Layer.wrap(self, &self._net().layer(_bytes(name)))

    @property
    def weights(self):
        """Every connection, in creation order."""
        cdef cpp.Network* net = self._net()
        return [Weight.wrap(self, net.weights()[i].get()) for i in range(net.weights().size())]

    def weight(self, input, output):
        """The connection from layer ``input`` to layer ``output``."""
        return Weight.wrap(self, &self._net().weight(_bytes(input), _bytes(output)))

    def _names(self, kind):
        return [l.name for l in self.layers if l.kind == kind]

    @property
    def input_layers(self):
        return self._names("Input")

    @property
    def output_layers(self):
        return self._names("Output")

    @property
    def batch(self):
        return self._net().batch()

    @batch.setter
    def batch(self, value):
        """Setting it reallocates the layers' buffers; a failure (MemoryError) keeps the old
        batch size and buffers."""
        cdef int64_t c_batch = _whole(value, "batch", 1, _INT64_MAX)
        cdef cpp.Network* net = self._net()
        with self._busy:
            with nogil:
                net.set_batch(c_batch)

    @property
    def examples(self):
        return self._net().examples()

    @property
    def epochs_trained(self):
        return self._net().epochs_trained()

    @property
    def steps(self):
        return self._net().steps()

    # ---- data --------------------------------------------------------------------------------
    def attach(self, data):
        """Binds data sets to the layers whose DataSet names match."""
        cdef cpp.Network* net = self._net()
        if isinstance(data, DataSet):
            data = [data]
        data = [self._here(d) for d in data]
        cdef vector[shared_ptr[cpp.DataSet]] c_data
        for d in data:
            c_data.push_back((<DataSet>d).c_ptr)
        with self._busy:
            net.attach(c_data)
            self._data = data + self._data

    cdef cpp.Bindings _bindings_for(self, data, bint with_outputs) except *:
        """Layer bindings for `data`: a DataSet (the single input layer, and every output layer
        trained on the same data set name), a dict {layer name: DataSet}, or a list matched by
        data set name."""
        cdef cpp.Bindings out
        if isinstance(data, DataSet):
            inputs = self.input_layers
            if len(inputs) != 1:
                raise ValueError(f"network '{self.name}' has {len(inputs)} input layers; pass "
                                 "a dict {layer name: DataSet}")
            pairs = [(inputs[0], data)]
            if with_outputs:
                source = self.layer(inputs[0]).data_set
                pairs += [(o, data) for o in self.output_layers
                          if self.layer(o).data_set == source]
        elif isinstance(data, dict):
            pairs = list(data.items())
        else:
            pairs = []
            for d in data:
                if not isinstance(d, DataSet):
                    raise TypeError(f"data must be DataSet objects, got {type(d).__name__}")
                name = d.name
                matched = [l.name for l in self.layers if l.data_set == name and
                           (l.kind == "Input" or (with_outputs and l.kind == "Output"))]
                if not matched:
                    raise ValueError(f"data set '{name}' matches no layer's DataSet")
                pairs += [(m, d) for m in matched]
        for layer_name, d in pairs:
            d = self._here(d)
            out.push_back(pair[string, shared_ptr[cpp.DataSet]](_bytes(layer_name),
                                                               (<DataSet>d).c_ptr))
        return out

    cdef _run_bound(self, data, bint with_outputs, fn):
        """fn() with `data` bound in place of the network's data (under the network's lock)."""
        cdef cpp.Network* net = self._net()
        cdef cpp.Bindings saved, tmp
        if data is not None:
            tmp = self._bindings_for(data, with_outputs)
        with self._busy:
            if data is None:
                return fn()
            saved = net.bindings()
            net.bind(tmp, True)
            try:
                return fn()
            finally:
                net.bind(saved, True)

    # ---- training ----------------------------------------------------------------------------
    def train(self, epochs=1, *, alpha=0.025, lambda_=0.0001, lambda1=0.0, mu=0.5, mu1=0.999,
              optimizer="sgd", alpha_interval=0, alpha_multiplier=1.0, validation=None,
              callback=None):
        """Trains for `epochs` epochs and returns one dict per epoch (epoch, error,
        regularization, validation_error, alpha, seconds).

        Parameters follow DSSTNE's Train(epochs, alpha, lambda, lambda1, mu, mu1): learning rate,
        L2 and L1 weight decay, momentum (RMSProp decay, Adam beta1, AdaDelta rho) and Adam
        beta2. `optimizer` is one of sgd, momentum, adagrad, nesterov, rmsprop, adadelta, adam.
        Every `alpha_interval` epochs alpha is multiplied by `alpha_multiplier`. `validation`
        (a DataSet, list or dict as for predict) adds a validation error per epoch. `callback`
        is called with each epoch's dict. Ctrl-C stops between batches (KeyboardInterrupt).
        Every argument and the validation data are checked before training starts; training
        that diverges (NaN, infinity or a negative error) raises dsstne.NumericalError.
        """
        cdef cpp.Network* net = self._net()
        cdef int c_epochs = _whole(epochs, "epochs", 0, _INT32_MAX)
        cdef cpp.TrainParams p
        p.mode = cpp.training_mode_from_string(_bytes(optimizer))
        p.alpha = _real(alpha, "alpha")
        p.lambda_ = _real(lambda_, "lambda_")
        p.lambda1 = _real(lambda1, "lambda1")
        p.mu = _real(mu, "mu")
        p.mu1 = _real(mu1, "mu1")
        p.alpha_interval = _whole(alpha_interval, "alpha_interval", 0, _INT32_MAX)
        p.alpha_multiplier = _real(alpha_multiplier, "alpha_multiplier")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        cdef cpp.Bindings c_validation
        if validation is not None:
            c_validation = self._bindings_for(validation, True)
        errors = []
        history = []

        def on_epoch(epoch, error, regularization, validation_error, alpha_used, seconds):
            stats = {"epoch": epoch, "error": error, "regularization": regularization,
                     "validation_error": None if validation_error < 0 else validation_error,
                     "alpha": alpha_used, "seconds": seconds}
            history.append(stats)
            if callback is not None and not errors:
                try:
                    callback(stats)
                except BaseException as exc:  # re-raised below, after training stops
                    errors.append(exc)

        interrupted = []
        cdef PyObject* c_on_epoch = <PyObject*>on_epoch
        cdef PyObject* c_errors = <PyObject*>errors
        cdef PyObject* c_interrupted = <PyObject*>interrupted
        with self._busy, _NotingInterrupts(interrupted):
            try:
                with nogil:
                    cpp.train_with_python(net[0], c_epochs, p, c_validation, c_on_epoch,
                                          c_errors, c_interrupted)
            except KeyboardInterrupt:
                if errors:
                    raise errors[0]
                raise
        if errors:
            raise errors[0]
        return history

    def reset_optimizer(self):
        """Zeroes the optimizer's velocities and moments and its step counter."""
        cdef cpp.Network* net = self._net()
        with self._busy:
            net.reset_optimizer()

    # ---- batches -----------------------------------------------------------------------------
    def forward_batch(self, position=0, mode="prediction"):
        """Loads the batch at `position` and runs the forward pass (mode: prediction, training,
        validation — validation is training arithmetic without dropout or denoising)."""
        cdef cpp.Network* net = self._net()
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {sorted(_MODES)}, got {mode!r}")
        cdef cpp.Mode c_mode = _MODES[mode]
        cdef int64_t c_pos = _whole(position, "position", 0, _INT64_MAX)
        with self._busy:
            with nogil:
                net.forward_batch(c_pos, c_mode)

    def batch_error(self):
        """Error of the current batch, summed over its examples."""
        cdef cpp.Network* net = self._net()
        with self._busy:
            return net.batch_error()

    def backward_batch(self):
        """Back-propagates the current batch: deltas and weight gradients, no update."""
        cdef cpp.Network* net = self._net()
        with self._busy:
            with nogil:
                net.backward_batch()

    # ---- prediction --------------------------------------------------------------------------
    def error(self, data=None):
        """Mean error per example over the bound data, or over `data` (no dropout)."""
        cdef cpp.Network* net = self._net()

        def run():
            with nogil:
                result = net.error()
            return result
        return self._run_bound(data, True, run)

    def _output_layer(self, layer):
        if layer is not None:
            return str(layer)
        outputs = self.output_layers
        if len(outputs) != 1:
            raise ValueError(f"network '{self.name}' has {len(outputs)} output layers; name one")
        return outputs[0]

    def predict(self, data=None, *, layer=None):
        """Activations of `layer` (default: the output layer) for every example, as a float32
        array (examples, units) written directly by the engine. `data` replaces the input data
        for this call."""
        cdef cpp.Network* net = self._net()
        name = self._output_layer(layer)
        cdef string c_name = _bytes(name)
        units = self.layer(name).size

        def run():
            n = net.examples()
            _check_host_memory(f"predict of layer '{name}' ({n} examples x {units} units)",
                               n * units * 4)
            out = np.empty((n, units), np.float32)
            cdef float* dst = <float*><uintptr_t>out.ctypes.data
            cdef int64_t capacity = out.size
            with nogil:
                net.predict(c_name, dst, capacity)
            return out
        return self._run_bound(data, False, run)

    def predict_topk(self, k, data=None, *, layer=None, exclude=None):
        """The k best units per example: (scores, indices), float32 and int32 arrays
        (examples, k), scores descending, ties by ascending unit. `exclude` — "input" (the items
        of the input data), a DataSet or a scipy.sparse matrix with one row per example — lists
        units to skip. Slots a row has no candidate for hold score -inf and index -1."""
        cdef cpp.Network* net = self._net()
        name = self._output_layer(layer)
        cdef string c_name = _bytes(name)
        cdef int64_t c_k = _whole(k, "k", 1, _INT64_MAX)
        cdef DataSet excl = None
        if isinstance(exclude, str):
            if exclude != "input":
                raise ValueError(f"exclude must be 'input', a DataSet or a sparse matrix, "
                                 f"got {exclude!r}")
            if data is not None:
                excl = data if isinstance(data, DataSet) else None
            else:
                inputs = self.input_layers
                bound = [d for d in self._data if d.name == self.layer(inputs[0]).data_set]
                excl = bound[0] if bound else None
            if excl is None or not excl.sparse:
                raise ValueError("exclude='input' needs sparse input data")
        elif exclude is not None:
            excl = exclude if isinstance(exclude, DataSet) else DataSet(
                "exclude", exclude, boolean=True, context=self.context)
        if excl is not None:
            excl = self._here(excl)
        cdef const cpp.DataSet* c_excl = NULL
        if excl is not None:
            c_excl = excl.c_ptr.get()

        def run():
            n = net.examples()
            _check_host_memory(f"predict_topk with k={c_k} for {n} examples", n * c_k * 8)
            scores = np.empty((n, c_k), np.float32)
            # uint32 in the engine; the same bits read as int32 make its 0xFFFFFFFF "no unit" -1
            indices = np.empty((n, c_k), np.int32)
            cdef float* c_scores = <float*><uintptr_t>scores.ctypes.data
            cdef uint32_t* c_indices = <uint32_t*><uintptr_t>indices.ctypes.data
            cdef int64_t capacity = scores.size
            with nogil:
                net.predict_topk(c_name, c_k, c_excl, c_scores, c_indices, capacity)
            return scores, indices
        return self._run_bound(data, False, run)

    def __repr__(self):
        if self.c_net == NULL:
            return "Network(<not initialised>)"
        return (f"Network('{self.name}', layers={[l.name for l in self.layers]}, "
                f"batch={self.batch}, examples={self.examples})")


def _on(Context context, d):
    """Data set `d` on `context`'s device (copied once when it lives elsewhere)."""
    if not isinstance(d, DataSet):
        raise TypeError(f"data must be DataSet objects, got {type(d).__name__}")
    return (<DataSet>d).to(context)
