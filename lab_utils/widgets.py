"""The widget pattern shared by every lesson.

A lesson widget has two halves:

* a **pure compute function** (in the lesson's module, unit-tested like any function) that turns
  control values into arrays;
* a **thin builder** that creates ipywidgets controls and wraps them in ``Interactive``, whose
  ``render`` callback calls the compute function and writes the result into display widgets.

``Interactive`` observes every control, re-renders once per change (or once per batch inside
``hold()``), and keeps what the last render returned in ``.state`` so tests can drive a widget
headlessly: set ``controls["row"].value = 3`` and assert on ``state``.

An error raised while rendering (a value the compute function refuses) is shown inside the
widget, in red and in plain words, instead of going to the log console where nobody sees it;
the widget stays usable and the message disappears at the next render that succeeds.

Images are shown with ``ipywidgets.Image`` fed JPEG (photos) or fast PNG (pixel grids): about
2-3 ms on the Python side, against ~150 ms for re-drawing a matplotlib figure.
"""

from __future__ import annotations

import contextlib
import html
import io
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from lab_utils import validation

if TYPE_CHECKING:  # ipywidgets is imported when a widget is built, not at import time
    import ipywidgets


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Convert an image (uint8, or float in [0, 1]) to uint8 for display."""
    image = validation.as_image(image, "image")
    if image.dtype == np.uint8:
        return image
    return np.round(image * 255).astype(np.uint8)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge an image by repeating each pixel ``factor`` times in both directions."""
    factor = validation.as_int(factor, "factor", minimum=1, maximum=64)
    image = validation.as_array(image, "image")
    if image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(
            f"image must have shape (height, width) or (height, width, channels), "
            f"but it has shape {image.shape}."
        )
    validation.check_size((image.shape[0] * factor, image.shape[1] * factor), "the enlarged image")
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def encode(image: np.ndarray, image_format: str = "jpeg", quality: int = 85) -> bytes:
    """Encode an image as JPEG (photos) or PNG (sharp pixel grids) bytes for ``widgets.Image``."""
    from PIL import Image

    validation.one_of(image_format, "image_format", ["jpeg", "png"])
    pixels = to_uint8(image)
    buffer = io.BytesIO()
    if image_format == "jpeg":
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    else:
        Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class Interactive:
    """Controls plus a render callback, displayed as one widget.

    Parameters
    ----------
    controls : dict of str -> ipywidgets.ValueWidget
        The inputs; ``render`` receives their current values under the same names.
    render : callable(dict) -> dict
        Recomputes and updates the display widgets; returns what tests may inspect.
    layout : ipywidgets.Widget
        The container shown in the notebook (controls and display widgets).
    """

    def __init__(self, controls: dict, render: Callable[[dict], dict], layout):
        import ipywidgets

        self.controls = dict(controls)
        self.layout = layout
        self._render = render
        self._held = False
        self.state: dict = {}
        self.render_count = 0
        self.last_render_seconds = 0.0
        # Shown only while the last render failed (see ``refresh``).
        self.error = ipywidgets.HTML(layout=ipywidgets.Layout(display="none"))
        self.error.add_class("lab-utils-widget-error")
        self.widget = ipywidgets.VBox([layout, self.error])
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.refresh()

    def values(self) -> dict:
        """The current value of every control."""
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self) -> dict:
        """Render now with the current control values and return the new state."""
        start = time.perf_counter()
        try:
            self.state = self._render(self.values()) or {}
        except Exception as error:  # noqa: BLE001 - every render error is shown to the student
            self.state = {"error": error_text(error)}
            self.error.value = (
                f'<div style="color:#b00020;font-weight:bold">'
                f"{html.escape(self.state['error'])}</div>"
            )
            self.error.layout.display = None
        else:
            if self.error.layout.display != "none":
                self.error.value = ""
                self.error.layout.display = "none"
        self.last_render_seconds = time.perf_counter() - start
        self.render_count += 1
        return self.state

    @contextlib.contextmanager
    def hold(self) -> Iterator[Interactive]:
        """Change several controls (a preset) and render once at the end."""
        self._held = True
        try:
            yield self
        finally:
            self._held = False
            self.refresh()

    def _on_change(self, change):
        if not self._held:
            self.refresh()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def error_text(error: BaseException) -> str:
    """A render error in plain words: the kit's own messages as they are, others named."""
    message = str(error).strip() or type(error).__name__
    if isinstance(error, (ValueError, TypeError)):
        return f"Cannot show this setting: {message}"
    return (
        f"Something went wrong while drawing ({type(error).__name__}: {message}). "
        f"Change a control to try again."
    )


def labelled(widget: ipywidgets.Widget, text: str) -> ipywidgets.VBox:
    """A display widget with a short caption above it."""
    import ipywidgets

    return ipywidgets.VBox([ipywidgets.HTML(f"<b>{text}</b>"), widget])
