# SPDX-License-Identifier: Apache-2.0
"""A small convolutional network on real images: scikit-learn's bundled handwritten digits
(1,797 images of 8×8 pixels, no download), trained on 80% and scored on the held-out 20%.

The network (python/dsstne/examples/digits_convnet.json, DSSTNE's JSON language) is
convolution → max pooling → convolution with batch normalization → a fully-connected layer with
dropout → softmax over the 10 digits. Run it with `python examples/digits.py [--device cuda]`
once dsstne and scikit-learn are installed.
"""

import argparse
import time

import numpy as np

import dsstne
from dsstne import examples


def load(seed):
    """(train images, train labels, test images, test labels): a seeded 80/20 split."""
    from sklearn.datasets import load_digits  # deferred: only this example needs scikit-learn

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)  # (n, 8, 8): y then x
    order = np.random.default_rng(seed).permutation(len(images))
    cut = len(images) * 4 // 5
    train, test = order[:cut], order[cut:]
    return images[train], digits.target[train], images[test], digits.target[test]


def one_hot(labels):
    out = np.zeros((len(labels), 10), np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def accuracy(device="cpu", epochs=20, seed=7, verbose=False):
    """Held-out accuracy of the digits convnet after `epochs` epochs."""
    train_x, train_y, test_x, test_y = load(seed)
    ctx = dsstne.Context(device, seed)
    data = [dsstne.DataSet("image", train_x, context=ctx),
            dsstne.DataSet("digit", one_hot(train_y), context=ctx)]
    net = dsstne.Network(examples.path("digits_convnet.json"), data, batch=32, context=ctx)
    report = (lambda e: print(f"epoch {e['epoch']:2d}  error {e['error']:.4f}")) if verbose \
        else None
    net.train(epochs, alpha=0.002, optimizer="adam", mu=0.9, mu1=0.999, callback=report)
    scores = net.predict(dsstne.DataSet("image", test_x, context=ctx))
    return float(np.mean(scores.argmax(axis=1) == test_y))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    start = time.perf_counter()
    acc = accuracy(args.device, args.epochs, verbose=True)
    print(f"held-out accuracy {100 * acc:.1f}% ({time.perf_counter() - start:.1f} s on "
          f"{args.device})")


if __name__ == "__main__":
    main()
