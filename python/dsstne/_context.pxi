# SPDX-License-Identifier: Apache-2.0
# Included by _core.pyx.

def default_device():
    """The device used when none is named: $DSSTNE_DEVICE, else "cpu"."""
    return os.environ.get("DSSTNE_DEVICE", "cpu") or "cpu"


cdef class Context:
    """Context(device=None, seed=12134, tf32=False)
--

    Where a network runs: device ("cpu", "cuda" or "cuda:N") and random seed.

    Parameters
    ----------
    device : str, optional
        "cpu", "cuda" or "cuda:N". Default: the environment variable DSSTNE_DEVICE, else "cpu".
    seed : int
        Seed of every random draw (initial weights, shuffles, dropout, denoising).
    tf32 : bool
        GPU only: dense products of networks on this context use TF32 tensor cores (faster,
        10-bit mantissa) instead of exact float32.
    """
    cdef cpp.Context c_ctx

    def __init__(self, device=None, seed=12134, tf32=False):
        if device is None:
            device = default_device()
        cdef uint64_t c_seed = _whole(seed, "seed", 0, 2**64 - 1)
        self.c_ctx = cpp.Context.from_string(_bytes(device), c_seed)
        if tf32:
            self.c_ctx.set_tf32(True)

    @property
    def seed(self):
        return self.c_ctx.seed()

    @property
    def tf32(self):
        return self.c_ctx.tf32()

    @property
    def is_cuda(self):
        return self.c_ctx.is_cuda()

    @property
    def device(self):
        """"cpu" or "cuda:N"."""
        return f"cuda:{self.c_ctx.device_ordinal()}" if self.c_ctx.is_cuda() else "cpu"

    def __repr__(self):
        return f"Context({_str(self.c_ctx.describe())})"
