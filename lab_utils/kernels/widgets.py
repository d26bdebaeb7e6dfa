"""Lesson 02's widgets: the convolution stepper, the kernel editor and the pooling stepper
(and the HTML tables of numbers they show).

Thin builders: the numbers and pixels they show come from ``lab_utils.kernels.compute``.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np

from lab_utils import plots, validation
from lab_utils import widgets as kit_widgets
from lab_utils.kernels import compute


def _number(value: float) -> str:
    """A number as the steppers write it: whole numbers without decimals, others with 2."""
    value = float(value)
    return f"{value:.0f}" if value == round(value) else f"{value:.2f}"


def grid_html(
    values: np.ndarray,
    *,
    highlight: tuple | None = None,
    hidden: np.ndarray | None = None,
    caption: str = "",
    border: tuple = (0, 0),
) -> str:
    """An HTML table of numbers, with an optional highlighted block (for the steppers).

    Parameters
    ----------
    values : array_like, shape (H, W), at most 16x16 (after padding: 24x24)
    highlight : tuple (row, column, height, width), optional
        The block drawn with a coloured background (the kernel or pooling window).
    hidden : ndarray of bool, shape (H, W), optional
        Cells left blank (output pixels not computed yet).
    border : tuple (rows, columns)
        Width of a padding border drawn in gray (zeros added around the input).
    """
    values = compute.as_grid(values, "values", max_side=24)
    if hidden is not None:
        hidden = np.asarray(hidden, dtype=bool)
        if hidden.shape != values.shape:
            raise ValueError(
                f"hidden must have the same shape as values {values.shape}, but "
                f"it has shape {hidden.shape}."
            )
    rows = []
    for r in range(values.shape[0]):
        cells = []
        for c in range(values.shape[1]):
            inside = highlight is not None and (
                highlight[0] <= r < highlight[0] + highlight[2]
                and highlight[1] <= c < highlight[1] + highlight[3]
            )
            text = "" if hidden is not None and hidden[r, c] else _number(values[r, c])
            padding = not (
                border[0] <= r < values.shape[0] - border[0]
                and border[1] <= c < values.shape[1] - border[1]
            )
            background = plots.hex_colour("orange") if inside else "#f4f4f4"
            ink = "#999" if padding else "#000"
            cells.append(
                f'<td style="background:{background};border:1px solid #bbb;'
                f"color:{ink};"
                f"width:2.4em;height:1.9em;text-align:center;font:12px monospace;"
                f'padding:0">{text}</td>'
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    title = f"<div><b>{html.escape(caption)}</b></div>" if caption else ""
    return (
        f'<div style="margin-right:1.2em">{title}<table style="border-collapse:collapse">'
        + "".join(rows)
        + "</table></div>"
    )


def convolution_stepper(
    grid: np.ndarray = compute.SLIDE_GRID, kernel: np.ndarray | None = None
) -> kit_widgets.Interactive:
    """Widget: move the kernel over a small grid; see the products, their sum and the output.

    Parameters
    ----------
    grid : array_like, shape (H, W), at most 16x16 (default ``SLIDE_GRID``)
    kernel : array_like, shape (kh, kw), default a 3x3 kernel of ones (as on the slide)

    Controls: ``step`` (kernel position), ``padding`` ('valid' or 'same'), ``stride`` (1 or 2).
    ``state`` holds what ``convolution_step`` returned for the current position.
    """
    import ipywidgets

    grid = compute.as_grid(grid, "grid", max_side=compute.MAX_GRID_SIDE)
    # odd: the padding buttons offer 'same', which centres the kernel on each pixel.
    kernel = np.ones((3, 3)) if kernel is None else compute.as_kernel(kernel, odd=True)
    if kernel.shape[0] > grid.shape[0] or kernel.shape[1] > grid.shape[1]:
        raise ValueError(
            f"the kernel ({kernel.shape[0]}x{kernel.shape[1]}) is larger than the "
            f"grid ({grid.shape[0]}x{grid.shape[1]}): with padding 'valid' there "
            f"is no position where it fits. Use a larger grid or a smaller kernel."
        )
    controls = {
        "step": ipywidgets.IntSlider(0, 0, 0, description="position"),
        "padding": ipywidgets.ToggleButtons(options=["valid", "same"], description="padding"),
        "stride": ipywidgets.ToggleButtons(options=[1, 2], description="stride"),
    }
    board = ipywidgets.HTML()
    explanation = ipywidgets.HTML()

    def render(values):
        positions = compute.window_positions(
            grid.shape, kernel.shape, values["padding"], values["stride"]
        )
        step = min(values["step"], len(positions) - 1)
        # Fewer positions after a padding/stride change: keep the slider inside them.
        controls["step"].max = len(positions) - 1
        result = compute.convolution_step(grid, kernel, step, values["padding"], values["stride"])
        row, column = result["position"]
        out_row, out_column = result["output_index"]
        hidden = np.arange(result["output"].size).reshape(result["output"].shape) > step
        board.value = (
            '<div style="display:flex;align-items:flex-start;flex-wrap:wrap">'
            + grid_html(
                result["padded"],
                highlight=(row, column) + kernel.shape,
                border=compute.padding_amount(values["padding"], kernel.shape),
                caption=f"input {result['padded'].shape[0]}x{result['padded'].shape[1]} (padded)",
            )
            + grid_html(kernel, caption="kernel")
            + grid_html(result["products"], caption="window x kernel")
            + grid_html(
                result["output"],
                hidden=hidden,
                highlight=(out_row, out_column, 1, 1),
                caption=f"output {result['output'].shape[0]}x{result['output'].shape[1]}",
            )
            + "</div>"
        )
        terms = " + ".join(_number(v) for v in result["products"].ravel())
        # The slider counts from 0, like the output's indices: say the same number.
        explanation.value = (
            f"Position {step} (of 0 to {result['steps'] - 1}): sum of the "
            f"products "
            f"= {terms} = <b>{_number(result['value'])}</b> -> output "
            f"[{out_row}, {out_column}]"
        )
        return result

    layout = ipywidgets.VBox(
        [
            controls["step"],
            ipywidgets.HBox([controls["padding"], controls["stride"]]),
            board,
            explanation,
        ]
    )
    return kit_widgets.Interactive(controls, render, layout)


_DISPLAY_NOTES = {
    "clip": "<b>clip</b>: below 0 shows black, above 1 shows white, the rest keeps its "
    "brightness. Honest about brightness; negative responses (half of every edge) "
    "vanish.",
    "rescale": "<b>rescale</b>: the lowest value shows black, the highest white. Shows every "
    "detail (for an edge detector 0, a flat region, becomes a gray in between) "
    "but hides the scale: a blur 16 times too bright looks normal.",
}


def kernel_editor(
    photos: dict, preset: str = "sharpen", *, width: int = 320
) -> kit_widgets.Interactive:
    """Widget for live demos: edit a 3x3 kernel and see it applied to a photo.

    Parameters
    ----------
    photos : dict of str -> ndarray
        Name -> image ((H, W) or (H, W, 3), uint8 or float in [0, 1]); 512x512 photos
        update in about 20 ms (Python side).
    preset : str
        The kernel to start with, a key of ``CLASSIC_KERNELS`` (or "gaussian blur (no /16)").
    width : int
        Display width of each image in pixels.

    Controls: ``k00`` ... ``k22`` (the nine weights, row by row), ``preset`` (fills the nine
    weights at once and renders once), ``normalise`` (divide by the sum of the weights),
    ``photo`` and ``display`` ('clip' or 'rescale'). ``state`` holds ``kernel`` (as
    applied), ``response`` (raw values), ``image`` (shown, in [0, 1]) and ``clipped``.
    """
    import ipywidgets

    photos = _editor_photos(photos)
    presets = _editor_presets()
    validation.one_of(preset, "preset", list(presets))
    width = validation.as_int(width, "width", minimum=64, maximum=1024)

    cells, controls = _editor_controls(presets[preset], photos)
    preset_menu = ipywidgets.Dropdown(
        options=list(presets) + ["custom"], value=preset, description="preset"
    )
    before, after = kit_widgets.picture_widget("jpeg"), kit_widgets.picture_widget("jpeg")
    before.max_side = after.max_side = width  # read by the renderer (``widgets.show``)
    report = ipywidgets.HTML()
    syncing = {"preset": False}  # True while render itself updates the preset menu
    render = _editor_renderer(photos, presets, preset_menu, (before, after, report), syncing)
    layout = _editor_layout(cells, controls, preset_menu, report, before, after)
    editor = kit_widgets.Interactive(controls, render, layout)
    _follow_preset_menu(editor, cells, preset_menu, presets, syncing)
    editor.controls["preset"] = preset_menu  # listed for tests; rendered via apply_preset
    return editor


def _editor_controls(kernel: np.ndarray, photos: dict) -> tuple[dict, dict]:
    """The kernel editor's nine weight cells (set to ``kernel``) and all its controls (the
    cells, then normalise, photo and display)."""
    import ipywidgets

    cells = {
        f"k{r}{c}": ipywidgets.FloatText(
            value=float(kernel[r, c]), step=0.5, layout=ipywidgets.Layout(width="5.5em")
        )
        for r in range(3)
        for c in range(3)
    }
    controls = dict(cells)
    controls["normalise"] = ipywidgets.Checkbox(False, description="normalise (divide by sum)")
    controls["photo"] = ipywidgets.Dropdown(options=list(photos), description="photo")
    controls["display"] = ipywidgets.ToggleButtons(
        options=list(compute.DISPLAY_MODES), description="display"
    )
    return cells, controls


def _editor_renderer(
    photos: dict, presets: dict, preset_menu: object, images: tuple, syncing: dict
) -> Callable[[dict], dict]:
    """The kernel editor's render callback. ``images`` is (before, after, report); the
    preset menu follows the grid (naming the preset it holds, or "custom")."""
    before, after, report = images
    shown = {"photo": None}

    def render(values):
        kernel = np.array([[values[f"k{r}{c}"] for c in range(3)] for r in range(3)])
        kernel = compute.as_kernel(kernel)
        applied = compute.normalise_kernel(kernel) if values["normalise"] else kernel
        photo = photos[values["photo"]]
        side = before.max_side
        if shown["photo"] != values["photo"]:  # encode the unchanged side only when needed
            kit_widgets.show(
                before,
                photo,
                f"The photo {values['photo']} before filtering.",
                max_width=side,
                max_height=side,
            )
            shown["photo"] = values["photo"]
        response = compute.filter_image(photo, applied)
        image = compute.to_display(response, values["display"])
        clipped = compute.clipped_fraction(response)
        weights = "; ".join(
            ", ".join(f"{weight:g}" for weight in row) for row in np.asarray(applied)
        )
        # Rounded to uint8 here (the values are known to lie in [0, 1]) to skip re-checking.
        kit_widgets.show(
            after,
            (image * 255 + 0.5).astype(np.uint8),
            f"The photo {values['photo']} filtered with the 3x3 kernel (rows: {weights}), "
            f"shown with display {values['display']}; {clipped:.0%} of the values lie "
            f"outside 0 to 1.",
            max_width=side,
            max_height=side,
        )
        matching = [name for name, weights in presets.items() if np.allclose(weights, kernel)]
        if preset_menu.value not in matching:  # an edited cell: name what the grid holds
            syncing["preset"] = True
            try:
                preset_menu.value = matching[0] if matching else "custom"
            finally:
                syncing["preset"] = False
        report.value = _editor_report(
            kernel, values["normalise"], response, clipped, values["display"]
        )
        return {
            "kernel": applied,
            "response": response,
            "image": image,
            "clipped": clipped,
            "preset": preset_menu.value,
        }

    return render


def _follow_preset_menu(
    editor: kit_widgets.Interactive, cells: dict, preset_menu: object, presets: dict, syncing: dict
) -> None:
    """Choosing a preset fills the nine cells at once (one render); "custom" and the menu's
    own updates from render change nothing."""

    def apply_preset(change):
        if change["new"] == "custom" or syncing["preset"]:
            return
        with editor.hold():  # nine cells change, one render
            for r in range(3):
                for c in range(3):
                    cells[f"k{r}{c}"].value = float(presets[change["new"]][r, c])

    preset_menu.observe(apply_preset, names="value")


def _editor_presets() -> dict:
    """The kernel editor's presets: the classic kernels and the slide's blur without /16."""
    presets = dict(compute.CLASSIC_KERNELS)
    presets["gaussian blur (no /16)"] = compute.CLASSIC_KERNELS["gaussian blur"] * 16
    return presets


def _editor_photos(photos: dict) -> dict:
    """The kernel editor's photos, checked and converted once to float32 in [0, 1]: each
    update then costs one filter and one JPEG."""
    if not isinstance(photos, dict) or not photos:
        raise TypeError(
            "photos must be a non-empty dict mapping a name to an image, "
            "e.g. {'camera': data.load_image('camera')}."
        )
    return {
        name: kit_widgets.to_uint8(validation.as_image(image, f"photos[{name!r}]")).astype(
            np.float32
        )
        / np.float32(255)
        for name, image in photos.items()
    }


def _editor_report(
    kernel: np.ndarray, normalise: bool, response: np.ndarray, clipped: float, display: str
) -> str:
    """The kernel editor's HTML line: the weights' sum, the response's range, the display."""
    total = kernel.sum()
    normalise_note = ""
    if normalise:
        normalise_note = (
            " (sums to 0: left unchanged)" if abs(total) < 1e-9 else f" -> divided by {total:g}"
        )
    return (
        f"Weights sum to <b>{total:g}</b>{normalise_note}. Response range "
        f"{response.min():.2f} to {response.max():.2f}; "
        f"<b>{clipped:.0%}</b> of the values lie outside [0, 1].<br>" + _DISPLAY_NOTES[display]
    )


