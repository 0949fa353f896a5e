# SPDX-License-Identifier: Apache-2.0
"""What the benchmarks' PyTorch peers share: the batches of a CSR matrix as PyTorch feeds them
(EmbeddingBag indices and offsets, and the dense 0/1 target of the autoencoder), and the timing
of whole epochs of a training step."""

from __future__ import annotations

import time


def csr_tensors(matrix, device):
    """The CSR matrix's row offsets and column indices as int64 tensors on `device`."""
    import torch
    return (torch.tensor(matrix.indptr, dtype=torch.int64, device=device),
            torch.tensor(matrix.indices, dtype=torch.int64, device=device))


def batches(crow, cols, items: int, batch: int):
    """Yields (indices, offsets, target) for each batch of rows: the rows' stored columns, where
    each row starts among them, and the rows as a dense batch × items target of ones."""
    import torch
    users, dev = crow.shape[0] - 1, crow.device
    for pos in range(0, users, batch):
        end = min(pos + batch, users)
        lo = crow[pos]
        idx = cols[lo:crow[end]]
        offsets = crow[pos:end] - lo
        target = torch.zeros(end - pos, items, device=dev)
        rows = torch.repeat_interleave(torch.arange(end - pos, device=dev),
                                       crow[pos + 1:end + 1] - crow[pos:end])
        target[rows, idx] = 1.0
        yield idx, offsets, target


def bce_step(model, opt, compile_model: bool):
    """step(indices, offsets, target) of a peer whose model returns logits: summed binary
    cross-entropy, backward, the optimizer's step; through torch.compile when asked."""
    import torch
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="sum")

    def step(idx, offsets, target):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(idx, offsets), target)
        loss.backward()
        opt.step()
        return loss
    return torch.compile(step) if compile_model else step


def epoch_seconds(step, crow, cols, items: int, batch: int, epochs: int) -> list[float]:
    """Wall seconds of each of `epochs` passes of step(indices, offsets, target) over the data,
    the device drained before and after each."""
    import torch
    cuda = crow.is_cuda
    times = []
    for _ in range(epochs):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for idx, offsets, target in batches(crow, cols, items, batch):
            step(idx, offsets, target)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def best_epoch(one_batch, batches: int, repeats: int, cuda: bool, warmups: int = 1) -> float:
    """The fastest of `repeats` passes of `batches` calls of one_batch() (a floor's products),
    after `warmups` calls; the device drained around each pass."""
    import torch
    for _ in range(warmups):
        one_batch()
    best = float("inf")
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(batches):
            one_batch()
        if cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def copy_bandwidth(gib: float = 1.0, repeats: int = 10) -> float:
    """The GPU's memory bandwidth in bytes/s as a device-to-device copy of `gib` GiB achieves it
    (read + write counted), best of `repeats`: the rate the bandwidth-bound steps are held to."""
    import torch
    n = int(gib * 2**30) // 4
    src = torch.empty(n, device="cuda")
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        dst.copy_(src)
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    del src, dst
    torch.cuda.empty_cache()
    return 2 * n * 4 / best
