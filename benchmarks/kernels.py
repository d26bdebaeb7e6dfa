"""Figures for lesson 02 "Kernels" (printed, not a pass/fail test).

1. A vectorised NumPy conv2d (the reference answer kept with the tests, not the notebook's
   solution) against scipy.signal.correlate2d and Keras's Conv2D, on a 512x512 image with
   3x3 and 7x7 kernels, as ratios measured in one run.
2. The kernel editor's update latency on 512x512 photos, Python side (compute + JPEG).
The lesson's run time and memory under nbval: benchmarks/foundation.py.

Run: `.venv/bin/python benchmarks/kernels.py` (or `make benchmark`).
"""

import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy import signal

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "tests"))

import kernel_reference  # noqa: E402  (tests/kernel_reference.py: vectorised reference)

from lab_utils import data, kernels  # noqa: E402


def median_seconds(function, repeats: int) -> float:
    function()  # warm-up (Keras traces on the first call)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def convolution_figures(repeats: int = 15) -> None:
    image = data.load_image("camera").astype(np.float64) / 255.0  # (512, 512)
    rng = np.random.default_rng(0)
    print(
        f"conv2d on a {image.shape[0]}x{image.shape[1]} image, 'same' zero padding, "
        f"stride 1; median of {repeats}:"
    )
    for size in (3, 7):
        kernel = rng.normal(size=(size, size))
        layer = kernels.fixed_conv2d([kernel])
        batch = image[None, :, :, None].astype("float32")
        padding = (size - 1) // 2
        numpy_result = kernel_reference.conv2d(image, kernel, 1, padding)
        scipy_result = signal.correlate2d(image, kernel, mode="same")
        keras_result = np.asarray(layer(batch))[0, :, :, 0]
        assert np.allclose(numpy_result, scipy_result)
        assert np.allclose(keras_result, scipy_result, atol=kernels.keras_tolerance(kernel, image))
        # Each lambda binds this iteration's values (timed now, but said explicitly).
        numpy_s = median_seconds(
            lambda k=kernel, p=padding: kernel_reference.conv2d(image, k, 1, p), repeats
        )
        scipy_s = median_seconds(
            lambda k=kernel: signal.correlate2d(image, k, mode="same"), repeats
        )
        keras_s = median_seconds(lambda f=layer, b=batch: np.asarray(f(b)), repeats)
        print(
            f"  {size}x{size}: vectorised NumPy {numpy_s * 1e3:7.1f} ms | "
            f"scipy.signal.correlate2d {scipy_s * 1e3:7.1f} ms | "
            f"Keras Conv2D (float32, eager) {keras_s * 1e3:7.1f} ms"
        )
        print(
            f"        ratios to SciPy: NumPy {numpy_s / scipy_s:.2f}x, "
            f"Keras {keras_s / scipy_s:.2f}x  (aim: NumPy within 3x of SciPy)"
        )
        print(
            f"RESULT lesson 02: {image.shape[0]}x{image.shape[1]} conv2d with a {size}x{size} "
            f"kernel, vectorised NumPy / scipy.signal.correlate2d / Keras Conv2D, median of "
            f"{repeats} | {numpy_s * 1e3:.1f} / {scipy_s * 1e3:.1f} / {keras_s * 1e3:.1f} ms"
        )


def editor_figures(updates: int = 40) -> None:
    photos = {"camera": data.load_image("camera"), "astronaut": data.load_image("astronaut")}
    editor = kernels.kernel_editor(photos)
    print(
        f"kernel editor, Python-side update (filter + display + JPEG), median of "
        f"{updates} edits of one weight:"
    )
    for name, photo in photos.items():
        editor.controls["photo"].value = name
        seconds = []
        for value in np.linspace(-1.0, 1.0, updates):
            editor.controls["k11"].value = float(value) + 5.0
            seconds.append(editor.last_render_seconds)
        preset_start = editor.render_count
        editor.controls["preset"].value = "laplacian"
        editor.controls["preset"].value = "sharpen"
        assert editor.render_count == preset_start + 2  # a preset renders once
        print(
            f"  {name} {photo.shape}: {statistics.median(seconds) * 1e3:.1f} ms "
            f"(max {max(seconds) * 1e3:.1f} ms; aim <= 50 ms)"
        )
        print(
            f"RESULT lesson 02: kernel editor update, Python side, median of {updates} "
            f"edits, {name} {photo.shape[0]}x{photo.shape[1]}"
            f"{' RGB' if photo.ndim == 3 else ' gray'} | "
            f"{statistics.median(seconds) * 1e3:.1f} ms"
        )


if __name__ == "__main__":
    convolution_figures()
    editor_figures()
