# SPDX-License-Identifier: Apache-2.0
"""Numerical gradient check of a whole network: the engine's back-propagated gradients against
central finite differences of the batch error (what DSSTNE's ``Validate`` did, and what
``dsstne encoder`` runs for ``"Command": "Validate"``).

One batch (by default the first) runs forward in validation mode — the training arithmetic
without dropout or denoising, so every pass of the check computes the same function — and is
back-propagated once. For every connection a seeded random sample of its matrix entries (owner
matrices only: a shared connection's matrix is its owner's) and of its biases is perturbed by
±h, h = 5e-3·max(1, |w|), and the central difference (E(w+h) − E(w−h)) / 2h of the batch error E
(summed over the batch) is compared with the analytic ∂E/∂w. The step is a float32 compromise:
the change of E must stand well above E's rounding, and the O(h²) curvature term must not
matter.

An entry's error is |numeric − analytic| / max(|numeric|, |analytic|, floor), where the floor is
the larger of 1% of the connection's largest analytic gradient and E's float32 rounding noise
(:data:`NOISE`·eps·|E|/√(output values), divided by the step and the tolerance): relative for
the entries that matter, absolute for those that are tiny beside their neighbours or below what
float32 can resolve. The check passes when every compared entry is within :data:`TOLERANCE`
(1e-2 — DSSTNE's check allowed an absolute 0.02 on batches of 2 to 4).

Kinks (ReLU at 0, RELUMax/LinearMax clips, L1 at a = t, hinges, SMCE margins) have no
derivative, and a step that crosses one says nothing about the gradient. An entry is skipped,
not compared, when a perturbation moves a unit of a kinked activation to another piece, or when
probes at h and h/4 disagree (the central differences differ, or the gap between the one-sided
slopes does not shrink with the step as it does where E is smooth) by more than a quarter of
the tolerance. A wrong analytic gradient leaves the finite differences smooth and consistent, so
it is never skipped.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["check_gradients", "analytic_gradients", "GradientCheck", "ConnectionCheck",
           "Entry", "TOLERANCE", "STEP", "WEIGHT_SAMPLES", "BIAS_SAMPLES"]

TOLERANCE = 1e-2      # largest accepted relative error (float32 engine)
STEP = 5e-3           # finite-difference step, relative to max(1, |w|)
WEIGHT_SAMPLES = 24   # matrix entries checked per connection (all when fewer)
BIAS_SAMPLES = 8      # biases checked per connection
FLOOR = 1e-2          # fraction of a connection's largest gradient below which errors are absolute
NOISE = 4.0           # E's float32 rounding, in units of eps·|E|/√(output values of the batch)
KINK = 0.25           # the kink tests' bound, as a fraction of the tolerance
MODE = "validation"   # training arithmetic, no dropout or denoising
# Batch normalization differentiates through the batch's own statistics, which only training
# mode uses; a network with it is checked in training mode (its dropout masks and denoising are
# fixed within a step, so every pass still computes the same function).
BATCH_NORM_MODE = "training"
_EPS32 = float(np.finfo(np.float32).eps)

# Activations with kinks, and the pieces of each, told apart from the activation value a.
_PIECES = {
    "RectifiedLinear": lambda a: a > 0,
    "LeakyRectifiedLinear": lambda a: a > 0,
    "ExponentialLinear": lambda a: a > 0,
    "ScaledExponentialLinear": lambda a: a > 0,
    "RELUMax": lambda a: (a > 0).astype(np.int8) + 2 * (a < 1),
    "LinearMax": lambda a: (a > -1).astype(np.int8) + 2 * (a < 1),
}


@dataclasses.dataclass(frozen=True)
class Entry:
    """One checked parameter."""

    connection: str        # "Input -> Hidden"
    kind: str              # "weight" or "bias"
    index: tuple[int, ...]
    analytic: float
    numeric: float
    error: float

    def __str__(self):
        where = ", ".join(str(i) for i in self.index)
        return (f"{self.kind} {self.connection} [{where}]: analytic {self.analytic:.6g}, "
                f"finite difference {self.numeric:.6g}, relative error {self.error:.3g}")


@dataclasses.dataclass(frozen=True)
class ConnectionCheck:
    """The entries checked in one connection's matrix and biases."""

    connection: str
    weights: int           # matrix entries compared
    biases: int            # biases compared
    skipped: int           # entries at a kink or below float32 resolution
    worst: Entry | None    # the largest error compared (None when nothing was)

    @property
    def max_error(self):
        return self.worst.error if self.worst is not None else 0.0

    def __str__(self):
        skipped = f", {self.skipped} skipped: kink or rounding" if self.skipped else ""
        return (f"{self.connection}: max relative error {self.max_error:.3g} "
                f"({self.weights} weights, {self.biases} biases checked{skipped})")


