"""lab_utils.progress: every training through models.fit shows one bar with the time left, on
stderr in a terminal and as a widget in a notebook, and never in what nbval compares."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lab_utils import progress

PROJECT = Path(__file__).resolve().parent.parent

_TINY_TRAINING = textwrap.dedent(
    """\
    import numpy as np
    from lab_utils import lesson, models
    keras = lesson.import_keras()
    keras.utils.set_random_seed(0)  # the same initial weights: the re-run finds the cache
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs), name="tiny")
    x = np.random.default_rng(0).random((64, 4)).astype("float32")
    result = models.fit(model, x, x.sum(1, keepdims=True), loss="mse", epochs=3,
                        learning_rate=0.01, seed=0, batch_size=16)
    print("trained", len(result.history["loss"]), "epochs")
    """
)


def test_training_bar_refuses_a_missing_description():
    with pytest.raises(TypeError, match="non-empty string"):
        progress.training_bar("")
    with pytest.raises(TypeError, match="non-empty string"):
        progress.training_bar(None)


def test_in_notebook_is_false_in_plain_python():
    assert progress.in_notebook() is False


@pytest.mark.slow
def test_a_terminal_training_shows_the_bar_on_stderr_and_nothing_on_stdout(tmp_path):
    """The bar survives models.fit's silencing of descriptor 2; a cached re-run shows none."""
    script = tmp_path / "train.py"
    script.write_text(_TINY_TRAINING)
    environment = {"LAB_UTILS_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    first = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=environment, timeout=300
    )
    assert first.returncode == 0, first.stderr[-2000:]
    final = first.stderr.replace("\r", "\n").strip().splitlines()[-1]
    # 3 epochs of ceil(64 / 16) = 4 steps; tqdm's "[elapsed<left, rate, loss=…]".
    assert final.startswith("training tiny: 100%") and "12/12 [" in final, first.stderr[-500:]
    assert "<00:00" in final and "step/s" in final and "loss=" in final
    assert first.stdout == "trained 3 epochs\n"
    again = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=environment, timeout=300
    )
    assert "loaded the weights" in again.stdout and "training tiny" not in again.stderr


@pytest.mark.slow
def test_under_nbval_the_bar_is_a_widget_and_compared_outputs_are_unchanged(tmp_path):
    """A training cell whose printed output nbval compares (NBVAL_CHECK_OUTPUT) passes: the bar
    is a display widget (no timing text on stdout, nothing on stderr)."""
    cells = [
        "import os\nos.environ['LAB_UTILS_CACHE'] = " + repr(str(tmp_path / "cache")),
        "# NBVAL_CHECK_OUTPUT\n" + _TINY_TRAINING,
    ]
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell{index:04d}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for index, source in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    # The stored output nbval must reproduce exactly: the printed line, nothing else.
    notebook["cells"][1]["execution_count"] = 2
    notebook["cells"][1]["outputs"] = [
        {"name": "stdout", "output_type": "stream", "text": ["trained 3 epochs\n"]}
    ]
    path = tmp_path / "train.ipynb"
    path.write_text(json.dumps(notebook))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "--nbval"]
        + ["-q", "-W", "ignore", str(path), "--rootdir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert run.returncode == 0 and "2 passed" in run.stdout, run.stdout[-3000:]

    # The same cell run by nbclient: the bar is one widget display (with BAR_CLASS), no stderr.
    import nbformat
    from nbclient import NotebookClient

    executed = nbformat.reads(json.dumps(notebook), as_version=4)
    executed.cells[0].source = "import os\nos.environ['LAB_UTILS_CACHE'] = " + repr(
        str(tmp_path / "cache2")
    )
    NotebookClient(executed, timeout=600, kernel_name="python3").execute()
    outputs = executed.cells[1].outputs
    streams = [output for output in outputs if output.output_type == "stream"]
    assert [(output.name, output.text) for output in streams] == [("stdout", "trained 3 epochs\n")]
    displays = [output for output in outputs if output.output_type == "display_data"]
    assert len(displays) == 1
    assert "application/vnd.jupyter.widget-view+json" in displays[0].data
    states = executed.metadata.get("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {}
    )
    classes = [model["state"].get("_dom_classes", []) for model in states.get("state", {}).values()]
    assert states == {} or any(progress.BAR_CLASS in names for names in classes)
