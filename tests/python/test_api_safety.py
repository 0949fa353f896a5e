# SPDX-License-Identifier: Apache-2.0
"""The Python classes cannot be made to crash: objects made without __init__, calls from
several threads, setters that fail, arguments that are not what they claim, configs that are
endless or nest without end."""

import threading

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne


def items(rows=40, cols=12, seed=0):
    m = sp.random(rows, cols, density=0.3, format="csr", random_state=seed, dtype=np.float32)
    m.data[:] = 1
    return m


CONFIG = {"Kind": "FeedForward", "ErrorFunction": "CrossEntropy", "Layers": [
    {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "items", "Sparse": True},
    {"Name": "Hidden", "Kind": "Hidden", "N": 6, "Activation": "Sigmoid"},
    {"Name": "Output", "Kind": "Output", "N": "auto", "DataSet": "items",
     "Activation": "Sigmoid"}]}


@pytest.fixture
def net():
    return dsstne.Network(CONFIG, dsstne.DataSet("items", items()), batch=8)


def poke(obj):
    """Reads every public attribute and calls every public method without arguments; what fails
    must fail with an exception, never a crash."""
    for name in dir(obj):
        if name.startswith("_"):
            continue
        try:
            value = getattr(obj, name)
            if callable(value):
                value()
        except Exception:
            pass


# ---- objects made without __init__ ---------------------------------------------------------

class SkipsInit(dsstne.Network):
    def __init__(self):  # forgets super().__init__
        pass


@pytest.mark.parametrize("make", [
    lambda: dsstne.Network.__new__(dsstne.Network),
    SkipsInit,
    lambda: dsstne.DataSet.__new__(dsstne.DataSet),
    lambda: dsstne.Layer.__new__(dsstne.Layer),
    lambda: dsstne.Weight.__new__(dsstne.Weight),
    lambda: dsstne.Context.__new__(dsstne.Context),
])
def test_objects_without_init_raise_instead_of_crashing(make):
    obj = make()
    poke(obj)
    repr(obj)
    if not isinstance(obj, dsstne.Context):
        attribute = "name" if not isinstance(obj, dsstne.Weight) else "input"
        with pytest.raises(RuntimeError, match="never initialised|belongs to no network"):
            getattr(obj, attribute)


def test_uninitialised_objects_cannot_be_used_as_arguments():
    with pytest.raises(RuntimeError, match="never initialised"):
        dsstne.Network(CONFIG, dsstne.DataSet.__new__(dsstne.DataSet))
    with pytest.raises(RuntimeError, match="never initialised"):
        dsstne.save_network(dsstne.Network.__new__(dsstne.Network), "never.nc")


def test_views_cannot_be_made_directly_and_init_runs_once(net):
    with pytest.raises(TypeError, match="Network.layers"):
        dsstne.Layer()
    with pytest.raises(TypeError, match="Network.weights"):
        dsstne.Weight()
    with pytest.raises(RuntimeError, match="already initialised"):
        net.__init__(CONFIG, dsstne.DataSet("items", items()))
    poke(net)
    for layer in net.layers:
        poke(layer)
    for weight in net.weights:
        poke(weight)


# ---- threads --------------------------------------------------------------------------------

def test_threads_sharing_one_network_are_serialised(net):
    errors = []

    def work(i):
        try:
            for _ in range(3):
                if i % 2:
                    net.train(1, alpha=0.01)
                else:
                    scores, _ = net.predict_topk(3)
                    assert scores.shape == (40, 3)
                    assert net.predict().shape == (40, 12)
                    net.weight("Input", "Hidden").weights
        except Exception as e:  # reported below: a failure in a thread must fail the test
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert net.epochs_trained == 9


