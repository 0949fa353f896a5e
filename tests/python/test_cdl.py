# SPDX-License-Identifier: Apache-2.0
"""CDL files (spec/formats.md §5): DSSTNE's keys and defaults, our documented extensions, and
errors that name the file and the key."""

import dataclasses
import json
import os

import pytest

from dsstne.cdl import COMMANDS, DEFAULT_SEED, OPTIMIZERS, Cdl, load_cdl, parse_cdl

MINIMAL = {"Network": "net.json", "Command": "Train", "Data": "data.nc",
           "TrainingParameters": {"Epochs": 3}}


def with_training(**params):
    return {**MINIMAL, "TrainingParameters": {"Epochs": 3, **params}}


def error_of(obj, source="f.cdl"):
    with pytest.raises(ValueError) as e:
        parse_cdl(obj, source)
    return str(e.value)


# ---- DSSTNE's reference files ----------------------------------------------------------------
def test_reference_train_cdl(reference_dir):
    folder = reference_dir / "configs"
    cdl = load_cdl(folder / "cifar10_train.cdl")
    assert cdl == Cdl(
        network=str(folder / "config.json"), command="train",
        data=(str(folder / "cifar10_training.nc"),), seed=12345, epochs=60, alpha=0.025,
        alpha_interval=20, alpha_multiplier=0.8, mu=0.5, lambda_=0.0001, checkpoint_interval=0,
        checkpoint_name=str(folder / "check"), optimizer="nesterov",
        results=str(folder / "network.nc"), batch=1024, shuffle=None, version=0.2,
        source=str(folder / "cifar10_train.cdl"), warnings=())


def test_reference_predict_cdl(reference_dir):
    folder = reference_dir / "configs"
    cdl = load_cdl(str(folder / "cifar10_predict.cdl"))
    assert cdl == Cdl(
        network=str(folder / "network.nc"), command="predict",
        data=(str(folder / "cifar10_test.nc"),), seed=12345, epochs=None, alpha=0.1,
        alpha_interval=0, alpha_multiplier=1.0, mu=0.9, lambda_=0.001, checkpoint_interval=0,
        checkpoint_name=str(folder / "check"), optimizer="sgd",
        results=str(folder / "network.nc"), batch=1024, shuffle=None, version=0.2,
        source=str(folder / "cifar10_predict.cdl"), warnings=())


# ---- defaults and rules ----------------------------------------------------------------------
def test_defaults_are_dsstnes():
    cdl = parse_cdl(MINIMAL)
    assert (cdl.network, cdl.command, cdl.data, cdl.epochs) == ("net.json", "train",
                                                                ("data.nc",), 3)
    assert cdl.seed == DEFAULT_SEED == 12345
    assert (cdl.alpha, cdl.alpha_interval, cdl.alpha_multiplier) == (0.1, 0, 1.0)
    assert (cdl.mu, cdl.lambda_, cdl.optimizer) == (0.9, 0.001, "sgd")
    assert (cdl.checkpoint_interval, cdl.checkpoint_name) == (0, "check")
    assert (cdl.results, cdl.batch, cdl.shuffle, cdl.version) == ("network.nc", 1024, None,
                                                                  None)
    assert cdl.source == "<string>" and cdl.warnings == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cdl.epochs = 4


def test_json_text_and_bytes_parse_like_a_dict():
    assert parse_cdl(json.dumps(MINIMAL)) == parse_cdl(MINIMAL)
    assert parse_cdl(json.dumps(MINIMAL).encode()) == parse_cdl(MINIMAL)


def test_keys_and_words_are_case_insensitive():
    cdl = parse_cdl({"nEtWoRk": "n.json", "COMMAND": "vAlIdAtE", "data": "d.nc",
                     "randomseed": 7, "VERSION": 1,
                     "trainingparameters": {"EPOCHS": 2, "ALPHA": 0.5, "Mu": 0.1, "LAMBDA": 0,
                                            "optimizer": "AdaGrad", "minibatch": 8,
                                            "shuffleindices": True}})
    assert (cdl.network, cdl.command, cdl.data, cdl.seed, cdl.version) == (
        "n.json", "validate", ("d.nc",), 7, 1.0)
    assert (cdl.epochs, cdl.alpha, cdl.mu, cdl.lambda_) == (2, 0.5, 0.1, 0.0)
    assert (cdl.optimizer, cdl.batch, cdl.shuffle) == ("adagrad", 8, True)


@pytest.mark.parametrize("command", COMMANDS)
def test_commands(command):
    obj = {**MINIMAL, "Command": command.capitalize()}
    assert parse_cdl(obj).command == command


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_engine_optimizer_is_accepted(optimizer):
    assert parse_cdl(with_training(Optimizer=optimizer.upper())).optimizer == optimizer


