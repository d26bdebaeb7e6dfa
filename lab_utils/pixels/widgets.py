"""Lesson 01's widgets: the pixel explorer (a zoom window and the numbers under it) and the
variation explorer (the slide's sources of variation on a photo).

Thin builders: the pixels they show come from ``lab_utils.pixels.compute``.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np

from lab_utils import validation
from lab_utils import widgets as kit_widgets
from lab_utils.pixels import compute


def pixel_table_html(block: np.ndarray, top: int | None = None, left: int | None = None) -> str:
    """An HTML table with one cell per pixel, painted in the pixel's colour, showing its numbers.

    Parameters
    ----------
    block : ndarray, shape (h, w) or (h, w, 3), uint8
        At most 24 x 24 pixels (a bigger table is unreadable).
    top, left : int, optional
        Where the block lies in its image: the table then gets a header row of column numbers
        and a first column of row numbers (the image coordinates of each pixel).
    """
    block = validation.as_image(block, "block")
    if block.dtype != np.uint8:
        raise TypeError(
            f"block must be uint8 (0-255) so that each cell shows whole numbers, "
            f"but its dtype is {block.dtype}. Use widgets.to_uint8(block)."
        )
    if block.shape[0] > 24 or block.shape[1] > 24:
        raise ValueError(
            f"block must be at most 24x24 pixels, but it is {block.shape[0]}x{block.shape[1]}."
        )
    if (top is None) != (left is None):
        raise TypeError("give both top and left (the block's position), or neither.")
    coordinates = top is not None
    if coordinates:
        top = validation.as_int(top, "top", minimum=0)
        left = validation.as_int(left, "left", minimum=0)
    rgb = block if block.ndim == 3 else np.stack([block] * 3, axis=-1)
    # Shared styles once, in a class (a 16x16 RGB table is 3 times smaller than with the
    # same declarations repeated in every cell: less to send and parse at each update).
    # Row heights chosen so a MAX_BLOCK x MAX_BLOCK RGB table (three numbers per cell) fits a
    # 1280 x 720 projector together with the explorer's controls.
    height = "2.2em" if block.ndim == 2 else "3.3em"
    rows = [
        f"<style>.lab-pixels td{{width:2.6em;height:{height};text-align:center;"
        f"font:10px/1.05 monospace;padding:0}} .lab-pixels th{{font:bold 10px monospace;"
        f"color:#555;padding:0 3px;text-align:right}}</style>"
    ]
    if coordinates:
        rows.append(
            "<tr><th>row\\col</th>"
            + "".join(
                f'<th style="text-align:center">{left + c}</th>' for c in range(block.shape[1])
            )
            + "</tr>"
        )
    for r in range(block.shape[0]):
        cells = [f"<th>{top + r}</th>"] if coordinates else []
        for c in range(block.shape[1]):
            red, green, blue = (int(v) for v in rgb[r, c])
            text = f"{block[r, c]}" if block.ndim == 2 else f"{red}<br>{green}<br>{blue}"
            ink = "#000" if 0.2125 * red + 0.7154 * green + 0.0721 * blue > 128 else "#fff"
            cells.append(
                f'<td style="background:rgb({red},{green},{blue});color:{ink}">{text}</td>'
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<table class="lab-pixels" style="border-collapse:collapse;table-layout:fixed">'
        + "".join(rows)
        + "</table>"
    )


OVERVIEW_WIDTH = 360  # pixels: the width the pixel explorer shows a photo at
OVERVIEW_HEIGHT = 400  # pixels: and at most this tall (a portrait photo is shown narrower)
MAX_BLOCK = 12  # the largest block: its RGB table still fits a 1280 x 720 projector


def pixel_explorer(photos: dict, size: int = 10) -> kit_widgets.Interactive:
    """Widget: choose a photo, move a zoom window over it and read the pixel values.

    Parameters
    ----------
    photos : dict of str -> ndarray
        Name -> image ((H, W) or (H, W, 3), uint8).
    size : int
        Initial side of the zoom window in pixels (2 to ``MAX_BLOCK``).

    The overview carries a text description of what it shows (read by screen readers,
    ``widgets.show``), updated with the frame.
    """
    import ipywidgets

    photos = _pixel_explorer_photos(photos)
    controls = _pixel_explorer_controls(photos, size)
    overview = kit_widgets.picture_widget("jpeg")
    table = ipywidgets.HTML()
    caption = ipywidgets.HTML()
    render = _pixel_explorer_renderer(photos, controls, overview, table, caption)
    layout = _pixel_explorer_layout(controls, overview, table, caption)
    return kit_widgets.Interactive(controls, render, layout)


def _pixel_explorer_photos(photos: dict) -> dict:
    """The pixel explorer's photos, checked (a non-empty dict with string keys) and as uint8."""
    if not isinstance(photos, dict) or not photos:
        raise TypeError(
            "photos must be a non-empty dict mapping a name to an image, "
            "e.g. {'coffee': data.load_image('coffee')}."
        )
    for name in photos:
        if not isinstance(name, str):
            raise TypeError(
                f"photos must map a name (a string) to an image, but one key is "
                f"{validation.describe(name)} ({name!r})."
            )
    return {
        name: kit_widgets.to_uint8(validation.as_image(image, f"photos[{name!r}]"))
        for name, image in photos.items()
    }


