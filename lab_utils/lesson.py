"""The one setup call at the top of every lesson notebook.

``setup(seed)`` seeds Python, NumPy (and Keras when the lesson uses it), sets the plot style,
keeps TensorFlow's native log lines off stderr, and prints the versions and the compute device,
so a screenshot of the first cell tells an instructor everything about a student's setup.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import sys
from collections.abc import Iterator
from types import ModuleType

import numpy as np

# TensorFlow reads these when it is first imported; later changes have no effect.
_QUIET_TENSORFLOW = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}

PLOT_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 90,
    "image.cmap": "gray",
    "image.interpolation": "nearest",  # show pixels as squares, never smoothed
    "axes.grid": False,
    "font.size": 10,
}


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration of the block.

    TensorFlow's C++ runtime writes some lines before its logging settings apply; they reach
    the notebook as red stderr text that graders count as output. Redirecting the descriptor
    is the one reliable way to keep them out. Python-level errors still raise normally.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_keras() -> ModuleType:
    """Import Keras (and its TensorFlow backend) quietly and return the ``keras`` module."""
    for name, value in _QUIET_TENSORFLOW.items():
        os.environ.setdefault(name, value)
    with native_stderr_silenced():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
            # Device discovery prints "failed call to cuInit" on machines without a GPU:
            # do it now, while stderr is silenced, rather than at the first Keras operation.
            tf.config.list_physical_devices()
    return keras


def compute_device(keras: ModuleType) -> str:
    """'GPU (name)' when the Keras backend sees a GPU, else 'CPU'."""
    backend = keras.backend.backend()
    with native_stderr_silenced():
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            return f"GPU ({gpus[0].name})" if gpus else "CPU"
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            return "CPU" if device.platform == "cpu" else f"GPU ({device.device_kind})"
        if backend == "torch":
            import torch

            return f"GPU ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "CPU"
    return "unknown"


def setup(seed: int = 0, *, deep_learning: bool = False) -> None:
    """Prepare a lesson: seeds, plot style, quiet TensorFlow, and a report of versions.

    Parameters
    ----------
    seed : int
        Seeds Python's ``random``, NumPy's global generator and, with ``deep_learning``,
        Keras (``keras.utils.set_random_seed``). Helpers take their own ``seed=`` argument.
    deep_learning : bool
        Import Keras and report its backend and the device it will use.

    The printed line comes from ``report(deep_learning)``, which tests and bug reports can
    call directly. In a notebook, the kernel then hands freed memory back to the system
    after every cell (``return_freed_memory``), so that a lesson's memory follows what it
    holds, not everything it ever held.
    """
    from lab_utils import validation

    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    if not isinstance(deep_learning, bool):
        raise TypeError(f"deep_learning must be True or False, but got {deep_learning!r}.")
    for name, value in _QUIET_TENSORFLOW.items():
        os.environ.setdefault(name, value)
    random.seed(seed)
    np.random.seed(seed)

    import matplotlib

    matplotlib.rcParams.update(PLOT_STYLE)
    if deep_learning:
        import_keras().utils.set_random_seed(seed)
    _return_freed_memory_after_each_cell()
    versions = report(deep_learning)
    print("  ".join(f"{key} {value}" for key, value in versions.items()) + f"  seed {seed}")


def _after_cell(result: object = None) -> None:
    """IPython's post_run_cell hook: ``return_freed_memory`` (a few milliseconds)."""
    return_freed_memory()


def _return_freed_memory_after_each_cell() -> None:
    """Register ``_after_cell`` once with the running IPython kernel (none: nothing to do)."""
    shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
    if shell is None:
        return
    hooks = shell.events.callbacks["post_run_cell"]
    if _after_cell not in hooks:
        shell.events.register("post_run_cell", _after_cell)


def reseed(seed: int = 0) -> None:
    """Reset every global random generator to ``seed`` just before a cell that draws numbers.

    Exercise checks leave the random state alone, but a student may run cells in any order or
    twice; a training or sampling cell that starts with ``lesson.reseed(0)`` prints the same
    figures for everyone. Seeds Python's ``random``, NumPy's global generator and, when Keras
    is already imported, Keras (``keras.utils.set_random_seed``, which also seeds TensorFlow).
    """
    from lab_utils import validation

    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    if "keras" in sys.modules:
        import_keras().utils.set_random_seed(seed)


def return_freed_memory() -> None:
    """Give the memory that Python, NumPy and TensorFlow have freed back to the operating
    system (``malloc_trim`` of Linux's C library; nothing elsewhere).

    The C library keeps freed blocks for later use, so without this a kernel's memory only
    grows: each training left its buffers behind, and lesson 05's first run peaked at
    1.62 GiB; :func:`lab_utils.models.fit` calls this after every training (and each epoch),
    and ``setup`` after every notebook cell. It takes about 5 ms; a garbage collection
    (``gc.collect``) would take 200 ms in a kernel with TensorFlow, so it is left to Python.
    """
    import ctypes

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # a C library without malloc_trim (musl)
            pass


def report(deep_learning: bool = False) -> dict:
    """Versions of Python and the main libraries, plus the Keras backend and device if asked."""
    import matplotlib

    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
    }
    if deep_learning:
        keras = import_keras()
        versions.update(
            keras=keras.__version__, backend=keras.backend.backend(), device=compute_device(keras)
        )
        if versions["backend"] == "tensorflow":
            import tensorflow as tf

            versions["tensorflow"] = tf.__version__
    return versions
