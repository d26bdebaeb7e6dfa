"""Lesson 02's computation: the slide's kernel table (corrected), convolution step by step
(padding, stride, window positions), kernels applied to photos and shown, receptive fields and
combined kernels, pooling, and the same kernels as a fixed Keras layer.

``CLASSIC_KERNELS`` is reused by lesson 04. Importing this module does not import TensorFlow:
Keras is imported inside the functions that need it, through ``lesson.import_keras()``.
"""

from __future__ import annotations

import numpy as np

from lab_utils import lesson, validation

# --------------------------------------------------------------------------------------------
# The slide's kernel table, corrected
# --------------------------------------------------------------------------------------------


def _kernel(rows: list, scale: float = 1.0) -> np.ndarray:
    """A read-only float64 kernel: ``rows`` times ``scale``."""
    kernel = np.array(rows, dtype=np.float64) * scale
    kernel.setflags(write=False)  # shared by every lesson: nobody may edit it in place
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
SLIDE_GRID = np.array(
    [
        [1, 1, 1, 0, 0, 0],
        [0, 1, 1, 1, 0, 0],
        [0, 0, 1, 1, 1, 0],
        [0, 0, 1, 1, 0, 0],
        [0, 1, 1, 0, 0, 0],
        [1, 1, 0, 0, 0, 1],
    ],
    dtype=np.int64,
)

SLIDE_GRID.setflags(write=False)


#: The 4x4 feature map of the pooling example (2x2 window, stride 2 -> 2x2 output).
POOLING_GRID = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=np.int64)

POOLING_GRID.setflags(write=False)


#: Largest kernel weight accepted (in absolute value): float32 images overflow near 3.4e38,
#: and a response above ~1e6 shows pure white or black in either display mode anyway.
MAX_KERNEL_WEIGHT = 1e6

MAX_GRID_SIDE = 16  # the step-by-step views write every number: keep them readable
#: ``correlate`` multiplies at most this many pixel-weight pairs (grid pixels x kernel
#: weights): 300 million, e.g. a 3x3 kernel on a 4096 x 4096 image or a 31x31 kernel on a
#: 512 x 512 photo (a few seconds). The grid itself may have at most 4096 x 4096 pixels
#: (``validation.MAX_IMAGE_PIXELS``): a 10000 x 10000 grid took 37 s and 2.3 GB.
MAX_CORRELATE_PRODUCTS = 300_000_000


# --------------------------------------------------------------------------------------------
# Input checks (student-readable messages)
# --------------------------------------------------------------------------------------------


def as_grid(
    values: np.ndarray, name: str, *, max_side: int | None = None, kernel: bool = False
) -> np.ndarray:
    """A finite 2-D array of numbers, as float64 (``kernel``: word the errors for a kernel)."""
    array = validation.as_array(values, name)
    if array.ndim != 2:
        advice = (
            "A kernel is 2-D: write a row as np.array([[1, 0, -1]]) (two pairs of "
            "brackets) and a column as np.array([[1], [0], [-1]])."
            if kernel
            else "For a colour image pass one channel, e.g. image[..., 0]."
        )
        raise ValueError(
            f"{name} must be a 2-D array (rows, columns), but it has shape {array.shape}. {advice}"
        )
    if array.size == 0:
        raise ValueError(f"{name} is empty: its shape is {array.shape}.")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    if max_side is not None and max(array.shape) > max_side:
        raise ValueError(
            f"{name} must be at most {max_side}x{max_side} for the step-by-step "
            f"view (every number is written out), but it is "
            f"{array.shape[0]}x{array.shape[1]}."
        )
    return array


