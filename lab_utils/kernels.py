"""Lesson 02 "Kernels": convolution step by step, the classic kernels on real photos, pooling.

Compute functions (pure, tested), the lesson's widget builders and the checks of its
exercises. ``CLASSIC_KERNELS`` is the slide's kernel table, corrected; lesson 04 reuses it.
Importing this module does not import TensorFlow: Keras is imported inside the functions
that need it, through ``lesson.import_keras()``.
"""

from __future__ import annotations

import numpy as np

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
