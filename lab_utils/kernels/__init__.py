"""Lesson 02 "Kernels": convolution step by step, the classic kernels on real photos, pooling.

Which file holds what:

* ``compute``: the kernel table ``CLASSIC_KERNELS`` (the slide's, corrected; lesson 04 reuses
  it), input checks, ``correlate`` and the convolution's steps, ``filter_image`` and
  ``to_display``, receptive fields and combined kernels, ``pool``, and ``fixed_conv2d`` (the
  same kernels as a Keras layer);
* ``widgets``: the convolution stepper, the kernel editor and the pooling stepper;
* ``plots``: none (this lesson's figures come from ``lab_utils.plots``);
* ``checks``: the checks of the lesson's exercises (``check_output_size``, ``check_conv2d``...).

Importing this package does not import TensorFlow: Keras is imported inside the functions that
need it, through ``lesson.import_keras()``.
"""

from lab_utils.kernels.checks import (
    check_average_pool2d,
    check_conv2d,
    check_conv2d_loops,
    check_max_pool2d,
    check_output_size,
)
from lab_utils.kernels.compute import (
    CLASSIC_KERNELS,
    DISPLAY_MODES,
    MAX_KERNEL_WEIGHT,
    POOLING_GRID,
    POOLING_MODES,
    SLIDE_GRID,
    FixedConv2D,
    as_kernel,
    clipped_fraction,
    combine_kernels,
    convolution_step,
    correlate,
    filter_image,
    fixed_conv2d,
    keras_tolerance,
    normalise_kernel,
    padding_amount,
    pool,
    pooling_step,
    receptive_field,
    shift_columns,
    shift_effect,
    to_display,
    window_positions,
)
from lab_utils.kernels.widgets import convolution_stepper, grid_html, kernel_editor, pooling_stepper

__all__ = [
    "CLASSIC_KERNELS",
    "DISPLAY_MODES",
    "MAX_KERNEL_WEIGHT",
    "POOLING_GRID",
    "POOLING_MODES",
    "SLIDE_GRID",
    "FixedConv2D",
    "as_kernel",
    "check_average_pool2d",
    "check_conv2d",
    "check_conv2d_loops",
    "check_max_pool2d",
    "check_output_size",
    "clipped_fraction",
    "combine_kernels",
    "convolution_step",
    "convolution_stepper",
    "correlate",
    "filter_image",
    "fixed_conv2d",
    "grid_html",
    "keras_tolerance",
    "kernel_editor",
    "normalise_kernel",
    "padding_amount",
    "pool",
    "pooling_step",
    "pooling_stepper",
    "receptive_field",
    "shift_columns",
    "shift_effect",
    "to_display",
    "window_positions",
]
