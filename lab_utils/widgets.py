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

Every widget fits a projector (Chromium at 1280 x 720, JupyterLab's bars included): ``show``
sizes each picture in CSS pixels within ``MAX_PICTURE_WIDTH`` x ``MAX_PICTURE_HEIGHT`` (an
``Image`` without a size stretches to the width of its box, ~845 pixels in a notebook), and
``Interactive`` gives every control's label the room it needs (no "IoU thresh…"). ``show``
also sets the picture's text description for screen readers (an aria-live text beside the
image, not drawn), which says what the picture shows and changes with it.
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


#: The largest picture a widget shows, in CSS pixels: with two rows of controls and a caption
#: it stays inside JupyterLab's notebook area on a 1280 x 720 projector.
MAX_PICTURE_WIDTH = 720
MAX_PICTURE_HEIGHT = 400


#: CSS classes of a picture's box and of its text description (browser tests look for them).
PICTURE_CLASS, DESCRIPTION_CLASS = "lab-utils-picture", "lab-utils-description"

# Read by screen readers (and announced when it changes: aria-live), not drawn on the page.
_SCREEN_READER_ONLY = (
    "position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;"
    "clip:rect(0,0,0,0);white-space:nowrap;border:0"
)


def picture_widget(image_format: str = "png") -> ipywidgets.Box:
    """An empty picture for ``show``: an ``ipywidgets.Image`` that its box never stretches,
    followed by its text description for screen readers (an HTML widget, not drawn).

    The box goes into a layout like any widget; ``picture.image`` is the ``Image`` and
    ``picture.description`` the ``HTML`` widget. (An ``Image`` cannot carry the text itself:
    ipywidgets 8.1's browser side fails to draw an ``Image`` whose ``tooltip`` is set.)
    """
    import ipywidgets

    validation.one_of(image_format, "image_format", ["jpeg", "png"])
    image = ipywidgets.Image(
        format=image_format, layout=ipywidgets.Layout(object_fit="contain", flex="0 0 auto")
    )
    description = ipywidgets.HTML()
    picture = ipywidgets.Box(
        [image, description], layout=ipywidgets.Layout(flex_flow="column", flex="0 0 auto")
    )
    picture.add_class(PICTURE_CLASS)
    picture.image, picture.description = image, description
    return picture


def display_size(
    shape: tuple, max_width: int = MAX_PICTURE_WIDTH, max_height: int = MAX_PICTURE_HEIGHT
) -> tuple[int, int]:
    """(width, height) in CSS pixels to show an image of ``shape`` (height, width, ...) at:
    its own size, or smaller (aspect kept) to fit ``max_width`` x ``max_height``."""
    height, width = int(shape[0]), int(shape[1])
    max_width = validation.as_int(max_width, "max_width", minimum=16)
    max_height = validation.as_int(max_height, "max_height", minimum=16)
    factor = min(1.0, max_width / width, max_height / height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def show(
    picture: ipywidgets.Box,
    image: np.ndarray,
    description: str,
    *,
    max_width: int = MAX_PICTURE_WIDTH,
    max_height: int = MAX_PICTURE_HEIGHT,
    quality: int = 85,
) -> None:
    """Put ``image`` into ``picture`` (encoded in the widget's format), sized in CSS pixels.

    Parameters
    ----------
    picture : ipywidgets.Box
        Made by ``picture_widget`` (its image's ``format`` says JPEG or PNG).
    image : ndarray, (H, W) or (H, W, 3), uint8 or float in [0, 1]
    description : str
        What the picture shows, in words, for screen readers (``description_of`` reads it
        back): the values that made it and what is in it. Updated with the picture.
    max_width, max_height : int
        The box the picture must fit, in CSS pixels (aspect kept, never enlarged).
    """
    if not isinstance(description, str) or not description.strip():
        raise TypeError("description must say in words what the picture shows.")
    image = validation.as_image(image, "image")
    width, height = display_size(image.shape, max_width, max_height)
    picture.image.value = encode(image, picture.image.format, quality=quality)
    picture.image.layout.width, picture.image.layout.height = f"{width}px", f"{height}px"
    picture.description.value = (
        f'<span class="{DESCRIPTION_CLASS}" role="note" aria-live="polite" '
        f'style="{_SCREEN_READER_ONLY}">{html.escape(description)}</span>'
    )


def description_of(picture: ipywidgets.Box) -> str:
    """The text description ``show`` gave a picture (plain text; "" before the first show)."""
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", picture.description.value))


def caption_strip(image: np.ndarray, lines: list[str], *, font_size: int = 14) -> np.ndarray:
    """``image`` (as RGB uint8) with a white strip below it holding ``lines`` of text.

    Widgets write the settings a picture was made with into it, so the picture itself changes
    with every step of a control (also when the step changes no detection, no verdict), and a
    screenshot of it on a slide still says what it shows.

    Parameters
    ----------
    image : ndarray, (H, W) or (H, W, 3), uint8 or float in [0, 1]
    lines : list of str
        Short lines; a line wider than the picture is wrapped between words.
    font_size : int
        In image pixels (the picture is shown at its own size or smaller).
    """
    from PIL import Image, ImageDraw, ImageFont

    pixels = to_uint8(image)
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    font_size = validation.as_int(font_size, "font_size", minimum=6, maximum=64)
    line_height = round(font_size * 1.3)
    font = ImageFont.load_default(size=font_size)
    wrapped = []
    for line in lines:
        words = str(line).split(" ")
        current = words[0]
        for word in words[1:]:
            if font.getlength(f"{current} {word}") <= pixels.shape[1] - 8:
                current = f"{current} {word}"
            else:
                wrapped.append(current)
                current = word
        wrapped.append(current)
    strip = Image.new("RGB", (pixels.shape[1], line_height * len(wrapped) + 6), "white")
    draw = ImageDraw.Draw(strip)
    for number, line in enumerate(wrapped):
        draw.text((4, 3 + number * line_height), str(line), fill=(0, 0, 0), font=font)
    return np.concatenate([pixels, np.asarray(strip)], axis=0)


def shown(widget: ipywidgets.Widget) -> tuple:
    """Everything a widget tree shows: its pictures' bytes and its HTML/Label texts, in order.

    Tests compare two of these to know whether a control changed what the class sees.
    """
    found = []
    stack = [widget]
    while stack:
        node = stack.pop(0)
        children = getattr(node, "children", None)
        if children:
            stack[0:0] = list(children)
        elif type(node).__name__ == "Image":
            found.append(bytes(node.value))
        elif type(node).__name__ in ("HTML", "Label", "HTMLMath"):
            found.append(node.value)
    return tuple(found)


def fit_controls(controls: dict) -> None:
    """Give each control's label the room it needs, so no label is cut ("IoU thresh…").

    A label whose width was not chosen by the builder gets its natural width; a slider grows
    by as much so its track keeps its length; toggle buttons get the width of their texts; a
    check box's label follows the box instead of sitting in the labels' column.
    """
    for control in controls.values():
        style = getattr(control, "style", None)
        kind = type(control).__name__
        if kind == "Checkbox":
            control.indent = False
            control.layout.width = "auto"
            continue
        if style is not None and "button_width" in style.keys and not style.button_width:
            style.button_width = "auto"
        description = getattr(control, "description", "")
        if not description or style is None or "description_width" not in style.keys:
            continue
        if not style.description_width:
            style.description_width = "initial"
            if "Slider" in kind and not control.layout.width:
                control.layout.width = f"calc({len(description) + 2}ch + 300px)"


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
        fit_controls(self.controls)
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