def as_kernel(kernel: np.ndarray, name: str = "kernel", *, odd: bool = False) -> np.ndarray:
    """Check that ``kernel`` is a 2-D grid of finite numbers and return it as float64.

    Parameters
    ----------
    kernel : array_like, shape (kh, kw)
        e.g. one of ``CLASSIC_KERNELS``, or a nested list such as ``[[0, 1, 0], ...]``.
    odd : bool
        Also require odd height and width, so that the kernel has a centre pixel (needed
        for 'same' padding, where the output pixel sits under the kernel's centre).
    """
    kernel = as_grid(kernel, name, kernel=True)
    if kernel.shape[0] > 64 or kernel.shape[1] > 64:
        raise ValueError(f"{name} must be at most 64x64, but it has shape {kernel.shape}.")
    largest = float(np.abs(kernel).max())
    if largest > MAX_KERNEL_WEIGHT:
        row, column = np.unravel_index(int(np.abs(kernel).argmax()), kernel.shape)
        raise ValueError(
            f"{name}'s weights must lie between -{MAX_KERNEL_WEIGHT:g} and "
            f"{MAX_KERNEL_WEIGHT:g}, but the weight at row {row}, column {column} "
            f"is {kernel[row, column]:g}: a response that large overflows the "
            f"float32 images and shows nothing useful."
        )
    if odd and (kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0):
        raise ValueError(
            f"{name} must have an odd height and width (3x3, 5x5, ...) so that "
            f"it has a centre pixel for 'same' padding, but it has shape "
            f"{kernel.shape}. Use padding='valid' or an integer padding for "
            f"even-sized kernels."
        )
    return kernel


def padding_amount(padding: str | int, kernel_shape: tuple) -> tuple[int, int]:
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
            raise ValueError(
                f"padding='same' needs a kernel with odd height and width (it "
                f"centres the kernel on each pixel), but the kernel has shape "
                f"{tuple(kernel_shape)}. Use padding='valid' or an integer."
            )
        return (kernel_shape[0] - 1) // 2, (kernel_shape[1] - 1) // 2
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)):
        raise TypeError(
            f"padding must be 'valid', 'same' or a whole number of pixels, but "
            f"got {validation.describe(padding)} ({padding!r})."
        )
    amount = validation.as_int(padding, "padding", minimum=0, maximum=64)
    return amount, amount


# --------------------------------------------------------------------------------------------
# Convolution step by step
# --------------------------------------------------------------------------------------------


def correlate(
    grid: np.ndarray, kernel: np.ndarray, padding: str | int = "valid", stride: int = 1
) -> np.ndarray:
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

    validation.check_size(np.shape(validation.as_array(grid, "grid")), "grid")  # before copying
    grid = as_grid(grid, "grid")
    kernel = as_kernel(kernel)
    validation.check_count(
        grid.size * kernel.size,
        MAX_CORRELATE_PRODUCTS,
        f"multiplications ({grid.shape[0]} x {grid.shape[1]} grid x {kernel.size} weights)",
        "Use a smaller image (e.g. image[::2, ::2]) or a smaller kernel.",
    )
    stride = validation.as_int(stride, "stride", minimum=1, maximum=64)
    pad_rows, pad_columns = padding_amount(padding, kernel.shape)
    padded = np.pad(grid, ((pad_rows, pad_rows), (pad_columns, pad_columns)))
    if padded.shape[0] < kernel.shape[0] or padded.shape[1] < kernel.shape[1]:
        raise ValueError(
            f"the kernel ({kernel.shape[0]}x{kernel.shape[1]}) is larger than the "
            f"padded grid ({padded.shape[0]}x{padded.shape[1]}): there is no "
            f"position where it fits."
        )
    return signal.correlate2d(padded, kernel, mode="valid")[::stride, ::stride]


def window_positions(
    grid_shape: tuple, kernel_shape: tuple, padding: str | int = "valid", stride: int = 1
) -> list:
    """Top-left corners (row, column), in padded coordinates, of every kernel position.

    Listed in reading order (left to right, then top to bottom), one per output pixel.
    """
    grid_shape = as_shape(grid_shape, "grid_shape")
    kernel_shape = as_shape(kernel_shape, "kernel_shape")
    stride = validation.as_int(stride, "stride", minimum=1, maximum=64)
    pad_rows, pad_columns = padding_amount(padding, kernel_shape)
    last_row = grid_shape[0] + 2 * pad_rows - kernel_shape[0]
    last_column = grid_shape[1] + 2 * pad_columns - kernel_shape[1]
    return [
        (row, column)
        for row in range(0, last_row + 1, stride)
        for column in range(0, last_column + 1, stride)
    ]


def as_shape(shape: tuple, name: str) -> tuple:
    """``shape`` checked as a pair (rows, columns) of whole numbers >= 1."""
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise TypeError(
            f"{name} must be a pair (rows, columns), but got "
            f"{validation.describe(shape)} ({shape!r})."
        )
    return tuple(
        validation.as_int(size, f"{name}[{index}]", minimum=1) for index, size in enumerate(shape)
    )


