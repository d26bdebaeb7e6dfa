"""The pip and conda descriptions of the environment must pin the same versions."""

import re
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^\s*-?\s*([A-Za-z0-9_.\-\[\]]+)==([^\s#;]+)")


def _pins(path, start_after=None):
    lines = path.read_text().splitlines()
    if start_after is not None:
        lines = lines[next(i for i, line in enumerate(lines) if line.strip() == start_after) + 1 :]
    pins = {}
    for line in lines:
        match = PIN.match(line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def _requirement_files():
    return sorted(PROJECT.glob("requirements*.txt"))


def test_environment_yml_pins_exactly_the_versions_of_the_requirement_files():
    pip_side = {}
    for path in _requirement_files():
        if path.name in ("requirements-jax.txt", "requirements-gpu.txt"):
            continue  # optional: a Keras backend (make test-jax), CUDA (make test-gpu); not in conda
        pip_side.update(_pins(path))
    conda_side = _pins(PROJECT / "environment.yml", start_after="- pip:")
    assert conda_side == pip_side


@pytest.mark.parametrize("path", _requirement_files(), ids=lambda p: p.name)
def test_every_direct_pin_agrees_with_the_lock_file(path):
    locked = _pins(PROJECT / "constraints.txt")
    for name, version in _pins(path).items():
        assert locked.get(name.split("[")[0]) == version, (
            f"{name}=={version} in {path.name} but {locked.get(name)} in constraints.txt: run make lock"
        )


def test_opencv_stays_below_5():
    version = _pins(PROJECT / "requirements.txt")["opencv-contrib-python-headless"]
    assert int(version.split(".")[0]) < 5, "OpenCV 5 dropped the Haar cascades (lesson 06)"
