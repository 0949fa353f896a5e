# SPDX-License-Identifier: Apache-2.0
"""DSSTNE's own convolutional configs (cifar10_convnet.json, the seed's AlexNet) build and train
with falling error on generated images of their shapes, and ``dsstne encoder`` runs DSSTNE's
cifar10_train.cdl / cifar10_predict.cdl on generated CIFAR-shaped NetCDF files."""

import json

import numpy as np
import pytest

import dsstne
from dsstne import cli


def labelled_images(count, shape, classes, seed):
    """Images whose class sets the brightness of one channel: learnable from a handful."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % classes
    x = rng.uniform(0.0, 0.3, (count,) + shape).astype(np.float32)
    x[:, 0] += (labels / classes)[:, None, None].astype(np.float32)
    y = np.zeros((count, classes), np.float32)
    y[np.arange(count), labels] = 1.0
    return x, y


def train_errors(config, shape, device, epochs, count=8, batch=4, alpha=0.01):
    x, y = labelled_images(count, shape, 10, seed=3)
    ctx = dsstne.Context(device, 11)
    data = [dsstne.DataSet("input", x, context=ctx), dsstne.DataSet("output", y, context=ctx)]
    net = dsstne.Network(config, data, batch=batch, context=ctx)
    errors = []
    net.train(epochs, alpha=alpha, optimizer="nesterov", mu=0.5,
              callback=lambda e: errors.append(e["error"]))
    return net, errors


def test_cifar10_convnet_trains(reference_dir, device):
    config = reference_dir / "configs" / "cifar10_convnet.json"
    net, errors = train_errors(str(config), (3, 32, 32), device, epochs=4)
    assert net.layer("C1").dims == (128, 32, 32)
    assert net.layer("P1").dims == (128, 15, 15)
    assert net.layer("P3").dims == (96, 3, 3)
    assert net.layer("Hidden10").batch_norm["scale"].size == 1024
    assert all(np.isfinite(errors)) and errors[-1] < errors[0], errors


def test_seed_alexnet_trains(reference_dir, device):
    config = reference_dir / "configs" / "seed_alexnet.json"
    net, errors = train_errors(str(config), (3, 224, 224), device, epochs=3, count=6, batch=3,
                               alpha=0.005)
    assert net.layer("Hidden1").dims == (96, 54, 54)   # (224 − 11)/4 + 1
    assert net.layer("Hidden2").dims == (96, 54, 54)   # LRN keeps the shape
    assert net.layer("Hidden3").dims == (96, 26, 26)
    assert net.layer("Hidden10").dims == (256, 5, 5)
    assert all(np.isfinite(errors)) and errors[-1] < errors[0], errors


def test_encoder_runs_dsstnes_cifar10_cdl_files(reference_dir, tmp_path, monkeypatch):
    pytest.importorskip("netCDF4")
    configs = reference_dir / "configs"
    x, y = labelled_images(8, (3, 32, 32), 10, seed=5)
    dsstne.write_netcdf(tmp_path / "cifar10_training.nc",
                        [dsstne.DataSet("input", x), dsstne.DataSet("output", y)])
    x, y = labelled_images(4, (3, 32, 32), 10, seed=6)
    dsstne.write_netcdf(tmp_path / "cifar10_test.nc",
                        [dsstne.DataSet("input", x), dsstne.DataSet("output", y)])
    (tmp_path / "config.json").write_text((configs / "cifar10_convnet.json").read_text())
    train = json.loads((configs / "cifar10_train.cdl").read_text())
    train["TrainingParameters"]["Epochs"] = 2  # DSSTNE's 60 epochs, shortened for a test
    (tmp_path / "cifar10_train.cdl").write_text(json.dumps(train))
    (tmp_path / "cifar10_predict.cdl").write_text((configs / "cifar10_predict.cdl").read_text())
    monkeypatch.chdir(tmp_path)
    assert cli.main(["encoder", "cifar10_train.cdl"]) == 0
    assert (tmp_path / "network.nc").is_file()
    assert cli.main(["encoder", "cifar10_predict.cdl"]) == 0