@dataclasses.dataclass(frozen=True)
class GradientCheck:
    """The outcome: one :class:`ConnectionCheck` per connection."""

    connections: tuple[ConnectionCheck, ...]
    tolerance: float
    batch_rows: int

    @property
    def checked(self):
        return sum(c.weights + c.biases for c in self.connections)

    @property
    def worst(self):
        found = [c.worst for c in self.connections if c.worst is not None]
        return max(found, key=lambda e: e.error) if found else None

    @property
    def passed(self):
        return self.checked > 0 and (self.worst is None or self.worst.error <= self.tolerance)


def _mode(net):
    return BATCH_NORM_MODE if any(layer.batch_norm is not None for layer in net.layers) else MODE


def _bias_gradient(net, w):
    """∂E/∂b summed over the batch: per unit, or per output map for a convolution."""
    deltas = net.layer(w.output).deltas.astype(np.float64)
    if w.convolutional:
        return deltas.reshape(deltas.shape[0], w.bias.size, -1).sum(axis=(0, 2))
    return deltas.sum(axis=0)


def analytic_gradients(net, position=0):
    """[(connection label, Weight, "weights" or "bias", ∂E/∂param as float64)] after one forward
    and backward pass of the batch at `position`; E is the error summed over the batch. Shared
    connections contribute only their biases (their matrix is the owner's)."""
    net.forward_batch(position, _mode(net))
    net.backward_batch()
    groups = []
    for w in net.weights:
        label = f"{w.input} -> {w.output}"
        rows = net.layer(w.output).batch_rows
        if not w.shared:
            # The engine stores −(1/(sharing·rows))·∂E/∂W (docs/design.md, "Gradients as the
            # engine stores them"); undo the scaling.
            groups.append((label, w, "weights",
                           -w.gradient.astype(np.float64) * w.sharing_count * rows))
        groups.append((label, w, "bias", _bias_gradient(net, w)))
    return groups


class _Probe:
    """Evaluates the batch error with one parameter moved, and notes whether the move sent a
    unit of a kinked activation to another piece."""

    def __init__(self, net, position):
        self.net, self.position, self.mode = net, position, _mode(net)
        self.kinked = [layer.name for layer in net.layers
                       if layer.kind != "Input" and layer.activation in _PIECES]
        net.forward_batch(position, self.mode)
        self.base_error = net.batch_error()
        self.base_pieces = self._pieces()

    def _pieces(self):
        return [_PIECES[self.net.layer(n).activation](self.net.layer(n).units)
                for n in self.kinked]

    def differences(self, w, attr, base, flat, step):
        """(h₊, h₋, E(w+h₊), E(w−h₋), crossed) for entry `flat` of `attr`, with
        h = step·max(1, |w|) as the float32 steps actually taken; restores `base`."""
        moved = base.copy()
        value = float(base.flat[flat])
        out, crossed = [], False
        for sign in (1.0, -1.0):
            moved.flat[flat] = np.float32(value + sign * step * max(1.0, abs(value)))
            setattr(w, attr, moved)
            self.net.forward_batch(self.position, self.mode)
            out.append((abs(float(moved.flat[flat]) - value), self.net.batch_error()))
            crossed = crossed or any(not np.array_equal(now, then)
                                     for now, then in zip(self._pieces(), self.base_pieces))
        setattr(w, attr, base)
        (h_plus, e_plus), (h_minus, e_minus) = out
        return h_plus, h_minus, e_plus, e_minus, crossed

    def slopes(self, probe):
        """(central difference, forward minus backward difference) of one probe."""
        h_plus, h_minus, e_plus, e_minus, _ = probe
        central = (e_plus - e_minus) / (h_plus + h_minus)
        return central, (e_plus - self.base_error) / h_plus - (self.base_error - e_minus) / h_minus