def convolution_step(
    grid: np.ndarray, kernel: np.ndarray, step: int, padding: str | int = "valid", stride: int = 1
) -> dict:
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
    grid = as_grid(grid, "grid", max_side=MAX_GRID_SIDE)
    kernel = as_kernel(kernel)
    output = correlate(grid, kernel, padding, stride)
    positions = window_positions(grid.shape, kernel.shape, padding, stride)
    step = validation.as_int(step, "step", minimum=0, maximum=len(positions) - 1)
    pad_rows, pad_columns = padding_amount(padding, kernel.shape)
    padded = np.pad(grid, ((pad_rows, pad_rows), (pad_columns, pad_columns)))
    row, column = positions[step]
    window = padded[row : row + kernel.shape[0], column : column + kernel.shape[1]]
    products = window * kernel
    return {
        "padded": padded,
        "position": (row, column),
        "output_index": divmod(step, output.shape[1]),
        "window": window,
        "products": products,
        "value": float(products.sum()),
        "output": output,
        "steps": len(positions),
    }


# --------------------------------------------------------------------------------------------
# Kernels on photos (what the kernel editor shows)
# --------------------------------------------------------------------------------------------


def normalise_kernel(kernel: np.ndarray) -> np.ndarray:
    """Divide a kernel by the sum of its weights, so that a flat region keeps its brightness.

    Kernels whose weights sum to zero (edge detectors) cannot be normalised this way and are
    returned unchanged: their response to a flat region is 0 whatever the scale.
    """
    kernel = as_kernel(kernel)
    total = kernel.sum()
    if abs(total) < 1e-9:
        return kernel.copy()
    return kernel / total


