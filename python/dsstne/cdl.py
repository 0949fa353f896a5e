# SPDX-License-Identifier: Apache-2.0
"""DSSTNE's CDL ("command description language") files: what ``dsstne encoder`` should do
(docs/formats.md, "CDL files").

A CDL file is a JSON object; every key is case-insensitive::

    {"Version": 0.2, "Network": "config.json", "Command": "Train", "RandomSeed": 12345,
     "Data": "cifar10_training.nc",
     "TrainingParameters": {"Epochs": 60, "Alpha": 0.025, "AlphaInterval": 20,
                            "AlphaMultiplier": 0.8, "mu": 0.5, "lambda": 0.0001,
                            "Optimizer": "Nesterov", "Results": "network.nc"}}

:func:`load_cdl` reads a file and :func:`parse_cdl` a dict or JSON text into a frozen
:class:`Cdl`. Every key DSSTNE read is accepted with DSSTNE's default (``Alpha`` 0.1,
``AlphaInterval`` 0 = constant alpha, ``AlphaMultiplier`` 0.5, ``mu`` 0.9, ``lambda`` 0.001,
``CheckpointName`` ``check``, ``Optimizer`` SGD, ``Results`` ``network.nc``); ``Version`` is read
and ignored (it must be a number). ``TrainingParameters`` is accepted with every command.
``Epochs`` is required when the command is Train.

Where it differs from DSSTNE (all deliberate):

* ``Data`` is a file name **or a list** of them (DSSTNE documented a list but aborted on one);
  every data set of every file is loaded.
* ``Optimizer`` is any optimizer of the engine: sgd, momentum, adagrad, nesterov, rmsprop,
  adadelta, adam (DSSTNE took only sgd and nesterov, and documented others it refused).
* ``MiniBatch`` (integer > 0, default 1024) and ``ShuffleIndices`` (true/false, default: the
  network description's own setting) are accepted in ``TrainingParameters`` (DSSTNE documented
  both and rejected them; its batch was always 1024). ``PredictionParameters`` stays unknown.
* Relative paths (``Network``, ``Data``, ``Results``, ``CheckpointName``) are resolved against
  the directory of the CDL file, so a CDL runs the same from any working directory (DSSTNE
  resolved them against the working directory). :func:`parse_cdl` resolves them against its
  `base_dir` argument, or leaves them as they are without one.
* ``RandomSeed`` defaults to 12345, the value of DSSTNE's CDL samples, so every run is
  reproducible (DSSTNE used the clock); it must be an integer in [0, 2**64).
* Checkpoints are written only when the CDL names ``CheckpointInterval`` or ``CheckpointName``
  (then every ``CheckpointInterval`` epochs, default 1, as DSSTNE); without either none are
  written (DSSTNE wrote ``check<epoch>.nc`` after every epoch). ``CheckpointInterval`` 0 means
  never.
* ``AlphaInterval`` 0 means a constant alpha, as in DSSTNE; an ``AlphaMultiplier`` given with it
  is ignored with a warning (:attr:`Cdl.warnings`) instead of silently.
* Stricter: an unknown key (with a did-you-mean), a key given twice (also in different case),
  a value of the wrong type, a negative rate, a fractional count (``AlphaInterval`` 2.5; DSSTNE
  truncated it), an unknown command or optimizer are errors naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os

__all__ = ["Cdl", "load_cdl", "parse_cdl", "COMMANDS", "OPTIMIZERS", "DEFAULT_SEED"]

COMMANDS = ("train", "predict", "validate")
OPTIMIZERS = ("sgd", "momentum", "adagrad", "nesterov", "rmsprop", "adadelta", "adam")
DEFAULT_SEED = 12345  # the seed of DSSTNE's CDL samples (DSSTNE itself used the clock)
DEFAULT_BATCH = 1024  # DSSTNE's CDL batch

_TOP_KEYS = ("Version", "Network", "Command", "Data", "RandomSeed", "TrainingParameters")
_TRAINING_KEYS = ("Epochs", "Alpha", "AlphaInterval", "AlphaMultiplier", "mu", "lambda",
                  "CheckpointInterval", "CheckpointName", "Optimizer", "Results", "MiniBatch",
                  "ShuffleIndices")


@dataclasses.dataclass(frozen=True)
class Cdl:
    """One CDL file, with DSSTNE's defaults filled in and paths resolved."""

    network: str                  # JSON description (train, validate) or model file (predict)
    command: str                  # "train", "predict" or "validate"
    data: tuple[str, ...]         # NetCDF data set files
    seed: int = DEFAULT_SEED
    epochs: int | None = None     # required for train
    alpha: float = 0.1
    alpha_interval: int = 0       # 0: constant alpha
    alpha_multiplier: float = 0.5  # 1.0 when alpha_interval is 0
    mu: float = 0.9
    lambda_: float = 0.001
    checkpoint_interval: int = 0  # 0: no checkpoints
    checkpoint_name: str = "check"
    optimizer: str = "sgd"
    results: str = "network.nc"
    batch: int = DEFAULT_BATCH
    shuffle: bool | None = None   # None: the network description decides
    version: float | None = None
    source: str = "<string>"      # where the CDL came from, for messages
    warnings: tuple[str, ...] = ()


