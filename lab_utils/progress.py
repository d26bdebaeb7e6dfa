"""Training progress: every training shows one bar with the steps done and the time left.

``models.fit`` (the kit's one training loop) passes ``training_bar(...)`` to ``model.fit``;
nothing else needs to. The bar is tqdm's (``tqdm.auto``): in a notebook, JupyterLab or Voila
it is a small progress widget (a bar, "412/600 [00:31<00:14, 13.2 step/s, loss=0.21]"); in a
terminal it is tqdm's text bar on the standard error stream. A training loaded from the cache
shows no bar (nothing is trained).

What it never touches: the printed output (stdout) that lessons assert on or nbval could
compare, and the notebook's stderr stream (the browser tests and graders count red text as an
error). ``TQDM_DISABLE=1`` in the environment hides every bar (tqdm reads ``TQDM_*`` settings).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from lab_utils import lesson, validation

if TYPE_CHECKING:  # Keras is imported when a training starts, not at import time
    import keras

#: The CSS class of a bar's widget (browser tests tell bars from lesson widgets by it).
BAR_CLASS = "lab-utils-progress"

#: At most this many refreshes per second: each one is a message to the browser.
_REFRESH_SECONDS = 0.5


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Voila, nbval, nbclient), where bars are widgets."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ipython = shell.get_ipython()
    except AttributeError:
        return False
    return ipython is not None and "IPKernelApp" in getattr(ipython, "config", {})


def training_bar(description: str) -> keras.callbacks.Callback:
    """A Keras callback that shows one progress bar for a whole training.

    Parameters
    ----------
    description : str
        Shown before the bar, e.g. ``"training cnn_classifier"``.

    Returns
    -------
    keras.callbacks.Callback
        Pass it in ``model.fit(..., callbacks=[...])``. The bar counts training steps over all
        epochs (``epochs * steps``, from the parameters Keras gives its callbacks), shows the
        last loss and tqdm's estimate of the time left, and closes when the training ends
        (also when it stops with an error). In a notebook the finished bar stays, as a record
        of how long the training took.
    """
    if not isinstance(description, str) or not description.strip():
        raise TypeError(
            f"description must be a non-empty string, but got {validation.describe(description)}."
        )
    return _callback_class()(description)


_CLASS: list = []


def _callback_class() -> type:
    """The callback class, defined once Keras is imported (lab_utils imports Keras lazily)."""
    if _CLASS:
        return _CLASS[0]
    keras = lesson.import_keras()

    class TrainingBar(keras.callbacks.Callback):
        """tqdm bar over every training step (see ``training_bar``)."""

        def __init__(self, description: str) -> None:
            super().__init__()
            self.description = description
            self.bar = None
            # Made now, before models.fit silences file descriptor 2 (see _terminal_stream).
            self._stream = None if in_notebook() else _terminal_stream()

        def on_train_begin(self, logs=None):
            epochs = int(self.params.get("epochs") or 1)
            steps = self.params.get("steps")
            total = epochs * int(steps) if steps else None
            if self.bar is not None:
                self.bar.close()
            self.bar = _open_bar(self.description, total, self._stream)

        def on_train_batch_end(self, batch, logs=None):
            if self.bar is None:
                return
            self.bar.update(1)
            loss = (logs or {}).get("loss")
            if loss is not None:
                # refresh=False: the bar redraws at most every _REFRESH_SECONDS anyway.
                self.bar.set_postfix_str(f"loss={float(loss):.4g}", refresh=False)

        def on_train_end(self, logs=None):
            self.close()

        def close(self) -> None:
            """Close the bar (and the terminal stream it wrote to); safe to call twice."""
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            if self._stream is not None:
                self._stream.close()
                self._stream = None

        def __del__(self):  # a training stopped by an error or an interrupt
            try:
                self.close()
            except Exception:  # noqa: BLE001 - nothing to report while collecting garbage
                pass

    _CLASS.append(TrainingBar)
    return TrainingBar


def _terminal_stream() -> object:
    """A copy of the standard error stream that outlives ``lesson.native_stderr_silenced``.

    ``models.fit`` sends file descriptor 2 to /dev/null while Keras trains (TensorFlow's C++
    noise); a terminal bar writes to a copy of the descriptor made before that, so it stays
    visible. None when stderr has no descriptor (replaced by a test runner): then tqdm writes
    to ``sys.stderr`` as usual.
    """
    try:
        return os.fdopen(os.dup(sys.stderr.fileno()), "w")
    except (AttributeError, OSError, ValueError):
        return None


def _open_bar(description: str, total: int | None, stream: object) -> object:
    """A tqdm bar: the notebook widget in a kernel, the text bar on ``stream`` (or stderr)."""
    options = {
        "total": total,
        "desc": description,
        "unit": "step",
        "mininterval": _REFRESH_SECONDS,
        "leave": True,
    }
    if os.environ.get("TQDM_DISABLE", "").strip().lower() in {"1", "true", "yes"}:
        options["disable"] = True  # tqdm.notebook would ignore the variable
    if in_notebook():
        from IPython.display import display
        from tqdm.notebook import tqdm as notebook_tqdm

        bar = notebook_tqdm(display=False, **options)
        container = getattr(bar, "container", None)
        if container is not None:
            container.add_class(BAR_CLASS)
            # Room for the description and the figures on a 1280-pixel projector.
            container.layout.width = "min(100%, 900px)"
            # The widget alone, without tqdm's text/plain copy of the bar: that copy holds
            # timings, which an nbval-compared cell (# NBVAL_CHECK_OUTPUT) would see differ.
            # nbval skips widget views (their model ids are random).
            view = {"version_major": 2, "version_minor": 0, "model_id": container.model_id}
            display({"application/vnd.jupyter.widget-view+json": view}, raw=True)
        return bar
    from tqdm import tqdm as text_tqdm

    return text_tqdm(file=stream or sys.stderr, dynamic_ncols=True, **options)