def _editor_layout(cells: dict, controls: dict, preset_menu, report, before, after):
    """The kernel editor's layout: the 3x3 grid beside the menus, the report, the images."""
    import ipywidgets

    grid_box = ipywidgets.GridBox(
        list(cells.values()),
        layout=ipywidgets.Layout(grid_template_columns="repeat(3, 6em)", width="20em"),
    )
    grid_box = kit_widgets.labelled(grid_box, "kernel: the 3x3 weights (type a number)")
    return ipywidgets.VBox(
        [
            ipywidgets.HBox(
                [
                    grid_box,
                    ipywidgets.VBox(
                        [preset_menu, controls["normalise"], controls["photo"], controls["display"]]
                    ),
                ]
            ),
            report,
            ipywidgets.HBox(
                [kit_widgets.labelled(before, "before"), kit_widgets.labelled(after, "after")]
            ),
        ]
    )


def pooling_stepper(
    grid: np.ndarray = compute.POOLING_GRID, size: int = 2
) -> kit_widgets.Interactive:
    """Widget: the pooling window visits each block; see the block, its max or mean, the output.

    Controls: ``step`` and ``mode`` ('max' or 'average'). ``state`` is ``pooling_step``'s dict.
    """
    import ipywidgets

    grid = compute.as_grid(grid, "grid", max_side=compute.MAX_GRID_SIDE)
    size = validation.as_int(size, "size", minimum=1, maximum=8)
    steps = compute.pool(grid, size).size
    controls = {
        "step": ipywidgets.IntSlider(0, 0, steps - 1, description="window"),
        "mode": ipywidgets.ToggleButtons(
            options=list(compute.POOLING_MODES), description="pooling"
        ),
    }
    board = ipywidgets.HTML()
    explanation = ipywidgets.HTML()

    def render(values):
        result = compute.pooling_step(grid, values["step"], size, values["mode"])
        hidden = np.arange(result["output"].size).reshape(result["output"].shape) > values["step"]
        board.value = (
            '<div style="display:flex;align-items:flex-start">'
            + grid_html(
                grid,
                highlight=result["position"] + (size, size),
                caption=f"input {grid.shape[0]}x{grid.shape[1]}",
            )
            + grid_html(
                result["output"],
                hidden=hidden,
                highlight=result["output_index"] + (1, 1),
                caption=f"{values['mode']} pooled "
                f"{result['output'].shape[0]}x{result['output'].shape[1]}",
            )
            + "</div>"
        )
        numbers = ", ".join(_number(v) for v in result["window"].ravel())
        operation = "max" if values["mode"] == "max" else "mean"
        explanation.value = (
            f"Window {values['step']} (of 0 to {result['steps'] - 1}): "
            f"{operation}({numbers}) = <b>{_number(result['value'])}</b>"
        )
        return result

    layout = ipywidgets.VBox(
        [ipywidgets.HBox([controls["step"], controls["mode"]]), board, explanation]
    )
    return kit_widgets.Interactive(controls, render, layout)