def load_cdl(path) -> Cdl:
    """Reads the CDL file `path`; relative paths in it are resolved against its directory.

    Raises FileNotFoundError / OSError when the file cannot be read and ValueError (naming the
    file and the key) when its content is wrong."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a directory, not a CDL file")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return parse_cdl(text, source=path, base_dir=os.path.dirname(os.path.abspath(path)))


def parse_cdl(obj_or_text, source="<string>", *, base_dir=None) -> Cdl:
    """A :class:`Cdl` from a dict or JSON text; `source` names it in error messages and relative
    paths are joined to `base_dir` when given."""
    if isinstance(obj_or_text, (bytes, bytearray)):
        obj_or_text = obj_or_text.decode("utf-8")
    if isinstance(obj_or_text, str):
        obj = _decode(obj_or_text, source)
    elif isinstance(obj_or_text, dict):
        obj = obj_or_text
    else:
        raise TypeError(f"{source}: a CDL is a dict or JSON text, got "
                        f"{type(obj_or_text).__name__}")
    return _Parser(source, base_dir).parse(obj)


def _decode(text, source):
    def no_repeats(pairs):
        seen = {}
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"{source}: key '{key}' given twice")
            seen[key] = True
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=no_repeats)
    except json.JSONDecodeError as e:
        raise ValueError(f"{source}: line {e.lineno}, column {e.colno}: invalid JSON: {e.msg}"
                         ) from None


def _shown(value):
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


class _Parser:
    """Checks one CDL object; every message starts with the source and names the key."""

    def __init__(self, source, base_dir):
        self.source, self.base_dir = source, base_dir

    def fail(self, text):
        return ValueError(f"{self.source}: {text}")

    def keys(self, obj, known, where):
        """{canonical key: value} of `obj`, refusing unknown keys and case-variant repeats."""
        if not isinstance(obj, dict):
            raise self.fail(f"{where or 'the CDL'} must be a JSON object, got {_shown(obj)}")
        folded = {k.lower(): k for k in known}
        out, spelled = {}, {}
        for key, value in obj.items():
            name = folded.get(str(key).lower())
            full = f"{where}.{key}" if where else key
            if name is None:
                close = difflib.get_close_matches(str(key).lower(), list(folded), n=1,
                                                  cutoff=0.6)
                hint = f" (did you mean '{folded[close[0]]}'?)" if close else ""
                allowed = ", ".join(known)
                raise self.fail(f"unknown key '{full}'{hint}; known keys: {allowed}")
            if name in out:
                raise self.fail(f"key '{full}' given twice (also as '{spelled[name]}'; keys "
                                "are case-insensitive)")
            out[name], spelled[name] = value, key
        return out

    # ---- typed values --------------------------------------------------------------------
    def number(self, key, value, *, minimum=None, above=None):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"{key} must be a number, got {_shown(value)}")
        value = float(value)
        if not math.isfinite(value):
            raise self.fail(f"{key} must be finite, got {_shown(value)}")
        if minimum is not None and value < minimum:
            raise self.fail(f"{key} must be >= {minimum}, got {_shown(value)}")
        if above is not None and value <= above:
            raise self.fail(f"{key} must be > {above}, got {_shown(value)}")
        return value

    def integer(self, key, value, *, minimum, whole_floats=False, maximum=None):
        ok = isinstance(value, int) and not isinstance(value, bool)
        if whole_floats and isinstance(value, float) and value.is_integer():
            value, ok = int(value), True
        if not ok:
            kind = "a whole number" if whole_floats else "an integer"
            raise self.fail(f"{key} must be {kind}, got {_shown(value)}")
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and <= {maximum}" if maximum is not None else ""
            raise self.fail(f"{key} must be >= {minimum}{upper}, got {value}")
        return value

    def string(self, key, value):
        if not isinstance(value, str):
            raise self.fail(f"{key} must be a string, got {_shown(value)}")
        if not value.strip():
            raise self.fail(f"{key} must not be empty")
        return value

    def choice(self, key, value, choices):
        text = self.string(key, value).lower()
        if text not in choices:
            close = difflib.get_close_matches(text, choices, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise self.fail(f"unknown {key} {_shown(value)}{hint}; use one of "
                            f"{', '.join(choices)}")
        return text

    def path(self, key, value):
        value = self.string(key, value)
        if self.base_dir is None or os.path.isabs(value):
            return value
        return os.path.join(self.base_dir, value)

    # ---- the file ------------------------------------------------------------------------
    def parse(self, obj):
        top = self.keys(obj, _TOP_KEYS, "")
        for key in ("Network", "Command", "Data"):
            if key not in top:
                raise self.fail(f"missing required key '{key}'")
        fields = {"source": self.source}
        if "Version" in top:
            fields["version"] = self.number("Version", top["Version"])
        fields["network"] = self.path("Network", top["Network"])
        fields["command"] = self.choice("Command", top["Command"], COMMANDS)
        fields["data"] = self.data(top["Data"])
        if "RandomSeed" in top:
            fields["seed"] = self.integer("RandomSeed", top["RandomSeed"], minimum=0,
                                          maximum=2**64 - 1)
        fields.update(self.training(top.get("TrainingParameters", {})))
        if fields["command"] == "train" and fields.get("epochs") is None:
            raise self.fail("TrainingParameters.Epochs is required when Command is Train")
        return Cdl(**fields)

    def data(self, value):
        if isinstance(value, list):
            if not value:
                raise self.fail("Data must name at least one file, got []")
            return tuple(self.path(f"Data[{i}]", v) for i, v in enumerate(value))
        if not isinstance(value, str):
            raise self.fail(f"Data must be a string or a list of strings, got {_shown(value)}")
        return (self.path("Data", value),)

    def training(self, obj):
        p = self.keys(obj, _TRAINING_KEYS, "TrainingParameters")

        def key(name):
            return f"TrainingParameters.{name}"

        out, warnings = {}, []
        if "Epochs" in p:
            out["epochs"] = self.integer(key("Epochs"), p["Epochs"], minimum=1)
        if "Alpha" in p:
            out["alpha"] = self.number(key("Alpha"), p["Alpha"], minimum=0)
        if "AlphaInterval" in p:
            out["alpha_interval"] = self.integer(key("AlphaInterval"), p["AlphaInterval"],
                                                 minimum=0, whole_floats=True)
        if "AlphaMultiplier" in p:
            out["alpha_multiplier"] = self.number(key("AlphaMultiplier"), p["AlphaMultiplier"],
                                                  above=0)
        if out.get("alpha_interval", 0) == 0:
            if "AlphaMultiplier" in p:
                warnings.append(f"{self.source}: {key('AlphaMultiplier')} is ignored: without "
                                f"an AlphaInterval > 0 alpha stays constant")
            out["alpha_multiplier"] = 1.0
        if "mu" in p:
            out["mu"] = self.number(key("mu"), p["mu"])
        if "lambda" in p:
            out["lambda_"] = self.number(key("lambda"), p["lambda"], minimum=0)
        if "CheckpointName" in p:
            out["checkpoint_name"] = self.path(key("CheckpointName"), p["CheckpointName"])
            out["checkpoint_interval"] = 1  # DSSTNE's default interval
        else:
            out["checkpoint_name"] = self.path(key("CheckpointName"), "check")
        if "CheckpointInterval" in p:
            out["checkpoint_interval"] = self.integer(
                key("CheckpointInterval"), p["CheckpointInterval"], minimum=0, whole_floats=True)
        if "Optimizer" in p:
            out["optimizer"] = self.choice(key("Optimizer"), p["Optimizer"], OPTIMIZERS)
        out["results"] = self.path(key("Results"), p.get("Results", "network.nc"))
        if "MiniBatch" in p:
            out["batch"] = self.integer(key("MiniBatch"), p["MiniBatch"], minimum=1)
        if "ShuffleIndices" in p:
            if not isinstance(p["ShuffleIndices"], bool):
                raise self.fail(f"{key('ShuffleIndices')} must be true or false, got "
                                f"{_shown(p['ShuffleIndices'])}")
            out["shuffle"] = p["ShuffleIndices"]
        out["warnings"] = tuple(warnings)
        return out