def test_epochs_required_only_for_train():
    assert "TrainingParameters.Epochs is required when Command is Train" in error_of(
        {**MINIMAL, "TrainingParameters": {"Alpha": 0.1}})
    for command in ("Predict", "Validate"):
        assert parse_cdl({"Network": "m", "Command": command, "Data": "d"}).epochs is None


def test_data_is_a_string_or_a_list():
    assert parse_cdl({**MINIMAL, "Data": ["a.nc", "b.nc"]}).data == ("a.nc", "b.nc")
    assert parse_cdl({**MINIMAL, "Data": "a.nc"}).data == ("a.nc",)


def test_alpha_schedule():
    cdl = parse_cdl(with_training(AlphaInterval=20, AlphaMultiplier=0.8))
    assert (cdl.alpha_interval, cdl.alpha_multiplier, cdl.warnings) == (20, 0.8, ())
    assert parse_cdl(with_training(AlphaInterval=5)).alpha_multiplier == 0.5  # DSSTNE's default
    assert parse_cdl(with_training(AlphaInterval=20.0)).alpha_interval == 20
    # AlphaInterval 0 (the default) is a constant alpha: a multiplier is ignored, with a warning
    cdl = parse_cdl(with_training(AlphaMultiplier=0.8), "f.cdl")
    assert (cdl.alpha_interval, cdl.alpha_multiplier) == (0, 1.0)
    assert len(cdl.warnings) == 1 and "f.cdl" in cdl.warnings[0]
    assert "AlphaMultiplier is ignored" in cdl.warnings[0]
    cdl = parse_cdl(with_training(AlphaInterval=0, AlphaMultiplier=0.8))
    assert cdl.alpha_multiplier == 1.0 and cdl.warnings


def test_checkpoints_only_when_named():
    assert parse_cdl(MINIMAL).checkpoint_interval == 0
    cdl = parse_cdl(with_training(CheckpointName="ck"))
    assert (cdl.checkpoint_interval, cdl.checkpoint_name) == (1, "ck")  # DSSTNE's interval
    cdl = parse_cdl(with_training(CheckpointInterval=5))
    assert (cdl.checkpoint_interval, cdl.checkpoint_name) == (5, "check")
    cdl = parse_cdl(with_training(CheckpointInterval=0, CheckpointName="ck"))
    assert cdl.checkpoint_interval == 0


def test_seed_and_batch_and_shuffle():
    assert parse_cdl({**MINIMAL, "RandomSeed": 0}).seed == 0
    assert parse_cdl({**MINIMAL, "RandomSeed": 2**64 - 1}).seed == 2**64 - 1
    assert parse_cdl(with_training(MiniBatch=1)).batch == 1
    assert parse_cdl(with_training(ShuffleIndices=False)).shuffle is False


def test_relative_paths_resolve_against_the_cdl_directory(tmp_path):
    sub = tmp_path / "job"
    sub.mkdir()
    obj = {"Network": "net.json", "Command": "Train", "Data": ["d1.nc", "/abs/d2.nc"],
           "TrainingParameters": {"Epochs": 1, "Results": "out/m.nc",
                                  "CheckpointName": "ck"}}
    (sub / "run.cdl").write_text(json.dumps(obj))
    cdl = load_cdl(sub / "run.cdl")
    assert cdl.network == os.path.join(sub, "net.json")
    assert cdl.data == (os.path.join(sub, "d1.nc"), "/abs/d2.nc")
    assert cdl.results == os.path.join(sub, "out/m.nc")
    assert cdl.checkpoint_name == os.path.join(sub, "ck")
    assert cdl.source == str(sub / "run.cdl")
    # parse_cdl keeps them unless told where they are relative to
    assert parse_cdl(obj).network == "net.json"
    assert parse_cdl(obj, base_dir="/x").data == ("/x/d1.nc", "/abs/d2.nc")


def test_version_is_read_and_ignored():
    assert parse_cdl({**MINIMAL, "Version": 0.2}).version == 0.2
    assert 'Version must be a number, got "0.2"' in error_of({**MINIMAL, "Version": "0.2"})


# ---- errors ----------------------------------------------------------------------------------
def test_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.cdl"
    path.write_text(json.dumps({**MINIMAL, "TrainingParameters": {"Epochs": "ten"}}))
    with pytest.raises(ValueError) as e:
        load_cdl(path)
    assert str(e.value) == (f'{path}: TrainingParameters.Epochs must be an integer, got "ten"')


