# SPDX-License-Identifier: Apache-2.0
# Included by _core.pyx.

def default_device():
    """The device used when none is named: $DSSTNE_DEVICE, else "cpu"."""
    return os.environ.get("DSSTNE_DEVICE", "cpu") or "cpu"


def _comm_timeout():
    """Seconds a rank waits for the others: $DSSTNE_COMM_TIMEOUT, else 300."""
    text = os.environ.get("DSSTNE_COMM_TIMEOUT", "300")
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"DSSTNE_COMM_TIMEOUT must be a number of seconds, got {text!r}") \
            from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"DSSTNE_COMM_TIMEOUT must be > 0 seconds, got {text!r}")
    return seconds


def _host_rank(comm):
    """This process's rank, and how many ranks of `comm` there are, on its host."""
    from mpi4py import MPI
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return local.Get_rank(), local.Get_size()
    finally:
        local.Free()


def _choose_transport(transport, device, comm, gpus, host_ranks):
    """"mpi" or "nccl", the same on every rank (a collective of `comm`)."""
    from mpi4py import MPI
    cuda = str(device).lower().startswith(("cuda", "gpu"))
    if transport is None:
        # NCCL where every rank has a GPU of its own; MPI's host staging where ranks share one.
        own_gpu = cuda and cpp.nccl_built() and host_ranks <= gpus
        return "nccl" if comm.Get_size() > 1 and comm.allreduce(own_gpu, op=MPI.LAND) else "mpi"
    if transport not in ("mpi", "nccl"):
        raise ValueError(f"transport must be None, 'mpi' or 'nccl', got {transport!r}")
    if transport == "nccl" and not cuda:
        raise ValueError(f"transport 'nccl' moves GPU memory: it needs a CUDA device, not "
                         f"{device!r}")
    if transport == "nccl" and not comm.allreduce(host_ranks <= gpus, op=MPI.LAND):
        raise ValueError(f"transport 'nccl' needs one GPU per rank: a host has more ranks than "
                         f"GPUs (this one: {host_ranks} ranks, {gpus} GPUs); use 'mpi'")
    return transport


_PRECISION_NAMES = ("fp32", "tf32", "bf16")
_CONV_ALGORITHM_NAMES = ("deterministic", "gemm-order")


cdef cpp.GemmMath _gemm_math(precision, tf32) except *:
    """The GemmMath of Context(precision=..., tf32=...)."""
    if precision is None:
        return cpp.GemmMath.TF32 if tf32 else cpp.GemmMath.Float32
    if not isinstance(precision, str) or precision.lower() not in _PRECISION_NAMES:
        raise ValueError(f"precision must be one of {', '.join(_PRECISION_NAMES)}, got "
                         f"{precision!r}")
    name = precision.lower()
    if tf32 and name != "tf32":
        raise ValueError(f"tf32=True contradicts precision={precision!r}: give one of them")
    return (cpp.GemmMath.Float32, cpp.GemmMath.TF32, cpp.GemmMath.BFloat16)[
        _PRECISION_NAMES.index(name)]


cdef cpp.ConvAlgorithms _conv_algorithms(name) except *:
    """The ConvAlgorithms of Context(conv_algorithms=...)."""
    if not isinstance(name, str) or name.lower() not in _CONV_ALGORITHM_NAMES:
        raise ValueError(f"conv_algorithms must be one of {', '.join(_CONV_ALGORITHM_NAMES)}, "
                         f"got {name!r}")
    return (cpp.ConvAlgorithms.Deterministic, cpp.ConvAlgorithms.GemmOrder)[
        _CONV_ALGORITHM_NAMES.index(name.lower())]


