# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: the device under test, the DSSTNE reference files, small data makers."""

import os
import pathlib

import numpy as np
import pytest

import dsstne

REPO = pathlib.Path(__file__).resolve().parents[2]
REFERENCE = pathlib.Path(os.environ.get("DSSTNE_REFERENCE_DIR",
                                        REPO.parent / "shared" / "dsstne-reference"))


def _cuda_param():
    marks = [pytest.mark.gpu]
    if os.environ.get("DSSTNE_REQUIRE_GPU") != "1":
        if not dsstne.cuda_built():
            marks.append(pytest.mark.skip(reason="this build has no CUDA backend"))
        elif dsstne.cuda_device_count() == 0:
            marks.append(pytest.mark.skip(reason="no CUDA device is visible"))
    return pytest.param("cuda", marks=marks)


@pytest.fixture(params=["cpu", _cuda_param()])
def device(request):
    """Every device test runs on the CPU and, where built, on the GPU; with DSSTNE_REQUIRE_GPU=1
    the GPU case fails instead of skipping."""
    return request.param


@pytest.fixture
def reference_dir():
    """DSSTNE's configs and data in ../shared (absent in a user's clone)."""
    if not REFERENCE.is_dir():
        pytest.skip(f"DSSTNE reference files not found at {REFERENCE} (they live in the "
                    "development checkout's ../shared; set DSSTNE_REFERENCE_DIR)")
    return REFERENCE


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
