"""Lesson 02's exercise checks: each compares the student's function with SciPy or Keras (never
with a stored solution) and names the typical mistakes.

Known mistakes are rows of data: (the wrong answer, or the wrong shape, that a mistake gives as
a function of the case's inputs; the message it earns), tried in one loop.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lab_utils import exercises, lesson, validation
from lab_utils.kernels import compute

#: Library (and kit) functions that would make an exercise a look-up (exercises.checker).
_CONVOLUTION_LIBRARY = [
    "scipy.signal.correlate2d",
    "scipy.signal.convolve2d",
    "scipy.signal.correlate",
    "scipy.signal.convolve",
    "scipy.signal.fftconvolve",
    "scipy.signal.oaconvolve",
    "scipy.ndimage.correlate",
    "scipy.ndimage.convolve",
    "keras.layers.Conv2D",
    "keras.ops.conv",
    "cv2.filter2D",
    "lab_utils.kernels.correlate",
    "lab_utils.kernels.filter_image",
    "lab_utils.kernels.fixed_conv2d",
]
_POOLING_LIBRARY = [
    "keras.layers.MaxPooling2D",
    "keras.layers.AveragePooling2D",
    "keras.ops.max_pool",
    "keras.ops.average_pool",
    "skimage.measure.block_reduce",
    "lab_utils.kernels.pool",
    "lab_utils.kernels.pooling_step",
]


def _expect_shape(
    result: object, expected_shape: tuple, name: str, shape_mistakes: list, hint: str
) -> None:
    """Fail with a specific message when the result's shape matches a typical mistake.

    ``shape_mistakes``: rows (the shape a mistake gives, message)."""
    __tracebackhide__ = True
    shape = getattr(result, "shape", None)
    if shape is None or tuple(shape) == tuple(expected_shape):
        return
    for mistake_shape, message in shape_mistakes:
        if tuple(shape) == tuple(mistake_shape):
            exercises.fail(
                f"{name} has shape {tuple(shape)}; expected {tuple(expected_shape)}: {message}",
                hint,
            )


def _expect_float_output(
    result: object, expected: np.ndarray, name: str, argument: str, hint: str
) -> None:
    """Fail when an integer input gave an integer output whose values lost their fractions
    (``np.zeros_like(image)`` makes the result array an integer one)."""
    __tracebackhide__ = True
    if (
        isinstance(result, np.ndarray)
        and np.issubdtype(result.dtype, np.integer)
        and result.shape == expected.shape
        and not np.allclose(expected, np.round(expected))
    ):
        exercises.fail(
            f"{name} has dtype {result.dtype}: the input {argument} is an integer "
            f"array, and an output made with np.zeros_like({argument}) (or "
            f"np.empty_like) takes its integer dtype, so every value is cut to a "
            f"whole number. Create the output with dtype=float.",
            hint,
        )


# --------------------------------------------------------------------------------------------
# Exercise 1: output_size
# --------------------------------------------------------------------------------------------


def _keras_output_size(input_size: int, kernel_size: int, stride: int, padding: int) -> int:
    """Output side of Keras's Conv2D (padding 'valid') on an input zero-padded by ``padding``."""
    keras = lesson.import_keras()
    layer = keras.layers.Conv2D(1, kernel_size, strides=stride, padding="valid")
    side = input_size + 2 * padding
    return int(layer.compute_output_shape((1, side, side, 1))[1])


_OUTPUT_SIZE_HINT = (
    "count the positions where the kernel fits inside the padded input "
    "(padding is added on both sides), then keep every stride-th one, "
    "starting with the first. Try it by hand on the 6x6 example above."
)


def _not_a_size(result: object) -> bool:
    """True for a number no image size can be: NaN, infinite, or beyond 1e15 pixels."""
    if isinstance(result, bool) or not isinstance(result, (int, float, np.number)):
        return False
    return not (validation.is_finite_number(result) and abs(float(result)) < 1e15)


def _not_whole(result: object) -> bool:
    """True for a float with a fractional part."""
    return isinstance(result, (float, np.floating)) and float(result) != round(float(result))