def test_bad_json_gives_line_and_column(tmp_path):
    path = tmp_path / "bad.cdl"
    path.write_text('{\n  "Network": "n",\n  "Command": "Train",\n  "Data": ,\n}')
    with pytest.raises(ValueError, match=rf"^{path}: line 4, column 11: invalid JSON"):
        load_cdl(path)


def test_missing_or_unreadable_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_cdl(tmp_path / "none.cdl")
    with pytest.raises(ValueError, match="is a directory"):
        load_cdl(tmp_path)


@pytest.mark.parametrize("obj,message", [
    ({**MINIMAL, "Netwrk": "x"}, "unknown key 'Netwrk' (did you mean 'Network'?)"),
    (with_training(Epoch=3), "unknown key 'TrainingParameters.Epoch' (did you mean 'Epochs'?)"),
    (with_training(Optimiser="sgd"),
     "unknown key 'TrainingParameters.Optimiser' (did you mean 'Optimizer'?)"),
    ({**MINIMAL, "PredictionParameters": {}}, "unknown key 'PredictionParameters'"),
    ({**MINIMAL, "Command": "Tran"}, "unknown Command \"Tran\" (did you mean 'train'?)"),
    (with_training(Optimizer="adamw"),
     "unknown TrainingParameters.Optimizer \"adamw\" (did you mean 'adam'?)"),
    ({**MINIMAL, "network": "other.json"},
     "key 'network' given twice (also as 'Network'; keys are case-insensitive)"),
    ({"Command": "Train", "Data": "d"}, "missing required key 'Network'"),
    ({"Network": "n", "Data": "d"}, "missing required key 'Command'"),
    ({"Network": "n", "Command": "Predict"}, "missing required key 'Data'"),
    ({**MINIMAL, "Network": 3}, "Network must be a string, got 3"),
    ({**MINIMAL, "Network": " "}, "Network must not be empty"),
    ({**MINIMAL, "Data": []}, "Data must name at least one file"),
    ({**MINIMAL, "Data": ["a.nc", 2]}, "Data[1] must be a string, got 2"),
    ({**MINIMAL, "Data": {"a": 1}}, "Data must be a string or a list of strings"),
    ({**MINIMAL, "RandomSeed": -1}, "RandomSeed must be >= 0"),
    ({**MINIMAL, "RandomSeed": 1.5}, "RandomSeed must be an integer, got 1.5"),
    ({**MINIMAL, "RandomSeed": True}, "RandomSeed must be an integer, got true"),
    ({**MINIMAL, "TrainingParameters": [1]}, "TrainingParameters must be a JSON object"),
    (with_training(Epochs=0), "TrainingParameters.Epochs must be >= 1, got 0"),
    (with_training(Epochs=2.0), "TrainingParameters.Epochs must be an integer, got 2.0"),
    (with_training(Alpha="0.1"), 'TrainingParameters.Alpha must be a number, got "0.1"'),
    (with_training(Alpha=-0.1), "TrainingParameters.Alpha must be >= 0"),
    (with_training(AlphaInterval=2.5),
     "TrainingParameters.AlphaInterval must be a whole number, got 2.5"),
    (with_training(AlphaInterval=-1), "TrainingParameters.AlphaInterval must be >= 0"),
    (with_training(AlphaInterval=2, AlphaMultiplier=0), "AlphaMultiplier must be > 0"),
    (with_training(mu=None), "TrainingParameters.mu must be a number, got null"),
    (with_training(**{"lambda": -1}), "TrainingParameters.lambda must be >= 0"),
    (with_training(CheckpointInterval=-2), "TrainingParameters.CheckpointInterval must be >= 0"),
    (with_training(CheckpointName=5), "TrainingParameters.CheckpointName must be a string"),
    (with_training(Results=""), "TrainingParameters.Results must not be empty"),
    (with_training(MiniBatch=0), "TrainingParameters.MiniBatch must be >= 1, got 0"),
    (with_training(ShuffleIndices="yes"),
     'TrainingParameters.ShuffleIndices must be true or false, got "yes"'),
    ("[]", "the CDL must be a JSON object, got []"),
])
def test_errors_name_the_key(obj, message):
    text = error_of(obj)
    assert text.startswith("f.cdl: ")
    assert message in text


def test_a_key_repeated_in_the_text_is_an_error():
    text = '{"Network": "a", "Network": "b", "Command": "Predict", "Data": "d"}'
    assert "key 'Network' given twice" in error_of(text)


def test_non_finite_numbers_are_refused():
    assert "must be finite" in error_of('{"Network": "n", "Command": "Train", "Data": "d", '
                                        '"TrainingParameters": {"Epochs": 1, "Alpha": NaN}}')


def test_wrong_argument_type():
    with pytest.raises(TypeError, match="a CDL is a dict or JSON text"):
        parse_cdl(3, "x.cdl")
