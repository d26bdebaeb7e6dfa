"""lab_utils.lesson (the setup call) and the promise that importing lab_utils is light."""

import random
import subprocess
import sys

import numpy as np
import pytest

from lab_utils import lesson


def test_setup_seeds_python_and_numpy(capsys):
    lesson.setup(seed=7)
    first = (random.random(), np.random.rand())
    lesson.setup(seed=7)
    assert (random.random(), np.random.rand()) == first
    output = capsys.readouterr().out
    assert "numpy" in output and "seed 7" in output


def test_setup_sets_the_plot_style():
    import matplotlib

    lesson.setup(seed=0)
    assert matplotlib.rcParams["image.interpolation"] == "nearest"


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"seed": -1}, ValueError, "seed must be at least 0"),
        ({"seed": 1.5}, TypeError, "seed must be a whole number"),
        ({"seed": 0, "deep_learning": "yes"}, TypeError, "deep_learning must be True or False"),
    ],
)
def test_setup_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        lesson.setup(**kwargs)


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_importing_lab_utils_does_not_import_tensorflow_or_change_settings():
    result = _run(
        "import sys, matplotlib; before = dict(matplotlib.rcParams);"
        "import lab_utils, lab_utils.data, lab_utils.plots, lab_utils.widgets,"
        " lab_utils.exercises, lab_utils.pixels, lab_utils.lesson;"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules,"
        " dict(matplotlib.rcParams) == before)"
    )
    assert result.stdout.split() == ["False", "False", "True"]


@pytest.mark.slow
def test_deep_learning_setup_reports_backend_and_device_without_stderr_noise():
    result = _run("from lab_utils import lesson; lesson.setup(seed=0, deep_learning=True)")
    assert "keras 3." in result.stdout
    assert "device CPU" in result.stdout or "device GPU" in result.stdout
    assert result.stderr == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_return_freed_memory_gives_freed_memory_back_to_the_system():
    """300 MB of 2 kB blocks (the C library's heap, not Python's small-object pools) freed
    with every 50th kept, as a training leaves its heap: the C library keeps the freed pages
    until return_freed_memory hands them back."""
    code = (
        "import re\n"
        "from lab_utils import lesson\n"
        "def resident():\n"
        "    text = open('/proc/self/status').read()\n"
        "    return int(re.search(r'VmRSS:\\s+(\\d+)', text).group(1)) // 1024\n"
        "blocks = [bytes(2000) + bytes([i % 256]) for i in range(150_000)]\n"
        "kept = blocks[::50]\n"
        "del blocks\n"
        "before = resident()\n"
        "lesson.return_freed_memory()\n"
        "print(before, resident(), len(kept))\n"
    )
    before, after, _ = (int(value) for value in _run(code).stdout.split())
    assert before - after > 100, f"resident memory {before} MiB -> {after} MiB"


def test_setup_in_a_notebook_returns_freed_memory_after_every_cell(monkeypatch, capsys):
    """In an IPython shell, setup registers one post-cell hook (twice set up: still one), and
    each cell that runs ends with return_freed_memory."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    calls = []
    monkeypatch.setattr(lesson, "return_freed_memory", lambda: calls.append("freed"))
    try:
        lesson.setup(seed=0)
        lesson.setup(seed=0)
        assert shell.events.callbacks["post_run_cell"].count(lesson._after_cell) == 1
        shell.run_cell("x = 1")
        shell.run_cell("y = 2")
        assert calls == ["freed", "freed"]
    finally:
        shell.events.unregister("post_run_cell", lesson._after_cell)
        InteractiveShell.clear_instance()