#: Answers no number of pixels can be, tried in order: (test on the answer, message given the
#: case's name and the answer).
OUTPUT_SIZE_PROBLEMS: tuple[tuple[Callable, Callable], ...] = (
    (
        _not_a_size,
        lambda name, result: (
            f"{name} returned {exercises.describe_argument(result)}; expected "
            f"a whole number of pixels about the size of the input (NaN, "
            f"infinity or a huge number comes from a division by zero or an "
            f"overflow)."
        ),
    ),
    (
        _not_whole,
        lambda name, result: (
            f"{name} returned {float(result):g}: a number of pixels is a whole "
            f"number. Round down with // (a window that would stick out of the "
            f"image is not used)."
        ),
    ),
)

#: (the answer a mistake gives for input n, kernel k, stride s, padding p; message)
OUTPUT_SIZE_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (
        lambda n, k, s, p: (n + 2 * p - k) // s,
        "it is one too small: count the first position as well (+ 1).",
    ),
    (lambda n, k, s, p: (n + p - k) // s + 1, "padding is added on both sides: n + 2p."),
    (lambda n, k, s, p: (n + 2 * p - k) + 1, "it ignores the stride."),
    (
        lambda n, k, s, p: -(-(n + 2 * p - k) // s) + 1,
        "it rounds up; a window that would stick out of the padded input is not used, so round "
        "down (//).",
    ),
)


@exercises.checker(
    "output_size",
    forbid=[
        "keras.layers.Conv2D",
        "keras.layers.Conv2D.compute_output_shape",
        "keras.ops.conv",
        "lab_utils.kernels.window_positions",
        "lab_utils.kernels.correlate",
        "scipy.signal.correlate2d",
    ],
)
def check_output_size(output_size: exercises.Student) -> int:
    """Check ``output_size(input_size, kernel_size, stride, padding)`` against Keras's Conv2D."""
    __tracebackhide__ = True
    cases = [
        (5, 3, 1, 0),
        (7, 3, 1, 2),
        (7, 3, 2, 0),
        (6, 3, 2, 0),
        (28, 5, 1, 2),
        (10, 4, 3, 1),
        (224, 7, 2, 3),
        (32, 2, 2, 0),
        (9, 9, 1, 0),
    ]
    for n, k, s, p in cases:
        result = output_size(n, k, s, p, name="output_size(...)", hint=_OUTPUT_SIZE_HINT)
        expected = _keras_output_size(n, k, s, p)
        name = f"output_size(input_size={n}, kernel_size={k}, stride={s}, padding={p})"
        for problem, message in OUTPUT_SIZE_PROBLEMS:
            if problem(result):
                exercises.fail(message(name, result), _OUTPUT_SIZE_HINT)
        if (
            isinstance(result, (int, float, np.number))
            and not isinstance(result, bool)
            and int(result) != expected
        ):
            for wrong, message in OUTPUT_SIZE_MISTAKES:
                if int(result) == wrong(n, k, s, p):
                    exercises.fail(
                        f"{name} returned {int(result)}, expected {expected}: {message}",
                        _OUTPUT_SIZE_HINT,
                    )
        exercises.expect_number(result, expected, name=name, hint=_OUTPUT_SIZE_HINT)
    return len(cases)


# --------------------------------------------------------------------------------------------
# Exercises 2 and 3: conv2d_loops and conv2d
# --------------------------------------------------------------------------------------------


def _reference_correlation(
    image: np.ndarray, kernel: np.ndarray, stride: int, padding: int
) -> np.ndarray:
    """SciPy's correlate2d on the padded image, every stride-th value; confirmed by Keras."""
    from scipy import signal

    padded = np.pad(image, padding)
    expected = signal.correlate2d(padded, kernel, mode="valid")[::stride, ::stride]
    keras = lesson.import_keras()
    layer = keras.layers.Conv2D(1, kernel.shape, strides=stride, padding="valid", use_bias=False)
    layer.build((None,) + padded.shape + (1,))
    layer.set_weights([kernel[:, :, None, None].astype("float32")])
    by_keras = np.asarray(layer(padded[None, :, :, None].astype("float32")))[0, :, :, 0]
    if by_keras.shape != expected.shape or not np.allclose(
        by_keras, expected, atol=compute.keras_tolerance(kernel, padded), rtol=0
    ):
        raise RuntimeError(
            "SciPy and Keras disagree on a convolution: the installed "
            "versions differ from the kit's; please tell your instructor."
        )
    return expected


def _flipped(image: np.ndarray, kernel: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """The mathematical convolution (the kernel flipped)."""
    from scipy import signal

    return signal.convolve2d(np.pad(image, padding), kernel, mode="valid")[::stride, ::stride]


def _edge_padded(image: np.ndarray, kernel: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """The border padded by repeating the edge pixels instead of zeros."""
    from scipy import signal

    edge_padded = np.pad(image, padding, mode="edge")
    return signal.correlate2d(edge_padded, kernel, mode="valid")[::stride, ::stride]


def _transposed(image: np.ndarray, kernel: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """The kernel transposed (only a square kernel gives an answer of the right shape)."""
    from scipy import signal

    if kernel.shape[0] != kernel.shape[1]:
        return np.empty(0)
    return signal.correlate2d(np.pad(image, padding), kernel.T, mode="valid")[::stride, ::stride]


#: (the answer a mistake gives for (image, kernel, stride, padding), message)
CONV_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (
        _flipped,
        "it flips the kernel: that is the mathematical convolution (scipy.signal.convolve2d). "
        "Deep-learning 'convolution' does not flip: multiply each window by the kernel as it is "
        "(cross-correlation).",
    ),
    (
        _edge_padded,
        "the border is padded by repeating the edge pixels; pad with zeros "
        "(np.pad(image, padding) does).",
    ),
    (
        _transposed,
        "the kernel is transposed: kernel[i, j] multiplies the pixel i rows down and j columns "
        "right of the window's corner.",
    ),
)


def _conv_mistakes(image: np.ndarray, kernel: np.ndarray, stride: int, padding: int) -> list:
    """Answers that typical mistakes give, for the known_mistakes of expect_array."""
    return [(wrong(image, kernel, stride, padding), message) for wrong, message in CONV_MISTAKES]


_LOOPS_HINT = (
    "each output pixel (i, j) is the sum of the element-wise products of the "
    "kernel and the window of the image whose top-left corner is (i, j); the "
    "output has as many rows and columns as there are window positions."
)

#: (the shape a mistake gives for (image, kernel), message)
LOOPS_SHAPE_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (
        lambda image, kernel: image.shape,
        "that is the input's size; without padding the kernel fits H - kh + 1 times down and "
        "W - kw + 1 times across.",
    ),
    (
        lambda image, kernel: (image.shape[0] - kernel.shape[0], image.shape[1] - kernel.shape[1]),
        "one position short in each direction: range(H - kh + 1), not range(H - kh).",
    ),
)


@exercises.checker("conv2d_loops", forbid=_CONVOLUTION_LIBRARY)
def check_conv2d_loops(conv2d_loops: exercises.Student) -> int:
    """Check ``conv2d_loops(image, kernel)`` ('valid', stride 1) against SciPy and Keras.

    One case is an integer image with a fractional kernel: the answer must be floats.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(20)
    cases = [
        (compute.SLIDE_GRID.astype(np.float64), np.ones((3, 3))),
        (rng.random((6, 8)), rng.normal(size=(3, 3))),
        (rng.random((5, 4)), rng.normal(size=(2, 3))),
        (compute.SLIDE_GRID.astype(np.int64), np.full((2, 2), 0.3)),
    ]
    for image, kernel in cases:
        result = conv2d_loops(
            image.copy(), kernel.copy(), name="conv2d_loops(image, kernel)", hint=_LOOPS_HINT
        )
        expected = _reference_correlation(image.astype(np.float64), kernel, 1, 0)
        name = f"conv2d_loops({image.dtype} image {image.shape}, kernel {kernel.shape})"
        _expect_float_output(result, expected, name, "image", _LOOPS_HINT)
        _expect_shape(
            result,
            expected.shape,
            name,
            [(shape(image, kernel), message) for shape, message in LOOPS_SHAPE_MISTAKES],
            _LOOPS_HINT,
        )
        exercises.expect_array(
            result,
            expected,
            name=name,
            hint=_LOOPS_HINT,
            known_mistakes=_conv_mistakes(image.astype(np.float64), kernel, 1, 0),
        )
    return len(cases)


_CONV_HINT = (
    "pad first, then loop over the kernel's weights instead of the pixels: each "
    "weight multiplies a shifted slice of the padded image, and the slices add up. "
    "Apply the stride last, to the finished result."
)


def _without_padding(
    image: np.ndarray, kernel: np.ndarray, stride: int, padding: int
) -> np.ndarray | None:
    """The answer of a conv2d that forgot the padding."""
    from scipy import signal

    return signal.correlate2d(image, kernel, mode="valid")[::stride, ::stride]


def _stride_before_convolving(
    image: np.ndarray, kernel: np.ndarray, stride: int, padding: int
) -> np.ndarray | None:
    """The answer of a conv2d that strided the padded image before convolving (None where
    that cannot be computed: stride 1, or a strided image smaller than the kernel)."""
    from scipy import signal

    strided_first = np.pad(image, padding)[::stride, ::stride]
    if stride > 1 and all(n >= k for n, k in zip(strided_first.shape, kernel.shape)):
        return signal.correlate2d(strided_first, kernel, mode="valid")
    return None


#: Mistakes recognised by their values when a conv2d answer has the wrong shape:
#: (the answer for (image, kernel, stride, padding), or None; message)
CONV_SHAPE_ANSWERS: tuple[tuple[Callable, str], ...] = (
    (
        _without_padding,
        "the padding is missing; add `padding` rows and columns of zeros on every side first.",
    ),
    (
        _stride_before_convolving,
        "the stride is applied before convolving (to the image); convolve at every position "
        "first, then keep every stride-th row and column of the result.",
    ),
)

#: Mistakes recognised by the shape alone, named together when several fit:
#: (the shape for (image, kernel, stride, padding), or None; what it is the shape of)
CONV_SHAPE_OF: tuple[tuple[Callable, str], ...] = (
    (
        lambda image, kernel, stride, padding: [
            (n - k) // stride + 1 for n, k in zip(image.shape, kernel.shape)
        ],
        "a convolution without padding",
    ),
    (
        lambda image, kernel, stride, padding: (
            [-(-(n + 2 * padding) // stride) - k + 1 for n, k in zip(image.shape, kernel.shape)]
            if stride > 1
            else None
        ),
        "one where the stride was applied before convolving",
    ),
)

#: Mistakes recognised by the shape alone, one message each:
#: (the shape for (image, kernel, stride, padding), message)
CONV_SHAPE_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (
        lambda image, kernel, stride, padding: [
            n + 2 * padding - k + 1 for n, k in zip(image.shape, kernel.shape)
        ],
        "the stride is missing; keep every stride-th position: result[::stride, ::stride].",
    ),
    (
        lambda image, kernel, stride, padding: [
            -(-(n + 2 * padding - k) // stride) + 1 for n, k in zip(image.shape, kernel.shape)
        ],
        "a window that sticks out of the padded image is not used (round down, as output_size "
        "does).",
    ),
)


def _expect_conv_shape(
    result: object,
    expected_shape: tuple,
    name: str,
    image: np.ndarray,
    kernel: np.ndarray,
    stride: int,
    padding: int,
) -> None:
    """Name the mistake behind a wrong conv2d shape: by the values where a typical mistake's
    answer has the same shape, by the shape alone otherwise (saying what it could be)."""
    __tracebackhide__ = True
    shape = getattr(result, "shape", None)
    if shape is None or tuple(shape) == tuple(expected_shape):
        return
    case = (image, kernel, stride, padding)
    if isinstance(result, np.ndarray) and np.issubdtype(result.dtype, np.number):
        for wrong, message in CONV_SHAPE_ANSWERS:
            answer = wrong(*case)
            if (
                answer is not None
                and answer.shape == result.shape
                and np.allclose(result, answer, atol=1e-6)
            ):
                exercises.fail(
                    f"{name} has shape {tuple(shape)}; expected {tuple(expected_shape)}: {message}",
                    _CONV_HINT,
                )
    possible = [
        description
        for wrong_shape, description in CONV_SHAPE_OF
        if (mistake := wrong_shape(*case)) is not None and tuple(shape) == tuple(mistake)
    ]
    if possible:
        exercises.fail(
            f"{name} has shape {tuple(shape)}; expected {tuple(expected_shape)}. "
            f"That is the shape of {' or of '.join(possible)}: pad with zeros "
            f"first, convolve, then keep every stride-th row and column.",
            _CONV_HINT,
        )
    _expect_shape(
        result,
        expected_shape,
        name,
        [(wrong_shape(*case), message) for wrong_shape, message in CONV_SHAPE_MISTAKES],
        _CONV_HINT,
    )


#: Seconds ``conv2d`` may take on a 384x384 image (a vectorised version takes milliseconds).
CONV2D_SPEED_LIMIT = 0.25


@exercises.checker("conv2d", forbid=_CONVOLUTION_LIBRARY)
def check_conv2d(conv2d: exercises.Student) -> int:
    """Check ``conv2d(image, kernel, stride, padding)`` against SciPy and Keras's Conv2D.

    Covers non-square images, even-sized and non-square kernels (defined behaviour: the
    window's top-left corner moves in steps of ``stride`` over the zero-padded image, as in
    Keras's padding='valid'), strides 1-3 and padding 0-2. Also times a 384x384 image:
    pixel-by-pixel Python loops take seconds there, a vectorised version milliseconds.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(21)
    cases = [
        (rng.random((7, 9)), rng.normal(size=(3, 3)), 1, 1),
        (rng.random((8, 6)), rng.normal(size=(3, 3)), 2, 1),
        (rng.random((9, 7)), rng.normal(size=(3, 3)), 2, 0),
        (rng.random((6, 7)), rng.normal(size=(2, 2)), 1, 0),
        (rng.random((8, 9)), rng.normal(size=(4, 3)), 3, 2),
        (rng.random((5, 5)), rng.normal(size=(5, 5)), 1, 2),
    ]
    for image, kernel, stride, padding in cases:
        result = conv2d(
            image.copy(),
            kernel.copy(),
            stride,
            padding,
            name="conv2d(image, kernel, stride, padding)",
            hint=_CONV_HINT,
        )
        expected = _reference_correlation(image, kernel, stride, padding)
        name = (
            f"conv2d(image {image.shape}, kernel {kernel.shape}, stride={stride}, "
            f"padding={padding})"
        )
        _expect_conv_shape(result, expected.shape, name, image, kernel, stride, padding)
        exercises.expect_array(
            result,
            expected,
            name=name,
            hint=_CONV_HINT,
            known_mistakes=_conv_mistakes(image, kernel, stride, padding),
        )
    big_image, big_kernel = rng.random((384, 384)), rng.normal(size=(3, 3))
    seconds = min(_timed(conv2d, big_image, big_kernel) for _ in range(2))
    if seconds > CONV2D_SPEED_LIMIT:
        exercises.fail(
            f"conv2d is correct but took {seconds:.2f} s on a 384x384 image "
            f"(a vectorised version takes a few milliseconds): it still loops "
            f"over pixels.",
            _CONV_HINT,
        )
    return len(cases) + 1


def _timed(student: exercises.Student, *args: np.ndarray) -> float:
    """Seconds one call ``student(*args, 1, 0)`` takes (measured where the function runs)."""
    student(*args, 1, 0, name="conv2d(image, kernel, 1, 0)")
    return student.last_seconds


# --------------------------------------------------------------------------------------------
# Exercise 4: max_pool2d and average_pool2d
# --------------------------------------------------------------------------------------------


def _keras_pool(feature_map: np.ndarray, pool_size: int, stride: int, mode: str) -> np.ndarray:
    """Keras's MaxPooling2D / AveragePooling2D (padding 'valid') on one 2-D map."""
    keras = lesson.import_keras()
    layer_class = keras.layers.MaxPooling2D if mode == "max" else keras.layers.AveragePooling2D
    layer = layer_class(pool_size=pool_size, strides=stride, padding="valid")
    batch = feature_map[None, :, :, None].astype("float32")
    return np.asarray(layer(batch))[0, :, :, 0].astype(np.float64)


#: (the shape a mistake gives for (feature map shape, pool_size, stride), message)
POOLING_SHAPE_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (
        lambda shape, pool_size, stride: [n - pool_size + 1 for n in shape],
        "the stride is missing (windows moved one pixel at a time).",
    ),
    (
        lambda shape, pool_size, stride: [-(-(n - pool_size) // stride) + 1 for n in shape],
        "leftover rows or columns that do not fill a whole window are dropped, as in Keras's "
        "padding='valid'.",
    ),
    (
        lambda shape, pool_size, stride: [n // pool_size for n in shape],
        "the windows moved by pool_size instead of stride.",
    ),
)


def _check_pooling(student: exercises.Student, mode: str) -> int:
    """Shared body of the pooling checks. The last case is an integer feature map: max
    pooling may keep integers, average pooling must give floats."""
    __tracebackhide__ = True
    function_name = f"{mode}_pool2d"
    other = "average" if mode == "max" else "max"
    hint = (
        f"the output pixel (i, j) is the {'maximum' if mode == 'max' else 'mean'} of "
        f"the pool_size x pool_size window whose top-left corner is (i * stride, "
        f"j * stride); count the output rows as in exercise 1, without padding."
    )
    rng = np.random.default_rng(22 if mode == "max" else 23)
    cases = [
        (compute.POOLING_GRID.astype(np.float64), 2, 2),
        (rng.normal(size=(6, 8)), 2, 2),
        (rng.normal(size=(7, 5)), 2, 2),
        (rng.normal(size=(7, 9)), 3, 2),
        (rng.normal(size=(5, 6)), 3, 1),
        (compute.POOLING_GRID.astype(np.int64), 2, 2),
    ]
    for feature_map, pool_size, stride in cases:
        result = student(
            feature_map.copy(),
            pool_size,
            stride,
            name=f"{function_name}(feature_map, pool_size, stride)",
            hint=hint,
        )
        expected = _keras_pool(feature_map, pool_size, stride, mode)
        if mode == "max" and np.issubdtype(feature_map.dtype, np.integer):
            expected = expected.astype(feature_map.dtype)  # a maximum of integers is one
        name = (
            f"{function_name}({feature_map.dtype} feature_map {feature_map.shape}, "
            f"pool_size={pool_size}, stride={stride})"
        )
        _expect_float_output(result, expected, name, "feature_map", hint)
        _expect_shape(
            result,
            expected.shape,
            name,
            [
                (shape(feature_map.shape, pool_size, stride), message)
                for shape, message in POOLING_SHAPE_MISTAKES
            ],
            hint,
        )
        expected_other = _keras_pool(feature_map, pool_size, stride, other)
        exercises.expect_array(
            result,
            expected,
            name=name,
            hint=hint,
            atol=1e-5,
            known_mistakes=[
                (
                    expected_other,
                    f"it computes {other} pooling; this exercise asks for {mode} pooling.",
                )
            ],
        )
    return len(cases)


@exercises.checker("max_pool2d", forbid=_POOLING_LIBRARY)
def check_max_pool2d(max_pool2d: exercises.Student) -> int:
    """Check ``max_pool2d(feature_map, pool_size, stride)`` against keras MaxPooling2D."""
    __tracebackhide__ = True
    return _check_pooling(max_pool2d, "max")


@exercises.checker("average_pool2d", forbid=_POOLING_LIBRARY)
def check_average_pool2d(average_pool2d: exercises.Student) -> int:
    """Check ``average_pool2d(feature_map, pool_size, stride)`` against AveragePooling2D."""
    __tracebackhide__ = True
    return _check_pooling(average_pool2d, "average")