def filter_image(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
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
    elif image.dtype == np.float32:  # kept: half the memory traffic (the kernel editor)
        pixels = image
    else:
        pixels = image.astype(np.float64)
    if pixels.ndim == 3:  # the same 2-D kernel on each colour channel
        kernel = kernel[:, :, None]
    return ndimage.correlate(pixels, kernel, mode="constant", cval=0.0)


DISPLAY_MODES = ("clip", "rescale")


def to_display(response: np.ndarray, mode: str = "clip") -> np.ndarray:
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
        raise ValueError(
            f"response must have shape (height, width) or (height, width, 3), "
            f"but it has shape {response.shape}."
        )
    if response.size == 0:
        raise ValueError(f"response is empty: its shape is {response.shape}.")
    validation.check_size(response.shape, "response")
    validation.one_of(mode, "mode", DISPLAY_MODES)
    if mode == "clip" and not np.issubdtype(response.dtype, np.floating) and response.max() > 1:
        # uint8 gray levels are on a 0-255 scale: clipping them to [0, 1] turns every pixel
        # above 0 white. Refuse instead of guessing the scale.
        raise TypeError(
            f"response must be a filter response on the [0, 1] scale of "
            f"filter_image (floats), but it has dtype {response.dtype} with values "
            f"up to {response.max()}: in 'clip' mode every value above 1 would "
            f"show white. Pass filter_image(image, kernel), or image / 255 for "
            f"uint8 gray levels."
        )
    if response.dtype != np.float32:  # float32 stays float32 (the editor's fast path)
        response = response.astype(np.float64)
    if not np.all(np.isfinite(response)):
        raise ValueError("response contains NaN or infinite values.")
    if mode == "clip":
        return np.clip(response, 0.0, 1.0)
    low, high = float(response.min()), float(response.max())
    if high - low < 1e-12:
        return np.full_like(response, 0.5)
    if not np.isfinite(high - low):  # e.g. -1e308 to 1e308: halve first so nothing overflows
        return (response / 2 - low / 2) / (high / 2 - low / 2)
    return (response - low) / (high - low)


def clipped_fraction(response: np.ndarray) -> float:
    """Fraction of values outside [0, 1], i.e. those that ``to_display(..., 'clip')`` changes."""
    response = validation.as_array(response, "response")
    if response.size == 0:
        raise ValueError("response is empty.")
    return float(np.mean((response < 0) | (response > 1)))


# --------------------------------------------------------------------------------------------
# Multiple convolutions: receptive field and combined kernels
# --------------------------------------------------------------------------------------------


def receptive_field(kernel_sizes: list, strides: list | None = None) -> int:
    """Side of the input region that one output pixel of a stack of layers depends on.

    Each layer with kernel size k adds (k - 1) times the product of the strides before it:
    r = 1 + sum_i (k_i - 1) * s_1 * ... * s_(i-1). Three 3x3 layers see 7x7 pixels.

    Parameters
    ----------
    kernel_sizes : sequence of int >= 1, one per layer (square kernels)
    strides : sequence of int >= 1, same length, optional (default all 1)
    """
    if not isinstance(kernel_sizes, (list, tuple)) or not kernel_sizes:
        raise TypeError(
            f"kernel_sizes must be a non-empty list of whole numbers, one per "
            f"layer, e.g. [3, 3, 3], but got {validation.describe(kernel_sizes)} "
            f"({kernel_sizes!r})."
        )
    sizes = [
        validation.as_int(k, f"kernel_sizes[{i}]", minimum=1) for i, k in enumerate(kernel_sizes)
    ]
    if strides is None:
        strides = [1] * len(sizes)
    if not isinstance(strides, (list, tuple)) or len(strides) != len(sizes):
        raise ValueError(
            f"strides must be a list with one stride per layer ({len(sizes)}), but got {strides!r}."
        )
    strides = [validation.as_int(s, f"strides[{i}]", minimum=1) for i, s in enumerate(strides)]
    field, jump = 1, 1
    for size, stride in zip(sizes, strides):
        field += (size - 1) * jump
        jump *= stride
    return field


def combine_kernels(*kernels: np.ndarray) -> np.ndarray:
    """The single kernel equal to applying ``kernels`` one after the other.

    Cross-correlating with a, then with b, equals cross-correlating once with the full
    convolution of a and b (exactly, on the 'valid' part). Two 3x3 kernels give a 5x5 one.

    Returns
    -------
    ndarray, float64, shape (sum(kh) - n + 1, sum(kw) - n + 1) for n kernels
    """
    from scipy import signal

    if not kernels:
        raise TypeError(
            "combine_kernels needs at least one kernel, e.g. combine_kernels(blur, edge)."
        )
    combined = as_kernel(kernels[0], "kernels[0]")
    for index, kernel in enumerate(kernels[1:], start=1):
        combined = signal.convolve2d(combined, as_kernel(kernel, f"kernels[{index}]"), mode="full")
    return combined


# --------------------------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------------------------

POOLING_MODES = ("max", "average")


def pool(feature_map: np.ndarray, size: int = 2, mode: str = "max") -> np.ndarray:
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

    feature_map = as_grid(feature_map, "feature_map")
    size = validation.as_int(size, "size", minimum=1, maximum=64)
    validation.one_of(mode, "mode", POOLING_MODES)
    rows, columns = (feature_map.shape[0] // size) * size, (feature_map.shape[1] // size) * size
    if rows == 0 or columns == 0:
        raise ValueError(
            f"feature_map ({feature_map.shape[0]}x{feature_map.shape[1]}) is "
            f"smaller than one {size}x{size} pooling window."
        )
    return block_reduce(
        feature_map[:rows, :columns], (size, size), np.max if mode == "max" else np.mean
    )


def pooling_step(grid: np.ndarray, step: int, size: int = 2, mode: str = "max") -> dict:
    """Everything the pooling stepper shows for one window (stride = ``size``).

    Returns
    -------
    dict with ``position`` (top-left row, column), ``output_index``, ``window``,
    ``value`` (its max or mean), ``output`` (the whole pooled map), ``steps``.
    """
    grid = as_grid(grid, "grid", max_side=MAX_GRID_SIDE)
    output = pool(grid, size, mode)
    step = validation.as_int(step, "step", minimum=0, maximum=output.size - 1)
    out_row, out_column = divmod(step, output.shape[1])
    row, column = out_row * size, out_column * size
    window = grid[row : row + size, column : column + size]
    return {
        "position": (row, column),
        "output_index": (out_row, out_column),
        "window": window,
        "value": float(output[out_row, out_column]),
        "output": output,
        "steps": output.size,
    }


def shift_columns(image: np.ndarray, shift: int) -> np.ndarray:
    """Move an image ``shift`` pixels to the right (negative: left); zeros enter at the edge."""
    image = validation.as_array(image, "image")
    if image.ndim != 2:
        raise ValueError(
            f"image must be a 2-D array (rows, columns), but it has shape {image.shape}."
        )
    shift = validation.as_int(
        shift, "shift", minimum=-image.shape[1] + 1, maximum=image.shape[1] - 1
    )
    moved = np.zeros_like(image)
    if shift >= 0:
        moved[:, shift:] = image[:, : image.shape[1] - shift]
    else:
        moved[:, :shift] = image[:, -shift:]
    return moved


def shift_effect(feature_map: np.ndarray, shift: int = 1, size: int = 2) -> dict:
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
    feature_map = as_grid(feature_map, "feature_map")
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


def fixed_conv2d(kernels: list, padding: str = "same") -> FixedConv2D:
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
        raise TypeError(
            "kernels must be a list of kernels; wrap a single kernel in a list: "
            "fixed_conv2d([kernel])."
        )
    if not isinstance(kernels, (list, tuple, np.ndarray)) or len(kernels) == 0:
        raise TypeError(
            f"kernels must be a non-empty list of 2-D kernels, but got "
            f"{validation.describe(kernels)}."
        )
    kernels = [as_kernel(kernel, f"kernels[{i}]") for i, kernel in enumerate(kernels)]
    if len({kernel.shape for kernel in kernels}) != 1:
        raise ValueError(
            f"all kernels must have the same shape, but got "
            f"{sorted({kernel.shape for kernel in kernels})}."
        )
    validation.one_of(padding, "padding", ["same", "valid"])
    keras = lesson.import_keras()
    weights = np.stack(kernels, axis=-1)[:, :, None, :].astype("float32")  # (kh, kw, 1, n)
    layer = keras.layers.Conv2D(
        len(kernels), kernels[0].shape, padding=padding, use_bias=False, trainable=False
    )
    layer.build((None, None, None, 1))
    layer.set_weights([weights])
    return FixedConv2D(layer)


class FixedConv2D:
    """A fixed-weight ``Conv2D`` that checks its input first (see ``fixed_conv2d``).

    Attributes of the Keras layer (``kernel``, ``trainable``, ...) are available directly.
    """

    def __init__(self, layer: object) -> None:
        self.layer = layer

    def __getattr__(self, name: str) -> object:
        return getattr(self.__dict__["layer"], name)

    def __repr__(self) -> str:
        return (
            f"FixedConv2D({self.layer.filters} filters of {self.layer.kernel_size[0]}x"
            f"{self.layer.kernel_size[1]}, padding={self.layer.padding!r})"
        )

    def __call__(self, batch: np.ndarray) -> object:
        if isinstance(batch, (list, tuple, np.ndarray)):
            batch = validation.as_array(batch, "batch")
            if batch.ndim == 2:
                raise ValueError(
                    f"the layer takes a batch of shape (N, height, width, 1), "
                    f"but got one image of shape {batch.shape}: add batch and "
                    f"channel axes: image[None, :, :, None]."
                )
            if batch.ndim == 3:
                fix = "batch[..., None]" if batch.shape[-1] != 1 else "image[None]"
                raise ValueError(
                    f"the layer takes a batch of shape (N, height, width, 1), "
                    f"but got shape {batch.shape}: add the missing axis with "
                    f"{fix}."
                )
            if batch.ndim != 4 or batch.shape[-1] != 1:
                raise ValueError(
                    f"the layer takes a batch of grayscale images, shape "
                    f"(N, height, width, 1), but got shape {batch.shape}. For "
                    f"colour photos convert to grayscale first "
                    f"(skimage.color.rgb2gray)."
                )
            batch = batch.astype("float32")  # Keras's weights are float32
        return self.layer(batch)


def keras_tolerance(kernel: np.ndarray, image: np.ndarray) -> float:
    """How far a Keras convolution may differ from SciPy's float64 result.

    Keras computes in float32, and NVIDIA GPUs (Ampere and later) run convolutions in
    TensorFloat-32 by default: inputs rounded to 10 mantissa bits, a relative error of about
    1e-3 per product. Each output is a sum of |kernel| * |pixel| terms, hence this bound.
    """
    kernel, image = as_kernel(kernel), validation.as_array(image, "image", finite=True)
    if image.size == 0:
        raise ValueError(f"image is empty: its shape is {image.shape}.")
    return 2e-3 * float(np.abs(kernel).sum()) * max(float(np.abs(image).max()), 1e-12) + 1e-6