def _near_kink(far, near, far_gap, near_gap, bound):
    """Whether E has a kink within ±h, judged from the probes at h and h/4.

    Where E is smooth the central differences at h and h/4 agree to O(h²) and the gap between
    the one-sided slopes shrinks with the step (h·E″ → h/4·E″). A kink off the centre moves one
    central difference more than the other; a kink at the centre keeps the gap from shrinking."""
    return abs(far - near) > bound or abs(near_gap - far_gap / 4) > bound


def check_gradients(net, *, position=0, weight_samples=WEIGHT_SAMPLES, bias_samples=BIAS_SAMPLES,
                    step=STEP, tolerance=TOLERANCE, seed=0, gradients=analytic_gradients):
    """Checks a seeded sample of `net`'s gradients on the batch at `position`; returns a
    :class:`GradientCheck`. `gradients(net, position)` gives the analytic gradients (see
    :func:`analytic_gradients`; a test can pass a tampered one). The parameters are restored
    exactly afterwards."""
    rng = np.random.default_rng(seed)
    # Training-mode passes move the running statistics; they are put back at the end.
    saved_norms = {layer.name: layer.batch_norm for layer in net.layers
                   if layer.batch_norm is not None}
    groups = gradients(net, position)
    probe = _Probe(net, position)
    if not np.isfinite(probe.base_error):
        raise ValueError(f"the error of the batch at {position} is {probe.base_error}; a "
                         "gradient check needs a finite error")
    rows = max((net.layer(w.output).batch_rows for w in net.weights), default=0)
    outputs = rows * sum(net.layer(name).size for name in net.output_layers)
    # E's rounding errors, new at every perturbation, add up like a random walk over the
    # output values; differences of E below that say nothing.
    noise = NOISE * _EPS32 * abs(probe.base_error) / np.sqrt(max(outputs, 1))
    results = {}
    for label, w, attr, grad in groups:
        base = np.array(getattr(w, attr), dtype=np.float32)
        count = min(weight_samples if attr == "weights" else bias_samples, base.size)
        picks = np.sort(rng.choice(base.size, size=count, replace=False)) if count else []
        largest = FLOOR * float(np.max(np.abs(grad), initial=0.0))
        checked, skipped, worst = 0, 0, None
        for flat in (int(f) for f in picks):
            far = probe.differences(w, attr, base, flat, step)
            near = probe.differences(w, attr, base, flat, step / 4)
            floor = max(largest, noise / (near[0] + near[1]) / tolerance, 1e-12)
            numeric, far_gap = probe.slopes(far)
            near_numeric, near_gap = probe.slopes(near)
            scale = max(abs(numeric), abs(near_numeric), floor)
            finite = np.all(np.isfinite([numeric, near_numeric, far_gap, near_gap]))
            if not finite or far[4] or near[4] or _near_kink(
                    numeric, near_numeric, far_gap, near_gap, KINK * tolerance * scale):
                skipped += 1
                continue
            analytic = float(grad.flat[flat])
            error = abs(numeric - analytic) / max(abs(numeric), abs(analytic), floor) \
                if np.isfinite(analytic) else np.inf
            checked += 1
            if worst is None or error > worst.error:
                index = tuple(int(i) for i in np.unravel_index(flat, base.shape))
                worst = Entry(label, "weight" if attr == "weights" else "bias", index, analytic,
                              numeric, error)
        results.setdefault(label, []).append((attr, checked, skipped, worst))
    for name, values in saved_norms.items():
        net.layer(name).batch_norm = values
    net.forward_batch(position, MODE)  # leave the layers as the unperturbed batch
    return GradientCheck(tuple(_merge(label, parts) for label, parts in results.items()),
                         tolerance, rows)


def _merge(label, parts):
    counts = {attr: checked for attr, checked, _, _ in parts}
    found = [worst for *_, worst in parts if worst is not None]
    return ConnectionCheck(label, counts.get("weights", 0), counts.get("bias", 0),
                           sum(s for _, _, s, _ in parts),
                           max(found, key=lambda e: e.error) if found else None)