def test_separate_networks_train_in_parallel_like_alone():
    def fresh():
        return dsstne.Network(CONFIG, dsstne.DataSet("items", items(seed=5)), batch=8)
    alone = fresh()
    alone.train(2, alpha=0.05)
    nets = [fresh() for _ in range(3)]
    threads = [threading.Thread(target=n.train, args=(2,), kwargs={"alpha": 0.05}) for n in nets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in nets:
        np.testing.assert_array_equal(n.weight("Input", "Hidden").weights,
                                      alone.weight("Input", "Hidden").weights)


def test_a_train_callback_may_use_its_network(net, tmp_path):
    seen = []

    def callback(stats):
        seen.append(net.predict_topk(2)[1].shape)
        dsstne.save_network(net, tmp_path / f"epoch{stats['epoch']}.nc", overwrite=True)

    net.train(2, alpha=0.05, callback=callback)
    assert seen == [(40, 2), (40, 2)]
    assert (tmp_path / "epoch2.nc").exists()


# ---- setters are all or nothing ---------------------------------------------------------------

def test_a_batch_that_cannot_be_allocated_leaves_the_network_as_it_was(net):
    before = net.predict()
    with pytest.raises(MemoryError, match="batch 1099511627776.*layer 'Hidden'|"
                                          "batch 1099511627776"):
        net.batch = 2**40
    assert net.batch == 8
    np.testing.assert_array_equal(net.predict(), before)
    net.train(1, alpha=0.01)


def test_optimizer_state_is_checked_whole_before_any_change(net):
    net.train(1, optimizer="adam", alpha=0.01, mu=0.9)
    w = net.weight("Input", "Hidden")
    state = w.optimizer_state
    good = np.full_like(state["velocity"], 0.5)
    bad = state["velocity2"][:-1]
    with pytest.raises(ValueError, match="'velocity2' holds .* got"):
        w.optimizer_state = {"velocity": good, "velocity2": bad}
    np.testing.assert_array_equal(w.optimizer_state["velocity"], state["velocity"])
    nan = state["velocity2"].copy()
    nan[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        w.optimizer_state = {"velocity": good, "velocity2": nan}
    with pytest.raises(ValueError, match="unknown optimizer state"):
        w.optimizer_state = {"momentum": good}
    np.testing.assert_array_equal(w.optimizer_state["velocity"], state["velocity"])


def test_weights_and_bias_refuse_non_finite_values(net):
    w = net.weight("Input", "Hidden")
    before = w.weights
    bad = before.copy()
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match="Input->Hidden: NaN or infinite value at index 8"):
        w.weights = bad
    np.testing.assert_array_equal(w.weights, before)
    with pytest.raises(ValueError, match="bias Input->Hidden: NaN"):
        w.bias = np.full(6, np.nan, np.float32)
    for value in (-1.0, np.inf, np.nan, 1e39):
        with pytest.raises(ValueError, match="norm"):
            w.norm = value
    with pytest.raises(TypeError, match="locked"):
        w.locked = "yes"
    assert w.norm == 0 and not w.locked


def test_data_set_name_must_be_text():
    ds = dsstne.DataSet("items", items())
    for bad in ("", "a\0b"):
        with pytest.raises(ValueError, match="data set name"):
            ds.name = bad
    assert ds.name == "items"


# ---- numbers are what they claim ----------------------------------------------------------------

@pytest.mark.parametrize("call, what", [
    (lambda n: n.train(1.9), "epochs"),
    (lambda n: n.predict_topk(2.9), "k"),
    (lambda n: setattr(n, "batch", 2.7), "batch"),
    (lambda n: n.train(1, alpha_interval=0.5), "alpha_interval"),
    (lambda n: n.forward_batch(1.5), "position"),
])
def test_fractions_are_refused_naming_the_argument(net, call, what):
    with pytest.raises(ValueError, match=f"{what} must be a whole number, got"):
        call(net)
    assert net.epochs_trained == 0 and net.batch == 8


def test_whole_floats_are_whole_numbers_and_bools_are_not(net):
    net.train(1.0, alpha=0.01)
    assert net.predict_topk(np.float32(2.0))[0].shape == (40, 2)
    with pytest.raises(TypeError, match="batch must be a whole number"):
        net.batch = True
    with pytest.raises(TypeError, match="epochs"):
        net.train("2")
    with pytest.raises(ValueError, match="batch"):
        dsstne.Network(CONFIG, dsstne.DataSet("items", items()), batch=2.5)
    with pytest.raises(ValueError, match="seed"):
        dsstne.Context("cpu", seed=1.5)


@pytest.mark.parametrize("kwargs, message", [
    ({"alpha": float("nan")}, "alpha"),
    ({"alpha": 1e39}, "alpha"),
    ({"lambda_": float("nan")}, "lambda"),
    ({"lambda1": -1.0}, "lambda1"),
    ({"optimizer": "adam", "mu": 1.0}, "mu must be in \\[0, 1\\) for Adam"),
    ({"optimizer": "adam", "mu1": 1.0}, "mu1"),
    ({"optimizer": "rmsprop", "mu": -0.1}, "mu must be in"),
    ({"optimizer": "momentum", "mu": float("inf")}, "mu and mu1 must be finite"),
    ({"alpha_multiplier": 0.0}, "alpha multiplier"),
    ({"alpha": "fast"}, "alpha must be a number"),
])
def test_training_arguments_are_checked_before_training(net, kwargs, message):
    before = net.weight("Input", "Hidden").weights
    with pytest.raises((ValueError, TypeError), match=message):
        net.train(1, **kwargs)
    np.testing.assert_array_equal(net.weight("Input", "Hidden").weights, before)
    assert net.epochs_trained == 0


# ---- configs that never end --------------------------------------------------------------------

def test_deeply_nested_configs_are_refused(tmp_path):
    deep = "[" * 100000 + "]" * 100000
    text = '{"Layers": [{"Kind": "Input", "N": %s}]}' % deep
    with pytest.raises(ValueError, match="nests deeper than 32 levels"):
        dsstne.Network(text)
    path = tmp_path / "deep.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="deep.json.*nests deeper"):
        dsstne.Network(path)
    nested = cfg = {}
    for _ in range(100000):
        cfg["x"] = {}
        cfg = cfg["x"]
    with pytest.raises(ValueError, match="nests too deeply"):
        dsstne.Network(nested)


def test_endless_and_binary_config_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match="/dev/zero.*larger than 16 MiB"):
        dsstne.Network("/dev/zero")
    blob = tmp_path / "model.nc"
    blob.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(ValueError, match="model.nc.*NetCDF file, not a JSON"):
        dsstne.Network(blob)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"Name": "caf\xe9"}')
    with pytest.raises(ValueError, match="latin.json") as info:
        dsstne.Network(latin)
    str(info.value).encode("utf-8")  # the message is text, whatever bytes the file held
