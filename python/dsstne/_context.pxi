# SPDX-License-Identifier: Apache-2.0
# Included by _core.pyx.

cdef class Context:
    """Where a network runs: device ("cpu", "cuda" or "cuda:N") and random seed.

    Parameters
    ----------
    device : str
        "cpu" (default), or "cuda[:N]" once the CUDA backend is built.
    seed : int
        Seed of every random draw (initial weights, shuffles, dropout, denoising).
    """
    cdef cpp.Context c_ctx

    def __init__(self, device="cpu", seed=12134):
        if int(seed) < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.c_ctx = cpp.Context.from_string(_bytes(device), <uint64_t>int(seed))

    @property
    def seed(self):
        return self.c_ctx.seed()

    @property
    def is_cuda(self):
        return self.c_ctx.is_cuda()

    def __repr__(self):
        return f"Context({_str(self.c_ctx.describe())})"