def _pixel_explorer_controls(photos: dict, size: int) -> dict:
    """The pixel explorer's controls: the photo, the block's row and column, its size."""
    import ipywidgets

    first = next(iter(photos.values()))
    return {
        "photo": ipywidgets.Dropdown(options=list(photos), description="photo"),
        "row": ipywidgets.IntSlider(0, 0, first.shape[0] - 1, description="row"),
        "column": ipywidgets.IntSlider(0, 0, first.shape[1] - 1, description="column"),
        "size": ipywidgets.IntSlider(
            value=validation.as_int(size, "size", minimum=2, maximum=MAX_BLOCK),
            min=2,
            max=MAX_BLOCK,
            description="block size",
        ),
    }


def _pixel_explorer_renderer(
    photos: dict, controls: dict, overview: object, table: object, caption: object
) -> Callable[[dict], dict]:
    """The pixel explorer's render callback: the framed overview, the table and the caption."""
    # Each photo shrunk once to the width it is shown at: an update then frames and encodes
    # a 360-pixel-wide picture (about 1 ms) instead of the full photo.
    shrunk = {
        name: compute.shrink_to_width(
            image if image.ndim == 3 else np.stack([image] * 3, axis=-1), OVERVIEW_WIDTH
        )
        for name, image in photos.items()
    }

    def render(values):
        image = photos[values["photo"]]
        size = values["size"]
        # Row and column are the block's top-left pixel, so their largest value is the photo's
        # side minus the block's: the sliders then always show the block's real position.
        # The maxima are set at the end; lowering one can move a slider, which renders again
        # with the moved value: the same block, so nothing new is sent.
        block = compute.zoom_region(image, values["row"], values["column"], size)
        top = min(values["row"], image.shape[0] - block.shape[0])
        left = min(values["column"], image.shape[1] - block.shape[1])
        where = (
            f"block {block.shape[0]}x{block.shape[1]}: rows {top}-{top + block.shape[0] - 1}, "
            f"columns {left}-{left + block.shape[1] - 1}"
        )
        kit_widgets.show(
            overview,
            # The block's place in words under the photo: a one-pixel move of the block is
            # too small to move the frame on the shrunk photo, the words always change.
            kit_widgets.caption_strip(
                compute.framed_display(
                    shrunk[values["photo"]], image.shape, top, left, block.shape[0]
                ),
                [where],
            ),
            f"The photo {values['photo']} ({image.shape[1]} pixels wide, {image.shape[0]} "
            f"high) with a red frame around the {block.shape[0]}x{block.shape[1]} block at rows "
            f"{top}-{top + block.shape[0] - 1}, columns {left}-{left + block.shape[1] - 1}; "
            f"the table beside it lists that block's pixel values.",
            max_width=OVERVIEW_WIDTH,
            max_height=OVERVIEW_HEIGHT,
        )
        table.value = pixel_table_html(block, top, left)
        kind = "RGB: red, green, blue per pixel" if image.ndim == 3 else "grayscale"
        caption.value = (
            f"{html.escape(values['photo'])}: shape {image.shape}, dtype "
            f"{image.dtype}, {kind}. The red frame on the left marks the "
            f"{block.shape[0]}x{block.shape[1]} block shown in the table: rows "
            f"{top}-{top + block.shape[0] - 1}, columns "
            f"{left}-{left + block.shape[1] - 1}."
        )
        # Last, so the new pixels are sent first (a slider's new range is not urgent).
        controls["row"].max = max(image.shape[0] - size, 0)
        controls["column"].max = max(image.shape[1] - size, 0)
        return {"block": block, "top": top, "left": left}

    return render