cdef class Context:
    """Context(device=None, seed=12134, tf32=False, comm=None, transport=None, precision=None,
    conv_algorithms="deterministic")
--

    Where a network runs: device ("cpu", "cuda" or "cuda:N"), random seed, and the ranks that
    share its networks (model parallelism).

    Parameters
    ----------
    device : str, optional
        "cpu", "cuda" or "cuda:N". Default: the environment variable DSSTNE_DEVICE, else "cpu".
    seed : int
        Seed of every random draw (initial weights, shuffles, dropout, denoising).
    tf32 : bool
        Short for ``precision="tf32"``.
    comm : mpi4py.MPI.Comm, optional
        Several processes (``mpirun -np N``) share each network of this context: every layer's
        units and every weight matrix are split across the ranks of `comm`, and the results equal
        one rank's. Each rank makes the same calls in the same order. With ``"cuda"`` each rank
        takes the GPU of its rank on the host. A rank waits at most $DSSTNE_COMM_TIMEOUT seconds
        (default 300) for the others before raising dsstne.CommunicationError.
    transport : {None, "mpi", "nccl"}
        How GPU memory moves between ranks: "nccl" GPU to GPU (one GPU per rank), "mpi" through
        host memory (ranks may share a GPU). None: NCCL when this libdsstne has it and every
        rank has a GPU of its own, else MPI. Both add in the same order, so they give the same
        bits. Needs `comm`.
    precision : {None, "fp32", "tf32", "bf16"}
        The arithmetic of the dense products (GEMM) of networks on this context. "fp32" (the
        default): exact float32. "tf32": the GPU's TF32 tensor cores (10-bit mantissa inputs,
        faster; no effect on the CPU). "bf16": both inputs rounded to bfloat16 (8-bit mantissa),
        float32 accumulation, weights kept in float32: the GPU's bf16 tensor cores, emulated on
        the CPU by the same rounding. Every precision is deterministic.
    conv_algorithms : {"deterministic", "gemm-order"}
        Which cuDNN algorithms convolutional layers may use on the GPU; both are deterministic
        (no atomics). "deterministic" (the default): any, FFT and Winograd included, which are
        faster on big kernels but round differently from the CPU's sums (within 1e-4 of the
        terms' magnitude). "gemm-order": only those that sum the products themselves (implicit
        GEMM, direct), closer to the CPU (1e-5) and bitwise where sums are exact in float. No
        effect on the CPU.
    """
    cdef cpp.Context c_ctx

    def __init__(self, device=None, seed=12134, tf32=False, comm=None, transport=None,
                 precision=None, conv_algorithms="deterministic"):
        cdef cpp.GemmMath math = _gemm_math(precision, tf32)
        cdef cpp.ConvAlgorithms conv_set = _conv_algorithms(conv_algorithms)
        if device is None:
            device = default_device()
        cdef uint64_t c_seed = _whole(seed, "seed", 0, 2**64 - 1)
        cdef shared_ptr[cpp.Communicator] c_comm
        if comm is None and transport is not None:
            raise ValueError("transport chooses how the ranks of comm communicate: give comm "
                             "(an mpi4py communicator) as well")
        if comm is not None:
            try:
                from mpi4py import MPI
            except ImportError:
                raise ImportError("Context(comm=...) takes an mpi4py communicator; install "
                                  "mpi4py") from None
            if not isinstance(comm, MPI.Comm):
                raise TypeError(f"comm must be an mpi4py communicator (MPI.COMM_WORLD), got "
                                f"{type(comm).__name__}")
            gpus = cuda_device_count()
            host_rank, host_ranks = _host_rank(comm)
            if str(device).lower() in ("cuda", "gpu") and comm.Get_size() > 1 and gpus:
                device = f"cuda:{host_rank % gpus}"
            transport = _choose_transport(transport, device, comm, gpus, host_ranks)
            timeout = _comm_timeout()
            c_comm = cpp.mpi_communicator(<uintptr_t>MPI._handleof(comm), timeout)
        self.c_ctx = cpp.Context.from_string(_bytes(device), c_seed)
        if comm is not None:
            if transport == "nccl":
                c_comm = cpp.nccl_communicator(c_comm, self.c_ctx.device_ordinal(), timeout)
            self.c_ctx = self.c_ctx.with_communicator(c_comm)
        self.c_ctx.set_gemm_math(math)
        self.c_ctx.set_conv_algorithms(conv_set)

    @property
    def rank(self):
        """This process's rank among those sharing the networks (0 with one)."""
        return self.c_ctx.comm().rank()

    @property
    def ranks(self):
        """How many processes share the networks of this context."""
        return self.c_ctx.comm().size()

    def allgather_text(self, text):
        """Every rank's `text`, in rank order, on every rank (collective: all ranks call it).
        What one rank learns alone (a file it failed to write) reaches the others this way."""
        cdef bytes data = str(text).encode("utf-8")
        cdef const char* p = data
        cdef int64_t n = len(data)
        cdef vector[vector[unsigned char]] parts
        with nogil:
            parts = self.c_ctx.comm().allgather_bytes(p, n)
        return [bytes(part).decode("utf-8", "replace") for part in parts]

    @property
    def transport(self):
        """How the ranks communicate: "local" (one process), "mpi" or "nccl"."""
        return _str(self.c_ctx.comm().name())

    @property
    def seed(self):
        return self.c_ctx.seed()

    @property
    def tf32(self):
        return self.c_ctx.tf32()

    @property
    def precision(self):
        """The arithmetic of dense products: "fp32", "tf32" or "bf16"."""
        return _PRECISION_NAMES[<int>self.c_ctx.gemm_math()]

    @property
    def conv_algorithms(self):
        """The cuDNN convolution algorithms allowed: "deterministic" or "gemm-order"."""
        return _CONV_ALGORITHM_NAMES[<int>self.c_ctx.conv_algorithms()]

    @property
    def is_cuda(self):
        return self.c_ctx.is_cuda()

    @property
    def device(self):
        """"cpu" or "cuda:N"."""
        return f"cuda:{self.c_ctx.device_ordinal()}" if self.c_ctx.is_cuda() else "cpu"

    def __repr__(self):
        return f"Context({_str(self.c_ctx.describe())})"
