# SPDX-License-Identifier: Apache-2.0
"""Recommenders that turn a user's items into a ranked list of new items.

Every recommender has ``recommend(inputs, k, batch=None)``: for each row of the users × items
input matrix, the `k` best items that are not in the row (descending score, ties by ascending
item id, -1 where fewer than `k` items are left). Scores are computed a block of rows at a time,
so no users × items matrix of all users is held at once.

* :class:`Popularity` — items by how many training users have them.
* :class:`EASE` — Steck 2019's closed-form item-item model
  B = argmin ‖X − XB‖² + λ‖B‖² subject to diag(B) = 0, i.e. P = (XᵀX + λI)⁻¹,
  B = I − P·diag(1/diag(P)); scores = X_input·B.
* :class:`NetworkRecommender` — a trained :class:`dsstne.Network`, through its own top-k.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

from .metrics import binary, top_k

__all__ = ["Recommender", "Popularity", "EASE", "NetworkRecommender"]

_BLOCK_SCORES = 1 << 24    # scores per block of rows (128 MiB of float64)


def _physical_memory():
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


class Recommender:
    """Base class: subclasses fit on training rows and score blocks of input rows."""

    name = "recommender"
    n_items = None

    def scores(self, inputs):
        """Dense scores (rows, n_items) for a CSR block of input rows."""
        raise NotImplementedError

    def _fitted(self):
        if self.n_items is None:
            raise ValueError(f"{self.name} is not fitted; call fit(train) first")

    def recommend(self, inputs, k, batch=None):
        """(users, k) int64 item ids: the best `k` items outside each input row."""
        self._fitted()
        inputs = binary(inputs, "inputs")
        if inputs.shape[1] != self.n_items:
            raise ValueError(f"{self.name}: the inputs have {inputs.shape[1]} items, the model "
                             f"was fitted on {self.n_items}")
        rows = inputs.shape[0]
        batch = int(batch) if batch else max(1, _BLOCK_SCORES // max(self.n_items, 1))
        out = np.empty((rows, int(k)), dtype=np.int64)
        for start in range(0, rows, batch):
            block = inputs[start:start + batch]
            out[start:start + batch] = top_k(self.scores(block), block, k, first_row=start)
        return out


class Popularity(Recommender):
    """Every user gets the items most training users have (ties: lower item id first)."""

    name = "popularity"

    def fit(self, train):
        train = binary(train, "train")
        self.counts = np.diff(train.tocsc().indptr).astype(np.float64)
        self.n_items = train.shape[1]
        return self

    def scores(self, inputs):
        return np.broadcast_to(self.counts, (inputs.shape[0], self.n_items))


class EASE(Recommender):
    """Steck 2019's EASE with L2 regularisation `l2` (λ).

    The fit solves in whichever space is smaller, in float64: with at least as many training
    users as items, the item × item Gram matrix XᵀX + λI is inverted and B kept (n² values); with
    fewer users than items (1,000 users × 10,000 items, say), the Woodbury identity
    P = (I − Xᵀ(λI + XXᵀ)⁻¹X)/λ needs only a users × users inverse and a users × items matrix,
    and B is never formed. Both give the same scores to rounding. The dense side
    (min(users, items)) may be at most `max_dense` (50,000: a 20 GB float64 matrix), and the
    matrices must fit in the machine's memory; otherwise fit raises MemoryError with the sizes.
    """

    def __init__(self, l2=500.0, *, max_dense=50_000):
        l2 = float(l2)
        if not np.isfinite(l2) or l2 <= 0:
            raise ValueError(f"EASE's l2 (lambda) must be a finite number > 0, got {l2}")
        self.l2 = l2
        self.max_dense = int(max_dense)
        self.name = f"EASE(λ={l2:g})"

    def fit(self, train):
        x = binary(train, "train").astype(np.float64)
        users, items = x.shape
        self._check_size(users, items)
        self.n_items = items
        if items <= users:
            self._x = None
            gram = (x.T @ x).toarray()
            gram[np.diag_indices(items)] += self.l2
            p = np.linalg.inv(gram)
            del gram
            d = np.diag(p).copy()
            p /= -d                      # column j divided by P_jj: B = I − P·diag(1/diag(P))
            p[np.diag_indices(items)] = 0.0
            self._b = p
        else:
            self._b = None
            kernel = (x @ x.T).toarray()
            kernel[np.diag_indices(users)] += self.l2
            m = np.linalg.inv(kernel)
            self._x = x.tocsr()
            self._w = np.ascontiguousarray((x.T @ m).T)          # M·X, users × items
            self._diag_p = (1.0 - np.asarray(x.multiply(self._w).sum(axis=0)).ravel()) / self.l2
        return self

    def _check_size(self, users, items):
        side = min(users, items)
        needed = 8 * (3 * side * side + (users * items if items > users else 0))
        memory = _physical_memory()
        if side > self.max_dense or (memory and needed > memory):
            room = f"; this machine has {memory / 2**30:.1f} GiB" if memory else ""
            raise MemoryError(
                f"EASE on {users} training users × {items} items inverts a dense {side} × {side} "
                f"float64 matrix and needs about {needed / 2**30:.1f} GiB (limits: "
                f"{self.max_dense} for the smaller side{room})")

    def _xp(self, inputs):
        """inputs · P as a dense array, in the user-space form."""
        x = self._x
        dense = inputs.toarray()
        return (dense - (inputs @ x.T).toarray() @ self._w) / self.l2, dense

    def scores(self, inputs):
        self._fitted()
        inputs = sp.csr_matrix(inputs, dtype=np.float64)
        if self._b is not None:
            return np.asarray(inputs @ self._b)
        xp, dense = self._xp(inputs)
        return dense - xp / self._diag_p

    def item_weights(self):
        """The dense item × item matrix B (formed from P in the user-space form: n² values)."""
        self._fitted()
        if self._b is not None:
            return self._b.copy()
        p, _ = self._xp(sp.identity(self.n_items, format="csr"))
        b = -p / self._diag_p
        b[np.diag_indices(self.n_items)] = 0.0
        return b


class NetworkRecommender(Recommender):
    """A trained network's top-k for each input row, computed by ``Network.predict_topk``.

    The input rows are bound to the network's single input layer under its ``DataSet`` name
    (columns beyond the data's items, e.g. DSSTNE's padding to a multiple of 128, stay empty);
    the input items and any unit of `layer` beyond the data's items are excluded. Scores tie as
    in predict_topk: ascending unit. A NaN score among the returned items is an error.
    """

    def __init__(self, net, layer=None, *, name="model"):
        inputs = net.input_layers
        if len(inputs) != 1:
            raise ValueError(f"network '{net.name}' has {len(inputs)} input layers; evaluation "
                             "needs exactly one")
        if layer is None:
            outputs = net.output_layers
            if len(outputs) != 1:
                raise ValueError(f"network '{net.name}' has {len(outputs)} output layers; name "
                                 "the layer to recommend from")
            layer = outputs[0]
        if layer not in [l.name for l in net.layers]:
            raise ValueError(f"network '{net.name}' has no layer '{layer}'")
        self.net = net
        self.layer = layer
        self.name = name
        self.input_layer = net.layer(inputs[0])
        self.units = net.layer(layer).size

    def fit(self, train):
        """Nothing to learn (the network is trained); records the item count."""
        self.n_items = binary(train, "train").shape[1]
        return self

    def recommend(self, inputs, k, batch=None):
        from .. import DataSet

        inputs = binary(inputs, "inputs")
        rows, items = inputs.shape
        width = self.input_layer.size
        for what, size in (("input layer '" + self.input_layer.name + "'", width),
                           (f"layer '{self.layer}'", self.units)):
            if items > size:
                raise ValueError(f"the data have {items} items but {what} of network "
                                 f"'{self.net.name}' has {size} units")
        k = int(k)
        x = sp.csr_matrix((inputs.data, inputs.indices, inputs.indptr), shape=(rows, width))
        padding = np.arange(items, self.units)
        out = np.empty((rows, k), dtype=np.int64)
        batch = int(batch) if batch else max(self.net.batch, 1 << 16)
        for start in range(0, rows, batch):
            block = x[start:start + batch]
            n = block.shape[0]
            data = DataSet(self.input_layer.data_set, block, boolean=True,
                           context=self.net.context)
            scores, units = self.net.predict_topk(k, data, layer=self.layer,
                                                  exclude=self._exclusions(block, padding))
            found = units >= 0  # predict_topk's empty slots are -1
            bad = np.flatnonzero((np.isnan(scores) & found).any(axis=1))
            if bad.size:
                raise ValueError(f"network '{self.net.name}' scores a recommended item of row "
                                 f"{start + int(bad[0])} as NaN")
            out[start:start + n] = units
        return out

    def _exclusions(self, block, padding):
        """The block's own items plus the padding units, one CSR row per input row."""
        n = block.shape[0]
        own = sp.csr_matrix((block.data, block.indices, block.indptr), shape=(n, self.units))
        pad = sp.csr_matrix((np.ones(n * padding.size, dtype=np.float32), np.tile(padding, n),
                             np.arange(n + 1, dtype=np.int64) * padding.size),
                            shape=(n, self.units))
        return own + pad
