"""GPU support (issue 23, item 4): the pinned CUDA libraries and `make test-gpu`'s first check.

These machines have no GPU, so `make test-gpu` itself cannot run here; what is tested is that
its pins are complete and consistent, and that on a machine without a GPU it stops at once
with a message that says why (the real TensorFlow, no fake).
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("gpu_check", PROJECT / "tools" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_check)  # tools/ is not a package

PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)")


def _pins(path: Path) -> dict[str, str]:
    return {
        m.group(1).lower(): m.group(2)
        for line in path.read_text().splitlines()
        if (m := PIN.match(line.strip()))
    }


def test_the_nvidia_libraries_are_pinned_apart_and_tensorflow_is_the_kit_s():
    gpu = _pins(PROJECT / "constraints-gpu.txt")
    assert len(gpu) == 12 and all(name.startswith("nvidia-") for name in gpu)
    assert gpu["nvidia-cudnn-cu12"] == "9.28.0.42"
    locked = _pins(PROJECT / "constraints.txt")
    assert not set(gpu) & set(locked)  # one home per pin
    wanted = _pins(PROJECT / "requirements-gpu.txt")
    assert wanted == {"tensorflow[and-cuda]": locked["tensorflow"]}


def test_make_test_gpu_installs_the_pins_checks_the_gpu_then_runs_every_lesson():
    commands = subprocess.run(
        ["make", "-n", "-B", "test-gpu"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    install = next(i for i, c in enumerate(commands) if "requirements-gpu.txt" in c)
    assert "-c constraints.txt -c constraints-gpu.txt" in commands[install]
    check = next(i for i, c in enumerate(commands) if "tools/gpu_check.py" in c)
    lessons = next(i for i, c in enumerate(commands) if "pytest notebooks" in c)
    assert install < check < lessons


def test_the_message_names_the_gpus_or_says_why_there_are_none():
    assert gpu_check.message(["/physical_device:GPU:0"], True).startswith("TensorFlow sees 1 GPU")
    for built_with_cuda, cause in [(True, "nvidia-smi"), (False, "no CUDA support")]:
        text = gpu_check.message([], built_with_cuda)
        assert "sees no GPU" in text and cause in text and "make test" in text


def test_with_a_gpu_the_check_passes(monkeypatch, capsys):
    monkeypatch.setattr(gpu_check, "gpu_devices", lambda: ["/physical_device:GPU:0"])
    assert gpu_check.main() == 0
    assert "GPU:0" in capsys.readouterr().out


@pytest.mark.slow
def test_without_a_gpu_the_check_fails_clearly():
    # This machine has no GPU: the real TensorFlow sees none and the target must stop here.
    result = subprocess.run(
        [sys.executable, str(PROJECT / "tools" / "gpu_check.py")], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "make test-gpu: TensorFlow sees no GPU" in result.stderr
