# SPDX-License-Identifier: Apache-2.0
"""The engine logs through logging.getLogger("dsstne"): a line when training starts and one per
epoch at INFO, silent unless the program asks for INFO; a broken handler never stops training."""

import logging

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne

CONFIG = {
    "Name": "logged", "Kind": "FeedForward",
    "Layers": [
        {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x", "Sparse": True},
        {"Name": "Hidden", "Kind": "Hidden", "N": 4, "Activation": "Sigmoid"},
        {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "x", "Activation": "Sigmoid"},
    ],
    "ErrorFunction": "CrossEntropy",
}


def network(device, seed=3):
    x = sp.random(24, 16, density=0.25, format="csr", random_state=seed, dtype=np.float32)
    return dsstne.Network(CONFIG, dsstne.DataSet("x", x, boolean=True), batch=8, device=device)


def test_each_epoch_is_logged_at_info(device, caplog):
    net = network(device)
    with caplog.at_level(logging.INFO, logger="dsstne"):
        history = net.train(2, alpha=0.1, optimizer="adam")
    records = [r for r in caplog.records if r.name == "dsstne"]
    assert [r.levelno for r in records] == [logging.INFO] * 3
    assert records[0].getMessage() == (f"network 'logged': training epochs 1 to 2 with Adam on 24 "
                                       f"examples, batch 8, {device}")
    for record, stats in zip(records[1:], history):
        message = record.getMessage()
        assert message.startswith(f"network 'logged' epoch {stats['epoch']}: error ")
        assert float(message.split("error ")[1].split(",")[0]) == pytest.approx(stats["error"],
                                                                                rel=1e-5)
        assert ", alpha 0.1, " in message


def test_validation_error_is_logged(device, caplog):
    net = network(device)
    held_out = dsstne.DataSet("x", sp.random(8, 16, density=0.25, format="csr", random_state=9),
                              boolean=True)
    with caplog.at_level(logging.INFO, logger="dsstne"):
        (stats,) = net.train(1, validation=held_out)
    assert f", validation {stats['validation_error']:.6g}" in caplog.records[-1].getMessage()


def test_info_is_silent_by_default(device, caplog):
    net = network(device)
    with caplog.at_level(logging.WARNING, logger="dsstne"):
        net.train(1)
    assert not [r for r in caplog.records if r.name == "dsstne"]


def test_a_failing_handler_does_not_stop_training(device):
    class Broken(logging.Handler):
        def emit(self, record):
            raise RuntimeError("handler down")

    logger = logging.getLogger("dsstne")
    handler, level, raise_exceptions = Broken(), logger.level, logging.raiseExceptions
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logging.raiseExceptions = False
    try:
        assert len(network(device).train(3)) == 3
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logging.raiseExceptions = raise_exceptions


def test_ctrl_c_during_a_log_call_still_stops_training(device):
    class CtrlC(logging.Handler):
        """Ctrl-C arriving while a log line is being handled."""
        def emit(self, record):
            if " epoch 1:" in record.getMessage():
                raise KeyboardInterrupt

    logger = logging.getLogger("dsstne")
    handler, level = CtrlC(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    net = network(device)
    try:
        with pytest.raises(KeyboardInterrupt, match="interrupted"):
            net.train(1000)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert 1 <= net.epochs_trained < 1000