def _pixel_explorer_layout(
    controls: dict, overview: object, table: object, caption: object
) -> object:
    """The pixel explorer's layout: two rows of controls, the caption, the overview and table."""
    import ipywidgets

    return ipywidgets.VBox(
        [
            ipywidgets.HBox([controls["photo"], controls["size"]]),
            ipywidgets.HBox([controls["row"], controls["column"]]),
            caption,
            ipywidgets.HBox([overview, table]),
        ]
    )


def variation_explorer(
    photo: np.ndarray, *, clutter: np.ndarray, class_examples: list
) -> kit_widgets.Interactive:
    """Widget: pick a variation from the slide and its strength; see the photo change.

    Parameters
    ----------
    photo : ndarray, (H, W, 3) or (H, W)
        The photo to vary (keep it small, about 256 pixels, for fast updates).
    clutter : ndarray
        Texture for the "clutter" variation.
    class_examples : list of ndarray
        Other members of the photo's class for "intra-class".
    """
    import ipywidgets

    photo = kit_widgets.to_uint8(validation.as_image(photo, "photo"))
    # Both are needed by one of the toggle buttons: checked now, not when a student clicks.
    if clutter is None:
        raise TypeError(
            "clutter must be an image (a busy texture for the 'clutter' "
            "variation), e.g. clutter=data.load_image('gravel'), but got None."
        )
    clutter = validation.as_image(clutter, "clutter")
    if not isinstance(class_examples, (list, tuple)) or not class_examples:
        raise TypeError(
            f"class_examples must be a non-empty list of images (other members of "
            f"the photo's class, for 'intra-class'), but got "
            f"{validation.describe(class_examples)}."
        )
    class_examples = [
        validation.as_image(example, f"class_examples[{index}]")
        for index, example in enumerate(class_examples)
    ]
    controls = {
        "variation": ipywidgets.ToggleButtons(
            options=list(compute.VARIATIONS), description="variation"
        ),
        "strength": ipywidgets.FloatSlider(
            0.5, min=0.0, max=1.0, step=0.05, description="strength"
        ),
    }
    before, after = kit_widgets.picture_widget("jpeg"), kit_widgets.picture_widget("jpeg")
    side = 360  # each picture's largest side in CSS pixels: the pair fits a 1280 projector
    kit_widgets.show(
        before, photo, "The original photo, unchanged.", max_width=side, max_height=side
    )
    report = ipywidgets.HTML()

    def render(values):
        varied = compute.apply_variation(
            photo,
            values["variation"],
            values["strength"],
            clutter=clutter,
            class_examples=class_examples,
        )
        distance = float(np.linalg.norm(varied.astype(float) - photo.astype(float)) / 255)
        kit_widgets.show(
            after,
            varied,
            f"The photo with the variation {values['variation']} at strength "
            f"{values['strength']:.2f}: pixel distance {distance:.1f} to the original.",
            max_width=side,
            max_height=side,
        )
        report.value = (
            f"Pixel distance to the original: <b>{distance:.1f}</b> "
            f"(the same object, yet the numbers change a lot)"
        )
        return {"image": varied, "distance": distance}

    layout = ipywidgets.VBox(
        [
            controls["variation"],
            controls["strength"],
            report,
            ipywidgets.HBox(
                [kit_widgets.labelled(before, "original"), kit_widgets.labelled(after, "varied")]
            ),
        ]
    )
    return kit_widgets.Interactive(controls, render, layout)
