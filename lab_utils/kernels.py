"""Lesson 02 "Kernels": convolution step by step, the classic kernels on real photos, pooling.

Compute functions (pure, tested), the lesson's widget builders and the checks of its
exercises. ``CLASSIC_KERNELS`` is the slide's kernel table, corrected; lesson 04 reuses it.
Importing this module does not import TensorFlow: Keras is imported inside the functions
that need it, through ``lesson.import_keras()``.
"""

from __future__ import annotations

import html

import numpy as np

from lab_utils import exercises, lesson, validation, widgets

# --------------------------------------------------------------------------------------------
# The slide's kernel table, corrected
# --------------------------------------------------------------------------------------------


def _kernel(rows, scale: float = 1.0) -> np.ndarray:
    kernel = np.array(rows, dtype=np.float64) * scale
    kernel.setflags(write=False)   # shared by every lesson: nobody may edit it in place
    return kernel


#: name -> 3x3 float64 kernel (read-only arrays; ``.copy()`` one to modify it).
#: Corrections to the slide: its third row, [[0,1,0],[1,-4,1],[0,1,0]], is labelled
#: "Identity" but is the Laplacian; its Gaussian blur [[1,2,1],[2,4,2],[1,2,1]] must be
#: divided by 16 (the weights then sum to 1), otherwise the image brightens 16-fold.
CLASSIC_KERNELS: dict[str, np.ndarray] = {
    "identity": _kernel([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "edge (diagonal)": _kernel([[1, 0, -1], [0, 0, 0], [-1, 0, 1]]),
    "laplacian": _kernel([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "edge (all directions)": _kernel([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
    "sharpen": _kernel([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "gaussian blur": _kernel([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 1 / 16),
    "box blur": _kernel(np.ones((3, 3)), 1 / 9),
    "sobel x": _kernel([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "sobel y": _kernel([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
}

#: The small 0/1 image the convolution stepper starts with (a diagonal stroke and a bar),
#: small enough to read every product, as on the slide's "3x3 kernel of ones" example.
SLIDE_GRID = np.array([[1, 1, 1, 0, 0, 0],
                       [0, 1, 1, 1, 0, 0],
                       [0, 0, 1, 1, 1, 0],
                       [0, 0, 1, 1, 0, 0],
                       [0, 1, 1, 0, 0, 0],
                       [1, 1, 0, 0, 0, 1]], dtype=np.int64)
SLIDE_GRID.setflags(write=False)

#: The 4x4 feature map of the pooling example (2x2 window, stride 2 -> 2x2 output).
POOLING_GRID = np.array([[1, 1, 2, 4],
                         [5, 6, 7, 8],
                         [3, 2, 1, 0],
                         [1, 2, 3, 4]], dtype=np.int64)
POOLING_GRID.setflags(write=False)

#: Largest kernel weight accepted (in absolute value): float32 images overflow near 3.4e38,
#: and a response above ~1e6 shows pure white or black in either display mode anyway.
MAX_KERNEL_WEIGHT = 1e6

_MAX_GRID_SIDE = 16          # the step-by-step views write every number: keep them readable


# --------------------------------------------------------------------------------------------
# Input checks (student-readable messages)
# --------------------------------------------------------------------------------------------


def _as_grid(values, name: str, *, max_side: int | None = None,
             kernel: bool = False) -> np.ndarray:
    """A finite 2-D array of numbers, as float64 (``kernel``: word the errors for a kernel)."""
    array = validation.as_array(values, name)
    if array.ndim != 2:
        advice = ("A kernel is 2-D: write a row as np.array([[1, 0, -1]]) (two pairs of "
                  "brackets) and a column as np.array([[1], [0], [-1]])." if kernel else
                  "For a colour image pass one channel, e.g. image[..., 0].")
        raise ValueError(f"{name} must be a 2-D array (rows, columns), but it has shape "
                         f"{array.shape}. {advice}")
    if array.size == 0:
        raise ValueError(f"{name} is empty: its shape is {array.shape}.")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    if max_side is not None and max(array.shape) > max_side:
        raise ValueError(f"{name} must be at most {max_side}x{max_side} for the step-by-step "
                         f"view (every number is written out), but it is "
                         f"{array.shape[0]}x{array.shape[1]}.")
    return array


def as_kernel(kernel, name: str = "kernel", *, odd: bool = False) -> np.ndarray:
    """Check that ``kernel`` is a 2-D grid of finite numbers and return it as float64.

    Parameters
    ----------
    kernel : array_like, shape (kh, kw)
        e.g. one of ``CLASSIC_KERNELS``, or a nested list such as ``[[0, 1, 0], ...]``.
    odd : bool
        Also require odd height and width, so that the kernel has a centre pixel (needed
        for 'same' padding, where the output pixel sits under the kernel's centre).
    """
    kernel = _as_grid(kernel, name, kernel=True)
    if kernel.shape[0] > 64 or kernel.shape[1] > 64:
        raise ValueError(f"{name} must be at most 64x64, but it has shape {kernel.shape}.")
    largest = float(np.abs(kernel).max())
    if largest > MAX_KERNEL_WEIGHT:
        row, column = np.unravel_index(int(np.abs(kernel).argmax()), kernel.shape)
        raise ValueError(f"{name}'s weights must lie between -{MAX_KERNEL_WEIGHT:g} and "
                         f"{MAX_KERNEL_WEIGHT:g}, but the weight at row {row}, column {column} "
                         f"is {kernel[row, column]:g}: a response that large overflows the "
                         f"float32 images and shows nothing useful.")
    if odd and (kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0):
        raise ValueError(f"{name} must have an odd height and width (3x3, 5x5, ...) so that "
                         f"it has a centre pixel for 'same' padding, but it has shape "
                         f"{kernel.shape}. Use padding='valid' or an integer padding for "
                         f"even-sized kernels.")
    return kernel


def padding_amount(padding, kernel_shape) -> tuple[int, int]:
    """Zero rows and columns added on each side: ``(rows, columns)``.

    Parameters
    ----------
    padding : 'valid', 'same' or int >= 0
        'valid' adds nothing; 'same' adds (k - 1) // 2 on each side, which keeps the size
        at stride 1 and needs an odd kernel; an integer adds that many on every side.
    kernel_shape : tuple (kh, kw)
    """
    if isinstance(padding, str):
        validation.one_of(padding, "padding", ["valid", "same"])
        if padding == "valid":
            return 0, 0
        if kernel_shape[0] % 2 == 0 or kernel_shape[1] % 2 == 0:
            raise ValueError(f"padding='same' needs a kernel with odd height and width (it "
                             f"centres the kernel on each pixel), but the kernel has shape "
                             f"{tuple(kernel_shape)}. Use padding='valid' or an integer.")
        return (kernel_shape[0] - 1) // 2, (kernel_shape[1] - 1) // 2
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)):
        raise TypeError(f"padding must be 'valid', 'same' or a whole number of pixels, but "
                        f"got {validation.describe(padding)} ({padding!r}).")
    amount = validation.as_int(padding, "padding", minimum=0, maximum=64)
    return amount, amount


# --------------------------------------------------------------------------------------------
# Convolution step by step
# --------------------------------------------------------------------------------------------


def correlate(grid, kernel, padding="valid", stride: int = 1) -> np.ndarray:
    """Cross-correlation ("convolution" in deep learning) with zero padding and a stride.

    Computed with ``scipy.signal.correlate2d`` on the zero-padded grid, then every
    ``stride``-th row and column: the same numbers as ``keras.layers.Conv2D``.

    Parameters
    ----------
    grid : array_like, shape (H, W)
    kernel : array_like, shape (kh, kw)
    padding : 'valid', 'same' or int
    stride : int >= 1

    Returns
    -------
    ndarray, float64, shape ((H + 2p - kh) // stride + 1, (W + 2p - kw) // stride + 1)
    """
    from scipy import signal
    grid = _as_grid(grid, "grid")
    kernel = as_kernel(kernel)
    stride = validation.as_int(stride, "stride", minimum=1, maximum=64)
    pad_rows, pad_columns = padding_amount(padding, kernel.shape)
    padded = np.pad(grid, ((pad_rows, pad_rows), (pad_columns, pad_columns)))
    if padded.shape[0] < kernel.shape[0] or padded.shape[1] < kernel.shape[1]:
        raise ValueError(f"the kernel ({kernel.shape[0]}x{kernel.shape[1]}) is larger than the "
                         f"padded grid ({padded.shape[0]}x{padded.shape[1]}): there is no "
                         f"position where it fits.")
    return signal.correlate2d(padded, kernel, mode="valid")[::stride, ::stride]


def window_positions(grid_shape, kernel_shape, padding="valid", stride: int = 1) -> list:
    """Top-left corners (row, column), in padded coordinates, of every kernel position.

    Listed in reading order (left to right, then top to bottom), one per output pixel.
    """
    grid_shape = _as_shape(grid_shape, "grid_shape")
    kernel_shape = _as_shape(kernel_shape, "kernel_shape")
    stride = validation.as_int(stride, "stride", minimum=1, maximum=64)
    pad_rows, pad_columns = padding_amount(padding, kernel_shape)
    last_row = grid_shape[0] + 2 * pad_rows - kernel_shape[0]
    last_column = grid_shape[1] + 2 * pad_columns - kernel_shape[1]
    return [(row, column) for row in range(0, last_row + 1, stride)
            for column in range(0, last_column + 1, stride)]


def _as_shape(shape, name):
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise TypeError(f"{name} must be a pair (rows, columns), but got "
                        f"{validation.describe(shape)} ({shape!r}).")
    return tuple(validation.as_int(size, f"{name}[{index}]", minimum=1)
                 for index, size in enumerate(shape))


def convolution_step(grid, kernel, step: int, padding="valid", stride: int = 1) -> dict:
    """Everything the stepper shows for one kernel position.

    Parameters
    ----------
    grid : array_like, shape (H, W), at most 16x16
    kernel : array_like, shape (kh, kw)
    step : int
        Index of the position in reading order, 0 <= step < number of output pixels.

    Returns
    -------
    dict with
        ``padded`` (the zero-padded grid), ``position`` (top-left (row, column) in it),
        ``output_index`` (row, column of the output pixel), ``window`` (kh, kw),
        ``products`` (window * kernel, element-wise), ``value`` (their sum),
        ``output`` (the full result, float64), ``steps`` (number of positions).
    """
    grid = _as_grid(grid, "grid", max_side=_MAX_GRID_SIDE)
    kernel = as_kernel(kernel)
    output = correlate(grid, kernel, padding, stride)
    positions = window_positions(grid.shape, kernel.shape, padding, stride)
    step = validation.as_int(step, "step", minimum=0, maximum=len(positions) - 1)
    pad_rows, pad_columns = padding_amount(padding, kernel.shape)
    padded = np.pad(grid, ((pad_rows, pad_rows), (pad_columns, pad_columns)))
    row, column = positions[step]
    window = padded[row:row + kernel.shape[0], column:column + kernel.shape[1]]
    products = window * kernel
    return {"padded": padded, "position": (row, column),
            "output_index": divmod(step, output.shape[1]), "window": window,
            "products": products, "value": float(products.sum()), "output": output,
            "steps": len(positions)}


def _number(value) -> str:
    value = float(value)
    return f"{value:.0f}" if value == round(value) else f"{value:.2f}"


def grid_html(values, *, highlight=None, hidden=None, caption: str = "",
              border: tuple = (0, 0)) -> str:
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
    values = _as_grid(values, "values", max_side=24)
    if hidden is not None:
        hidden = np.asarray(hidden, dtype=bool)
        if hidden.shape != values.shape:
            raise ValueError(f"hidden must have the same shape as values {values.shape}, but "
                             f"it has shape {hidden.shape}.")
    rows = []
    for r in range(values.shape[0]):
        cells = []
        for c in range(values.shape[1]):
            inside = highlight is not None and (
                highlight[0] <= r < highlight[0] + highlight[2]
                and highlight[1] <= c < highlight[1] + highlight[3])
            text = "" if hidden is not None and hidden[r, c] else _number(values[r, c])
            padding = not (border[0] <= r < values.shape[0] - border[0]
                           and border[1] <= c < values.shape[1] - border[1])
            background = "#ffd54f" if inside else "#f4f4f4"
            ink = "#999" if padding else "#000"
            cells.append(f'<td style="background:{background};border:1px solid #bbb;'
                         f'color:{ink};'
                         f'width:2.4em;height:1.9em;text-align:center;font:12px monospace;'
                         f'padding:0">{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    title = f"<div><b>{html.escape(caption)}</b></div>" if caption else ""
    return (f'<div style="margin-right:1.2em">{title}<table style="border-collapse:collapse">'
            + "".join(rows) + "</table></div>")


def convolution_stepper(grid=SLIDE_GRID, kernel=None) -> widgets.Interactive:
    """Widget: move the kernel over a small grid; see the products, their sum and the output.

    Parameters
    ----------
    grid : array_like, shape (H, W), at most 16x16 (default ``SLIDE_GRID``)
    kernel : array_like, shape (kh, kw), default a 3x3 kernel of ones (as on the slide)

    Controls: ``step`` (kernel position), ``padding`` ('valid' or 'same'), ``stride`` (1 or 2).
    ``state`` holds what ``convolution_step`` returned for the current position.
    """
    import ipywidgets
    grid = _as_grid(grid, "grid", max_side=_MAX_GRID_SIDE)
    # odd: the padding buttons offer 'same', which centres the kernel on each pixel.
    kernel = np.ones((3, 3)) if kernel is None else as_kernel(kernel, odd=True)
    if kernel.shape[0] > grid.shape[0] or kernel.shape[1] > grid.shape[1]:
        raise ValueError(f"the kernel ({kernel.shape[0]}x{kernel.shape[1]}) is larger than the "
                         f"grid ({grid.shape[0]}x{grid.shape[1]}): with padding 'valid' there "
                         f"is no position where it fits. Use a larger grid or a smaller kernel.")
    controls = {
        "step": ipywidgets.IntSlider(0, 0, 0, description="position"),
        "padding": ipywidgets.ToggleButtons(options=["valid", "same"], description="padding"),
        "stride": ipywidgets.ToggleButtons(options=[1, 2], description="stride"),
    }
    board = ipywidgets.HTML()
    explanation = ipywidgets.HTML()

    def render(values):
        positions = window_positions(grid.shape, kernel.shape, values["padding"],
                                     values["stride"])
        step = min(values["step"], len(positions) - 1)
        # Fewer positions after a padding/stride change: keep the slider inside them.
        controls["step"].max = len(positions) - 1
        result = convolution_step(grid, kernel, step, values["padding"], values["stride"])
        row, column = result["position"]
        out_row, out_column = result["output_index"]
        hidden = np.arange(result["output"].size).reshape(result["output"].shape) > step
        board.value = (
            '<div style="display:flex;align-items:flex-start;flex-wrap:wrap">'
            + grid_html(result["padded"], highlight=(row, column) + kernel.shape,
                        border=padding_amount(values["padding"], kernel.shape),
                        caption=f"input {result['padded'].shape[0]}x"
                                f"{result['padded'].shape[1]} (padded)")
            + grid_html(kernel, caption="kernel")
            + grid_html(result["products"], caption="window x kernel")
            + grid_html(result["output"], hidden=hidden,
                        highlight=(out_row, out_column, 1, 1),
                        caption=f"output {result['output'].shape[0]}x"
                                f"{result['output'].shape[1]}")
            + "</div>")
        terms = " + ".join(_number(v) for v in result["products"].ravel())
        # The slider counts from 0, like the output's indices: say the same number.
        explanation.value = (f"Position {step} (of 0 to {result['steps'] - 1}): sum of the "
                             f"products "
                             f"= {terms} = <b>{_number(result['value'])}</b> -> output "
                             f"[{out_row}, {out_column}]")
        return result

    layout = ipywidgets.VBox([controls["step"],
                              ipywidgets.HBox([controls["padding"], controls["stride"]]),
                              board, explanation])
    return widgets.Interactive(controls, render, layout)


# --------------------------------------------------------------------------------------------
# Kernels on photos: the kernel editor
# --------------------------------------------------------------------------------------------


def normalise_kernel(kernel) -> np.ndarray:
    """Divide a kernel by the sum of its weights, so that a flat region keeps its brightness.

    Kernels whose weights sum to zero (edge detectors) cannot be normalised this way and are
    returned unchanged: their response to a flat region is 0 whatever the scale.
    """
    kernel = as_kernel(kernel)
    total = kernel.sum()
    if abs(total) < 1e-9:
        return kernel.copy()
    return kernel / total


def filter_image(image, kernel) -> np.ndarray:
    """Apply a kernel to a photo: cross-correlation with zero 'same' padding, per channel.

    Parameters
    ----------
    image : ndarray, (H, W) or (H, W, 3), uint8 in [0, 255] or float in [0, 1]
    kernel : array_like, shape (kh, kw) with odd kh and kw

    Returns
    -------
    ndarray, same shape as ``image``, float32 for a float32 image and float64 otherwise:
    the raw response, **not** limited to [0, 1]
    (an edge detector gives negative values, an unnormalised blur values above 1).
    Use ``to_display`` to turn it into an image.
    """
    from scipy import ndimage
    image = validation.as_image(image, "image")
    kernel = as_kernel(kernel, odd=True)
    if image.dtype == np.uint8:
        pixels = image / 255.0
    elif image.dtype == np.float32:       # kept: half the memory traffic (the kernel editor)
        pixels = image
    else:
        pixels = image.astype(np.float64)
    if pixels.ndim == 3:   # the same 2-D kernel on each colour channel
        kernel = kernel[:, :, None]
    return ndimage.correlate(pixels, kernel, mode="constant", cval=0.0)


DISPLAY_MODES = ("clip", "rescale")


def to_display(response, mode: str = "clip") -> np.ndarray:
    """Turn a filter response into an image in [0, 1].

    * ``"clip"``: values below 0 become black, above 1 white; everything in between keeps
      its brightness. Honest about brightness (an unnormalised blur turns white) but hides
      negative edge responses.
    * ``"rescale"``: the lowest value becomes black and the highest white. Shows all the
      structure, but hides the overall scale (a blur that is 16 times too bright looks fine).

    Parameters
    ----------
    response : ndarray, (H, W) or (H, W, 3), any real values
    mode : 'clip' or 'rescale'

    Returns
    -------
    ndarray in [0, 1], same shape; float32 for a float32 response, float64 otherwise
    """
    response = validation.as_array(response, "response")
    if response.ndim not in (2, 3) or (response.ndim == 3 and response.shape[2] != 3):
        raise ValueError(f"response must have shape (height, width) or (height, width, 3), "
                         f"but it has shape {response.shape}.")
    if response.size == 0:
        raise ValueError(f"response is empty: its shape is {response.shape}.")
    validation.check_size(response.shape, "response")
    if not np.issubdtype(response.dtype, np.floating) and response.max() > 1:
        # uint8 gray levels are on a 0-255 scale: clipping them to [0, 1] turns every pixel
        # above 0 white. Refuse instead of guessing the scale.
        raise TypeError(f"response must be a filter response on the [0, 1] scale of "
                        f"filter_image (floats), but it has dtype {response.dtype} with values "
                        f"up to {response.max()}: in 'clip' mode every value above 1 would "
                        f"show white. Pass filter_image(image, kernel), or image / 255 for "
                        f"uint8 gray levels.")
    if response.dtype != np.float32:      # float32 stays float32 (the editor's fast path)
        response = response.astype(np.float64)
    if not np.all(np.isfinite(response)):
        raise ValueError("response contains NaN or infinite values.")
    validation.one_of(mode, "mode", DISPLAY_MODES)
    if mode == "clip":
        return np.clip(response, 0.0, 1.0)
    low, high = float(response.min()), float(response.max())
    if high - low < 1e-12:
        return np.full_like(response, 0.5)
    return (response - low) / (high - low)


def clipped_fraction(response) -> float:
    """Fraction of values outside [0, 1], i.e. those that ``to_display(..., 'clip')`` changes."""
    response = validation.as_array(response, "response")
    if response.size == 0:
        raise ValueError("response is empty.")
    return float(np.mean((response < 0) | (response > 1)))


_DISPLAY_NOTES = {
    "clip": "<b>clip</b>: below 0 shows black, above 1 shows white, the rest keeps its "
            "brightness. Honest about brightness; negative responses (half of every edge) "
            "vanish.",
    "rescale": "<b>rescale</b>: the lowest value shows black, the highest white. Shows every "
               "detail (for an edge detector 0, a flat region, becomes a gray in between) "
               "but hides the scale: a blur 16 times too bright looks normal.",
}


def kernel_editor(photos: dict, preset: str = "sharpen", *, width: int = 320) \
        -> widgets.Interactive:
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
    if not isinstance(photos, dict) or not photos:
        raise TypeError("photos must be a non-empty dict mapping a name to an image, "
                        "e.g. {'camera': data.load_image('camera')}.")
    # Converted once to float32 in [0, 1]: each update then costs one filter and one JPEG.
    photos = {name: widgets.to_uint8(validation.as_image(image, f"photos[{name!r}]"))
              .astype(np.float32) / np.float32(255) for name, image in photos.items()}
    presets = dict(CLASSIC_KERNELS)
    presets["gaussian blur (no /16)"] = CLASSIC_KERNELS["gaussian blur"] * 16
    validation.one_of(preset, "preset", list(presets))
    width = validation.as_int(width, "width", minimum=64, maximum=1024)

    cells = {f"k{r}{c}": ipywidgets.FloatText(value=float(presets[preset][r, c]), step=0.5,
                                              layout=ipywidgets.Layout(width="5.5em"))
             for r in range(3) for c in range(3)}
    controls = dict(cells)
    controls["normalise"] = ipywidgets.Checkbox(False, description="normalise (divide by sum)")
    controls["photo"] = ipywidgets.Dropdown(options=list(photos), description="photo")
    controls["display"] = ipywidgets.ToggleButtons(options=list(DISPLAY_MODES),
                                                   description="display")
    preset_menu = ipywidgets.Dropdown(options=list(presets) + ["custom"], value=preset,
                                      description="preset")
    before = ipywidgets.Image(format="jpeg", layout=ipywidgets.Layout(width=f"{width}px"))
    after = ipywidgets.Image(format="jpeg", layout=ipywidgets.Layout(width=f"{width}px"))
    report = ipywidgets.HTML()
    shown = {"photo": None}
    syncing = {"preset": False}    # True while render itself updates the preset menu

    def render(values):
        kernel = np.array([[values[f"k{r}{c}"] for c in range(3)] for r in range(3)])
        kernel = as_kernel(kernel)
        applied = normalise_kernel(kernel) if values["normalise"] else kernel
        photo = photos[values["photo"]]
        if shown["photo"] != values["photo"]:     # encode the unchanged side only when needed
            before.value = widgets.encode(photo)
            shown["photo"] = values["photo"]
        response = filter_image(photo, applied)
        image = to_display(response, values["display"])
        # Rounded to uint8 here (the values are known to lie in [0, 1]) to skip re-checking.
        after.value = widgets.encode((image * 255 + 0.5).astype(np.uint8))
        clipped = clipped_fraction(response)
        matching = [name for name, weights in presets.items() if np.allclose(weights, kernel)]
        if preset_menu.value not in matching:   # an edited cell: name what the grid holds
            syncing["preset"] = True
            try:
                preset_menu.value = matching[0] if matching else "custom"
            finally:
                syncing["preset"] = False
        total = kernel.sum()
        normalise_note = ""
        if values["normalise"]:
            normalise_note = (" (sums to 0: left unchanged)" if abs(total) < 1e-9
                              else f" -> divided by {total:g}")
        report.value = (f"Weights sum to <b>{total:g}</b>{normalise_note}. Response range "
                        f"{response.min():.2f} to {response.max():.2f}; "
                        f"<b>{clipped:.0%}</b> of the values lie outside [0, 1].<br>"
                        + _DISPLAY_NOTES[values["display"]])
        return {"kernel": applied, "response": response, "image": image, "clipped": clipped,
                "preset": preset_menu.value}

    grid_box = ipywidgets.GridBox(list(cells.values()), layout=ipywidgets.Layout(
        grid_template_columns="repeat(3, 6em)", width="20em"))
    grid_box = widgets.labelled(grid_box, "kernel: the 3x3 weights (type a number)")
    layout = ipywidgets.VBox([
        ipywidgets.HBox([grid_box, ipywidgets.VBox([preset_menu, controls["normalise"],
                                                    controls["photo"],
                                                    controls["display"]])]),
        report,
        ipywidgets.HBox([widgets.labelled(before, "before"),
                         widgets.labelled(after, "after")])])
    editor = widgets.Interactive(controls, render, layout)

    def apply_preset(change):
        if change["new"] == "custom" or syncing["preset"]:
            return
        with editor.hold():                     # nine cells change, one render
            for r in range(3):
                for c in range(3):
                    cells[f"k{r}{c}"].value = float(presets[change["new"]][r, c])

    preset_menu.observe(apply_preset, names="value")
    editor.controls["preset"] = preset_menu     # listed for tests; rendered via apply_preset
    return editor


# --------------------------------------------------------------------------------------------
# Multiple convolutions: receptive field and combined kernels
# --------------------------------------------------------------------------------------------


def receptive_field(kernel_sizes, strides=None) -> int:
    """Side of the input region that one output pixel of a stack of layers depends on.

    Each layer with kernel size k adds (k - 1) times the product of the strides before it:
    r = 1 + sum_i (k_i - 1) * s_1 * ... * s_(i-1). Three 3x3 layers see 7x7 pixels.

    Parameters
    ----------
    kernel_sizes : sequence of int >= 1, one per layer (square kernels)
    strides : sequence of int >= 1, same length, optional (default all 1)
    """
    if not isinstance(kernel_sizes, (list, tuple)) or not kernel_sizes:
        raise TypeError(f"kernel_sizes must be a non-empty list of whole numbers, one per "
                        f"layer, e.g. [3, 3, 3], but got {validation.describe(kernel_sizes)} "
                        f"({kernel_sizes!r}).")
    sizes = [validation.as_int(k, f"kernel_sizes[{i}]", minimum=1)
             for i, k in enumerate(kernel_sizes)]
    if strides is None:
        strides = [1] * len(sizes)
    if not isinstance(strides, (list, tuple)) or len(strides) != len(sizes):
        raise ValueError(f"strides must be a list with one stride per layer "
                         f"({len(sizes)}), but got {strides!r}.")
    strides = [validation.as_int(s, f"strides[{i}]", minimum=1) for i, s in enumerate(strides)]
    field, jump = 1, 1
    for size, stride in zip(sizes, strides):
        field += (size - 1) * jump
        jump *= stride
    return field


def combine_kernels(*kernels) -> np.ndarray:
    """The single kernel equal to applying ``kernels`` one after the other.

    Cross-correlating with a, then with b, equals cross-correlating once with the full
    convolution of a and b (exactly, on the 'valid' part). Two 3x3 kernels give a 5x5 one.

    Returns
    -------
    ndarray, float64, shape (sum(kh) - n + 1, sum(kw) - n + 1) for n kernels
    """
    from scipy import signal
    if not kernels:
        raise TypeError("combine_kernels needs at least one kernel, e.g. "
                        "combine_kernels(blur, edge).")
    combined = as_kernel(kernels[0], "kernels[0]")
    for index, kernel in enumerate(kernels[1:], start=1):
        combined = signal.convolve2d(combined, as_kernel(kernel, f"kernels[{index}]"),
                                     mode="full")
    return combined


# --------------------------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------------------------

POOLING_MODES = ("max", "average")


def pool(feature_map, size: int = 2, mode: str = "max") -> np.ndarray:
    """Non-overlapping pooling (window ``size`` x ``size``, stride ``size``), as in Keras.

    Rows and columns that do not fill a whole window are dropped (Keras's 'valid').
    Computed with ``skimage.measure.block_reduce``.

    Parameters
    ----------
    feature_map : array_like, shape (H, W), with H, W >= size
    size : int >= 1
    mode : 'max' or 'average'

    Returns
    -------
    ndarray, float64, shape (H // size, W // size)
    """
    from skimage.measure import block_reduce
    feature_map = _as_grid(feature_map, "feature_map")
    size = validation.as_int(size, "size", minimum=1, maximum=64)
    validation.one_of(mode, "mode", POOLING_MODES)
    rows, columns = (feature_map.shape[0] // size) * size, (feature_map.shape[1] // size) * size
    if rows == 0 or columns == 0:
        raise ValueError(f"feature_map ({feature_map.shape[0]}x{feature_map.shape[1]}) is "
                         f"smaller than one {size}x{size} pooling window.")
    return block_reduce(feature_map[:rows, :columns], (size, size),
                        np.max if mode == "max" else np.mean)


def pooling_step(grid, step: int, size: int = 2, mode: str = "max") -> dict:
    """Everything the pooling stepper shows for one window (stride = ``size``).

    Returns
    -------
    dict with ``position`` (top-left row, column), ``output_index``, ``window``,
    ``value`` (its max or mean), ``output`` (the whole pooled map), ``steps``.
    """
    grid = _as_grid(grid, "grid", max_side=_MAX_GRID_SIDE)
    output = pool(grid, size, mode)
    step = validation.as_int(step, "step", minimum=0, maximum=output.size - 1)
    out_row, out_column = divmod(step, output.shape[1])
    row, column = out_row * size, out_column * size
    window = grid[row:row + size, column:column + size]
    return {"position": (row, column), "output_index": (out_row, out_column),
            "window": window, "value": float(output[out_row, out_column]),
            "output": output, "steps": output.size}


def pooling_stepper(grid=POOLING_GRID, size: int = 2) -> widgets.Interactive:
    """Widget: the pooling window visits each block; see the block, its max or mean, the output.

    Controls: ``step`` and ``mode`` ('max' or 'average'). ``state`` is ``pooling_step``'s dict.
    """
    import ipywidgets
    grid = _as_grid(grid, "grid", max_side=_MAX_GRID_SIDE)
    size = validation.as_int(size, "size", minimum=1, maximum=8)
    steps = pool(grid, size).size
    controls = {
        "step": ipywidgets.IntSlider(0, 0, steps - 1, description="window"),
        "mode": ipywidgets.ToggleButtons(options=list(POOLING_MODES), description="pooling"),
    }
    board = ipywidgets.HTML()
    explanation = ipywidgets.HTML()

    def render(values):
        result = pooling_step(grid, values["step"], size, values["mode"])
        hidden = np.arange(result["output"].size).reshape(result["output"].shape) > \
            values["step"]
        board.value = (
            '<div style="display:flex;align-items:flex-start">'
            + grid_html(grid, highlight=result["position"] + (size, size),
                        caption=f"input {grid.shape[0]}x{grid.shape[1]}")
            + grid_html(result["output"], hidden=hidden,
                        highlight=result["output_index"] + (1, 1),
                        caption=f"{values['mode']} pooled "
                                f"{result['output'].shape[0]}x{result['output'].shape[1]}")
            + "</div>")
        numbers = ", ".join(_number(v) for v in result["window"].ravel())
        operation = "max" if values["mode"] == "max" else "mean"
        explanation.value = (f"Window {values['step']} (of 0 to {result['steps'] - 1}): "
                             f"{operation}({numbers}) = <b>{_number(result['value'])}</b>")
        return result

    layout = ipywidgets.VBox([ipywidgets.HBox([controls["step"], controls["mode"]]),
                              board, explanation])
    return widgets.Interactive(controls, render, layout)


def shift_columns(image, shift: int) -> np.ndarray:
    """Move an image ``shift`` pixels to the right (negative: left); zeros enter at the edge."""
    image = validation.as_array(image, "image")
    if image.ndim != 2:
        raise ValueError(f"image must be a 2-D array (rows, columns), but it has shape "
                         f"{image.shape}.")
    shift = validation.as_int(shift, "shift", minimum=-image.shape[1] + 1,
                              maximum=image.shape[1] - 1)
    moved = np.zeros_like(image)
    if shift >= 0:
        moved[:, shift:] = image[:, :image.shape[1] - shift]
    else:
        moved[:, :shift] = image[:, -shift:]
    return moved


def shift_effect(feature_map, shift: int = 1, size: int = 2) -> dict:
    """Measure what a shift of the input does to a feature map, before and after pooling.

    Both maps are compared position by position, as the next layer sees them.

    Parameters
    ----------
    feature_map : array_like, shape (H, W), e.g. an edge detector's response
    shift : int
        Pixels to the right.
    size : int
        Pooling window and stride.

    Returns
    -------
    dict with, for "none", "max" and "average" pooling, the relative change
    ||f(shifted) - f(original)|| / ||f(original)|| (0 = unchanged), and the fraction of
    output values that stayed exactly the same ("unchanged none", ...).
    """
    feature_map = _as_grid(feature_map, "feature_map")
    moved = shift_columns(feature_map, shift)
    if not np.any(feature_map):
        raise ValueError("feature_map is all zeros: a shift cannot change it.")
    result = {}
    for mode in ("none", "max", "average"):
        before = feature_map if mode == "none" else pool(feature_map, size, mode)
        after = moved if mode == "none" else pool(moved, size, mode)
        result[mode] = float(np.linalg.norm(after - before) / np.linalg.norm(before))
        result[f"unchanged {mode}"] = float(np.mean(np.isclose(after, before)))
    return result


# --------------------------------------------------------------------------------------------
# The same kernels as a Keras layer
# --------------------------------------------------------------------------------------------


def fixed_conv2d(kernels, padding: str = "same"):
    """A ``keras.layers.Conv2D`` whose filters are the given kernels (not trained).

    Parameters
    ----------
    kernels : sequence of array_like, each (kh, kw), all the same shape
        One output channel per kernel; the input has one channel (grayscale).
    padding : 'same' or 'valid'

    Returns
    -------
    FixedConv2D: a callable around a ``keras.layers.Conv2D`` (``.layer``) built for inputs
    (N, H, W, 1), weights (kh, kw, 1, n), no bias. Calling it on a batch (N, H, W, 1) gives
    (N, H', W', n); a single 2-D image gets a message saying how to add the batch and channel
    axes instead of Keras's "expected min_ndim=4".
    """
    if isinstance(kernels, np.ndarray) and kernels.ndim == 2:
        raise TypeError("kernels must be a list of kernels; wrap a single kernel in a list: "
                        "fixed_conv2d([kernel]).")
    if not isinstance(kernels, (list, tuple, np.ndarray)) or len(kernels) == 0:
        raise TypeError(f"kernels must be a non-empty list of 2-D kernels, but got "
                        f"{validation.describe(kernels)}.")
    kernels = [as_kernel(kernel, f"kernels[{i}]") for i, kernel in enumerate(kernels)]
    if len({kernel.shape for kernel in kernels}) != 1:
        raise ValueError(f"all kernels must have the same shape, but got "
                         f"{sorted({kernel.shape for kernel in kernels})}.")
    validation.one_of(padding, "padding", ["same", "valid"])
    keras = lesson.import_keras()
    weights = np.stack(kernels, axis=-1)[:, :, None, :].astype("float32")   # (kh, kw, 1, n)
    layer = keras.layers.Conv2D(len(kernels), kernels[0].shape, padding=padding,
                                use_bias=False, trainable=False)
    layer.build((None, None, None, 1))
    layer.set_weights([weights])
    return FixedConv2D(layer)


class FixedConv2D:
    """A fixed-weight ``Conv2D`` that checks its input first (see ``fixed_conv2d``).

    Attributes of the Keras layer (``kernel``, ``trainable``, ...) are available directly.
    """

    def __init__(self, layer):
        self.layer = layer

    def __getattr__(self, name):
        return getattr(self.__dict__["layer"], name)

    def __repr__(self):
        return (f"FixedConv2D({self.layer.filters} filters of {self.layer.kernel_size[0]}x"
                f"{self.layer.kernel_size[1]}, padding={self.layer.padding!r})")

    def __call__(self, batch):
        if isinstance(batch, (list, tuple, np.ndarray)):
            batch = validation.as_array(batch, "batch")
            if batch.ndim == 2:
                raise ValueError(f"the layer takes a batch of shape (N, height, width, 1), "
                                 f"but got one image of shape {batch.shape}: add batch and "
                                 f"channel axes: image[None, :, :, None].")
            if batch.ndim == 3:
                fix = ("batch[..., None]" if batch.shape[-1] != 1 else "image[None]")
                raise ValueError(f"the layer takes a batch of shape (N, height, width, 1), "
                                 f"but got shape {batch.shape}: add the missing axis with "
                                 f"{fix}.")
            if batch.ndim != 4 or batch.shape[-1] != 1:
                raise ValueError(f"the layer takes a batch of grayscale images, shape "
                                 f"(N, height, width, 1), but got shape {batch.shape}. For "
                                 f"colour photos convert to grayscale first "
                                 f"(skimage.color.rgb2gray).")
            batch = batch.astype("float32")     # Keras's weights are float32
        return self.layer(batch)


# --------------------------------------------------------------------------------------------
# Exercise checks (each compares with SciPy or Keras, never with a stored solution)
# --------------------------------------------------------------------------------------------

#: Library (and kit) functions that would make an exercise a look-up (exercises.checker).
_CONVOLUTION_LIBRARY = ["scipy.signal.correlate2d", "scipy.signal.convolve2d",
                        "scipy.signal.correlate", "scipy.signal.convolve",
                        "scipy.signal.fftconvolve", "scipy.signal.oaconvolve",
                        "scipy.ndimage.correlate", "scipy.ndimage.convolve",
                        "keras.layers.Conv2D", "keras.ops.conv", "cv2.filter2D",
                        "lab_utils.kernels.correlate", "lab_utils.kernels.filter_image",
                        "lab_utils.kernels.fixed_conv2d"]
_POOLING_LIBRARY = ["keras.layers.MaxPooling2D", "keras.layers.AveragePooling2D",
                    "keras.ops.max_pool", "keras.ops.average_pool",
                    "skimage.measure.block_reduce", "lab_utils.kernels.pool",
                    "lab_utils.kernels.pooling_step"]


def _keras_output_size(input_size: int, kernel_size: int, stride: int, padding: int) -> int:
    """Output side of Keras's Conv2D (padding 'valid') on an input zero-padded by ``padding``."""
    keras = lesson.import_keras()
    layer = keras.layers.Conv2D(1, kernel_size, strides=stride, padding="valid")
    side = input_size + 2 * padding
    return int(layer.compute_output_shape((1, side, side, 1))[1])


_OUTPUT_SIZE_HINT = ("count the positions where the kernel fits inside the padded input "
                     "(padding is added on both sides), then keep every stride-th one, "
                     "starting with the first. Try it by hand on the 6x6 example above.")


def _not_a_size(result) -> bool:
    """True for a number no image size can be: NaN, infinite, or beyond 1e15 pixels."""
    if isinstance(result, bool) or not isinstance(result, (int, float, np.number)):
        return False
    return not (validation.is_finite_number(result) and abs(float(result)) < 1e15)


@exercises.checker("output_size", forbid=[
    "keras.layers.Conv2D", "keras.layers.Conv2D.compute_output_shape",
    "keras.ops.conv", "lab_utils.kernels.window_positions", "lab_utils.kernels.correlate",
    "scipy.signal.correlate2d"])
def check_output_size(output_size):
    """Check ``output_size(input_size, kernel_size, stride, padding)`` against Keras's Conv2D."""
    __tracebackhide__ = True
    cases = [(5, 3, 1, 0), (7, 3, 1, 2), (7, 3, 2, 0), (6, 3, 2, 0), (28, 5, 1, 2),
             (10, 4, 3, 1), (224, 7, 2, 3), (32, 2, 2, 0), (9, 9, 1, 0)]
    for n, k, s, p in cases:
        result = output_size(n, k, s, p, name="output_size(...)", hint=_OUTPUT_SIZE_HINT)
        expected = _keras_output_size(n, k, s, p)
        name = (f"output_size(input_size={n}, kernel_size={k}, stride={s}, padding={p})")
        if _not_a_size(result):
            exercises.fail(f"{name} returned {exercises.describe_argument(result)}; expected "
                           f"a whole number of pixels "
                           f"about the size of the input (NaN, infinity or a huge number "
                           f"comes from a division by zero or an overflow).", _OUTPUT_SIZE_HINT)
        if isinstance(result, (float, np.floating)) and float(result) != round(float(result)):
            exercises.fail(f"{name} returned {float(result):g}: a number of pixels is a "
                           f"whole number. Round down with // (a window that would stick out "
                           f"of the image is not used).", _OUTPUT_SIZE_HINT)
        if isinstance(result, (int, float, np.number)) and not isinstance(result, bool) \
                and int(result) != expected:
            mistakes = [((n + 2 * p - k) // s, "it is one too small: count the first "
                                               "position as well (+ 1)."),
                        ((n + p - k) // s + 1, "padding is added on both sides: n + 2p."),
                        ((n + 2 * p - k) + 1, "it ignores the stride."),
                        (-(-(n + 2 * p - k) // s) + 1,
                         "it rounds up; a window that would stick out of the padded input "
                         "is not used, so round down (//).")]
            for value, message in mistakes:
                if int(result) == value:
                    exercises.fail(f"{name} returned {int(result)}, expected {expected}: "
                                   f"{message}", _OUTPUT_SIZE_HINT)
        exercises.expect_number(result, expected, name=name, hint=_OUTPUT_SIZE_HINT)
    return len(cases)


def keras_tolerance(kernel, image) -> float:
    """How far a Keras convolution may differ from SciPy's float64 result.

    Keras computes in float32, and NVIDIA GPUs (Ampere and later) run convolutions in
    TensorFloat-32 by default: inputs rounded to 10 mantissa bits, a relative error of about
    1e-3 per product. Each output is a sum of |kernel| * |pixel| terms, hence this bound.
    """
    kernel, image = as_kernel(kernel), validation.as_array(image, "image", finite=True)
    if image.size == 0:
        raise ValueError(f"image is empty: its shape is {image.shape}.")
    return 2e-3 * float(np.abs(kernel).sum()) * max(float(np.abs(image).max()), 1e-12) + 1e-6


def _reference_correlation(image, kernel, stride, padding):
    """SciPy's correlate2d on the padded image, every stride-th value; confirmed by Keras."""
    from scipy import signal
    padded = np.pad(image, padding)
    expected = signal.correlate2d(padded, kernel, mode="valid")[::stride, ::stride]
    keras = lesson.import_keras()
    layer = keras.layers.Conv2D(1, kernel.shape, strides=stride, padding="valid",
                                use_bias=False)
    layer.build((None,) + padded.shape + (1,))
    layer.set_weights([kernel[:, :, None, None].astype("float32")])
    by_keras = np.asarray(layer(padded[None, :, :, None].astype("float32")))[0, :, :, 0]
    if by_keras.shape != expected.shape or not np.allclose(
            by_keras, expected, atol=keras_tolerance(kernel, padded), rtol=0):
        raise RuntimeError("SciPy and Keras disagree on a convolution: the installed "
                           "versions differ from the kit's; please tell your instructor.")
    return expected


def _conv_mistakes(image, kernel, stride, padding):
    """Answers that typical mistakes give, for the known_mistakes of expect_array."""
    from scipy import signal
    padded = np.pad(image, padding)
    flipped = signal.convolve2d(padded, kernel, mode="valid")[::stride, ::stride]
    edge_padded = np.pad(image, padding, mode="edge")
    return [(flipped, "it flips the kernel: that is the mathematical convolution "
                      "(scipy.signal.convolve2d). Deep-learning 'convolution' does not flip: "
                      "multiply each window by the kernel as it is (cross-correlation)."),
            (signal.correlate2d(edge_padded, kernel, mode="valid")[::stride, ::stride],
             "the border is padded by repeating the edge pixels; pad with zeros "
             "(np.pad(image, padding) does)."),
            (signal.correlate2d(padded, kernel.T, mode="valid")[::stride, ::stride]
             if kernel.shape[0] == kernel.shape[1] else np.empty(0),
             "the kernel is transposed: kernel[i, j] multiplies the pixel i rows down and "
             "j columns right of the window's corner.")]


def _expect_shape(result, expected_shape, name, shape_mistakes, hint):
    """Fail with a specific message when the result's shape matches a typical mistake."""
    __tracebackhide__ = True
    shape = getattr(result, "shape", None)
    if shape is None or tuple(shape) == tuple(expected_shape):
        return
    for mistake_shape, message in shape_mistakes:
        if tuple(shape) == tuple(mistake_shape):
            exercises.fail(f"{name} has shape {tuple(shape)}; expected "
                           f"{tuple(expected_shape)}: {message}", hint)


_LOOPS_HINT = ("each output pixel (i, j) is the sum of the element-wise products of the "
               "kernel and the window of the image whose top-left corner is (i, j); the "
               "output has as many rows and columns as there are window positions.")


def _expect_float_output(result, expected, name, argument, hint):
    """Fail when an integer input gave an integer output whose values lost their fractions
    (``np.zeros_like(image)`` makes the result array an integer one)."""
    __tracebackhide__ = True
    if (isinstance(result, np.ndarray) and np.issubdtype(result.dtype, np.integer)
            and result.shape == expected.shape and not np.allclose(expected,
                                                                   np.round(expected))):
        exercises.fail(f"{name} has dtype {result.dtype}: the input {argument} is an integer "
                       f"array, and an output made with np.zeros_like({argument}) (or "
                       f"np.empty_like) takes its integer dtype, so every value is cut to a "
                       f"whole number. Create the output with dtype=float.", hint)


@exercises.checker("conv2d_loops", forbid=_CONVOLUTION_LIBRARY)
def check_conv2d_loops(conv2d_loops):
    """Check ``conv2d_loops(image, kernel)`` ('valid', stride 1) against SciPy and Keras.

    One case is an integer image with a fractional kernel: the answer must be floats.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(20)
    cases = [(SLIDE_GRID.astype(np.float64), np.ones((3, 3))),
             (rng.random((6, 8)), rng.normal(size=(3, 3))),
             (rng.random((5, 4)), rng.normal(size=(2, 3))),
             (SLIDE_GRID.astype(np.int64), np.full((2, 2), 0.3))]
    for image, kernel in cases:
        result = conv2d_loops(image.copy(), kernel.copy(), name="conv2d_loops(image, kernel)",
                              hint=_LOOPS_HINT)
        expected = _reference_correlation(image.astype(np.float64), kernel, 1, 0)
        name = f"conv2d_loops({image.dtype} image {image.shape}, kernel {kernel.shape})"
        _expect_float_output(result, expected, name, "image", _LOOPS_HINT)
        _expect_shape(result, expected.shape, name, [
            (image.shape, "that is the input's size; without padding the kernel fits "
                          "H - kh + 1 times down and W - kw + 1 times across."),
            ((image.shape[0] - kernel.shape[0], image.shape[1] - kernel.shape[1]),
             "one position short in each direction: range(H - kh + 1), not "
             "range(H - kh).")], _LOOPS_HINT)
        exercises.expect_array(result, expected, name=name, hint=_LOOPS_HINT,
                               known_mistakes=_conv_mistakes(image.astype(np.float64),
                                                             kernel, 1, 0))
    return len(cases)


def _expect_conv_shape(result, expected_shape, name, image, kernel, stride, padding):
    """Name the mistake behind a wrong conv2d shape: by the values where a typical mistake's
    answer has the same shape, by the shape alone otherwise (saying what it could be)."""
    __tracebackhide__ = True
    from scipy import signal
    shape = getattr(result, "shape", None)
    if shape is None or tuple(shape) == tuple(expected_shape):
        return
    padded = np.pad(image, padding)
    candidates = [(signal.correlate2d(image, kernel, mode="valid")[::stride, ::stride],
                   "the padding is missing; add `padding` rows and columns of zeros on every "
                   "side first.")]
    strided_first = padded[::stride, ::stride]
    if stride > 1 and all(n >= k for n, k in zip(strided_first.shape, kernel.shape)):
        candidates.append((signal.correlate2d(strided_first, kernel, mode="valid"),
                           "the stride is applied before convolving (to the image); "
                           "convolve at every position first, then keep every stride-th "
                           "row and column of the result."))
    if isinstance(result, np.ndarray) and np.issubdtype(result.dtype, np.number):
        for answer, message in candidates:
            if answer.shape == result.shape and np.allclose(result, answer, atol=1e-6):
                exercises.fail(f"{name} has shape {tuple(shape)}; expected "
                               f"{tuple(expected_shape)}: {message}", _CONV_HINT)
    unpadded = [(n - k) // stride + 1 for n, k in zip(image.shape, kernel.shape)]
    stride_first = [-(-(n + 2 * padding) // stride) - k + 1
                    for n, k in zip(image.shape, kernel.shape)]
    stride_one = [n + 2 * padding - k + 1 for n, k in zip(image.shape, kernel.shape)]
    rounded_up = [-(-(n + 2 * padding - k) // stride) + 1
                  for n, k in zip(image.shape, kernel.shape)]
    possible = []
    if tuple(shape) == tuple(unpadded):
        possible.append("a convolution without padding")
    if stride > 1 and tuple(shape) == tuple(stride_first):
        possible.append("one where the stride was applied before convolving")
    if possible:
        exercises.fail(f"{name} has shape {tuple(shape)}; expected {tuple(expected_shape)}. "
                       f"That is the shape of {' or of '.join(possible)}: pad with zeros "
                       f"first, convolve, then keep every stride-th row and column.",
                       _CONV_HINT)
    _expect_shape(result, expected_shape, name, [
        (stride_one, "the stride is missing; keep every stride-th position: "
                     "result[::stride, ::stride]."),
        (rounded_up, "a window that sticks out of the padded image is not used "
                     "(round down, as output_size does).")], _CONV_HINT)


_CONV_HINT = ("pad first, then loop over the kernel's weights instead of the pixels: each "
              "weight multiplies a shifted slice of the padded image, and the slices add up. "
              "Apply the stride last, to the finished result.")


#: Seconds ``conv2d`` may take on a 384x384 image (a vectorised version takes milliseconds).
CONV2D_SPEED_LIMIT = 0.25


@exercises.checker("conv2d", forbid=_CONVOLUTION_LIBRARY)
def check_conv2d(conv2d):
    """Check ``conv2d(image, kernel, stride, padding)`` against SciPy and Keras's Conv2D.

    Covers non-square images, even-sized and non-square kernels (defined behaviour: the
    window's top-left corner moves in steps of ``stride`` over the zero-padded image, as in
    Keras's padding='valid'), strides 1-3 and padding 0-2. Also times a 384x384 image:
    pixel-by-pixel Python loops take seconds there, a vectorised version milliseconds.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(21)
    cases = [(rng.random((7, 9)), rng.normal(size=(3, 3)), 1, 1),
             (rng.random((8, 6)), rng.normal(size=(3, 3)), 2, 1),
             (rng.random((9, 7)), rng.normal(size=(3, 3)), 2, 0),
             (rng.random((6, 7)), rng.normal(size=(2, 2)), 1, 0),
             (rng.random((8, 9)), rng.normal(size=(4, 3)), 3, 2),
             (rng.random((5, 5)), rng.normal(size=(5, 5)), 1, 2)]
    for image, kernel, stride, padding in cases:
        result = conv2d(image.copy(), kernel.copy(), stride, padding,
                        name="conv2d(image, kernel, stride, padding)", hint=_CONV_HINT)
        expected = _reference_correlation(image, kernel, stride, padding)
        name = (f"conv2d(image {image.shape}, kernel {kernel.shape}, stride={stride}, "
                f"padding={padding})")
        _expect_conv_shape(result, expected.shape, name, image, kernel, stride, padding)
        exercises.expect_array(result, expected, name=name, hint=_CONV_HINT,
                               known_mistakes=_conv_mistakes(image, kernel, stride, padding))
    big_image, big_kernel = rng.random((384, 384)), rng.normal(size=(3, 3))
    seconds = min(_timed(conv2d, big_image, big_kernel) for _ in range(2))
    if seconds > CONV2D_SPEED_LIMIT:
        exercises.fail(f"conv2d is correct but took {seconds:.2f} s on a 384x384 image "
                       f"(a vectorised version takes a few milliseconds): it still loops "
                       f"over pixels.", _CONV_HINT)
    return len(cases) + 1


def _timed(student, *args) -> float:
    import time
    start = time.perf_counter()
    student(*args, 1, 0, name="conv2d(image, kernel, 1, 0)")
    return time.perf_counter() - start


def _keras_pool(feature_map, pool_size, stride, mode):
    """Keras's MaxPooling2D / AveragePooling2D (padding 'valid') on one 2-D map."""
    keras = lesson.import_keras()
    layer_class = keras.layers.MaxPooling2D if mode == "max" else keras.layers.AveragePooling2D
    layer = layer_class(pool_size=pool_size, strides=stride, padding="valid")
    batch = feature_map[None, :, :, None].astype("float32")
    return np.asarray(layer(batch))[0, :, :, 0].astype(np.float64)


def _check_pooling(student, mode):
    """Shared body of the pooling checks. The last case is an integer feature map: max
    pooling may keep integers, average pooling must give floats."""
    __tracebackhide__ = True
    function_name = f"{mode}_pool2d"
    other = "average" if mode == "max" else "max"
    hint = (f"the output pixel (i, j) is the {'maximum' if mode == 'max' else 'mean'} of "
            f"the pool_size x pool_size window whose top-left corner is (i * stride, "
            f"j * stride); count the output rows as in exercise 1, without padding.")
    rng = np.random.default_rng(22 if mode == "max" else 23)
    cases = [(POOLING_GRID.astype(np.float64), 2, 2), (rng.normal(size=(6, 8)), 2, 2),
             (rng.normal(size=(7, 5)), 2, 2), (rng.normal(size=(7, 9)), 3, 2),
             (rng.normal(size=(5, 6)), 3, 1), (POOLING_GRID.astype(np.int64), 2, 2)]
    for feature_map, pool_size, stride in cases:
        result = student(feature_map.copy(), pool_size, stride,
                         name=f"{function_name}(feature_map, pool_size, stride)", hint=hint)
        expected = _keras_pool(feature_map, pool_size, stride, mode)
        if mode == "max" and np.issubdtype(feature_map.dtype, np.integer):
            expected = expected.astype(feature_map.dtype)     # a maximum of integers is one
        name = (f"{function_name}({feature_map.dtype} feature_map {feature_map.shape}, "
                f"pool_size={pool_size}, stride={stride})")
        _expect_float_output(result, expected, name, "feature_map", hint)
        _expect_shape(result, expected.shape, name, [
            ([n - pool_size + 1 for n in feature_map.shape],
             "the stride is missing (windows moved one pixel at a time)."),
            ([-(-(n - pool_size) // stride) + 1 for n in feature_map.shape],
             "leftover rows or columns that do not fill a whole window are dropped, as in "
             "Keras's padding='valid'."),
            ([n // pool_size for n in feature_map.shape],
             "the windows moved by pool_size instead of stride.")], hint)
        expected_other = _keras_pool(feature_map, pool_size, stride, other)
        exercises.expect_array(result, expected, name=name, hint=hint, atol=1e-5,
                               known_mistakes=[(expected_other,
                                                f"it computes {other} pooling; this "
                                                f"exercise asks for {mode} pooling.")])
    return len(cases)


@exercises.checker("max_pool2d", forbid=_POOLING_LIBRARY)
def check_max_pool2d(max_pool2d):
    """Check ``max_pool2d(feature_map, pool_size, stride)`` against keras MaxPooling2D."""
    __tracebackhide__ = True
    return _check_pooling(max_pool2d, "max")


@exercises.checker("average_pool2d", forbid=_POOLING_LIBRARY)
def check_average_pool2d(average_pool2d):
    """Check ``average_pool2d(feature_map, pool_size, stride)`` against AveragePooling2D."""
    __tracebackhide__ = True
    return _check_pooling(average_pool2d, "average")
