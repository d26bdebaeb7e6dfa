"""Reference answers to lesson 02's exercises, for testing the checks and for the benchmark.

They live with the tests, not in lab_utils, so students do not find them next to the checks.
"""

import numpy as np


def output_size(input_size, kernel_size, stride=1, padding=0):
    return (input_size + 2 * padding - kernel_size) // stride + 1


def conv2d_loops(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


def conv2d(image, kernel, stride=1, padding=0):
    """Vectorised: one shifted slice of the padded image per kernel weight."""
    padded = np.pad(np.asarray(image, dtype=np.float64), padding)
    kh, kw = kernel.shape
    rows, columns = padded.shape[0] - kh + 1, padded.shape[1] - kw + 1
    out = np.zeros((rows, columns))
    for i in range(kh):
        for j in range(kw):
            out += kernel[i, j] * padded[i : i + rows, j : j + columns]
    return out[::stride, ::stride]


def _windows(feature_map, pool_size, stride):
    view = np.lib.stride_tricks.sliding_window_view(feature_map, (pool_size, pool_size))
    return view[::stride, ::stride]


def max_pool2d(feature_map, pool_size=2, stride=2):
    return _windows(feature_map, pool_size, stride).max(axis=(-2, -1))


def average_pool2d(feature_map, pool_size=2, stride=2):
    return _windows(feature_map, pool_size, stride).mean(axis=(-2, -1))
