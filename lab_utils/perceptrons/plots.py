"""Lesson 03's figures: one perceptron drawn with its numbers, and the activations with their
derivatives.

Each function returns a matplotlib ``Figure`` (made with ``lab_utils.plots.new_figure``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lab_utils import plots, validation
from lab_utils.perceptrons.compute import ACTIVATIONS, activation_curves
from lab_utils.plots import new_figure

if TYPE_CHECKING:  # matplotlib is imported when the first figure is made, not at import time
    from matplotlib.figure import Figure


def draw_perceptron(
    inputs: list | np.ndarray, weights: list | np.ndarray, bias: float, activation: str = "step"
) -> Figure:
    """Draw one perceptron with its numbers: inputs, weights, the weighted sum, the output.

    Parameters
    ----------
    inputs, weights : sequence of float, same length (1-6)
    bias : float
    activation : str
        One of ``ACTIVATIONS`` except "softmax" (a single neuron has nothing to normalise).

    Returns
    -------
    matplotlib.figure.Figure
    """
    inputs = validation.as_array(list(inputs) if isinstance(inputs, tuple) else inputs, "inputs")
    weights = validation.as_array(
        list(weights) if isinstance(weights, tuple) else weights, "weights"
    )
    if inputs.ndim != 1 or not 1 <= inputs.size <= 6:
        raise ValueError(
            f"inputs must be 1 to 6 numbers in a flat list, but got shape {inputs.shape}."
        )
    if weights.shape != inputs.shape:
        raise ValueError(
            f"weights must have one number per input ({inputs.size}), but got "
            f"shape {weights.shape}."
        )
    bias = validation.as_float(bias, "bias")
    validation.one_of(activation, "activation", [a for a in ACTIVATIONS if a != "softmax"])
    total = float(inputs.astype(np.float64) @ weights.astype(np.float64) + bias)
    output = float(activation_curves(np.array([total]), [activation])[activation][0][0])
    figure = new_figure(figsize=(7.0, 1.0 + 0.7 * inputs.size))
    axis = figure.subplots()
    axis.set_axis_off()
    count = inputs.size
    ys = np.linspace(count - 1, 0, count) - (count - 1) / 2
    for y, value, weight in zip(ys, inputs, weights):
        _node(axis, (0, y), f"x = {value:g}")
        axis.annotate(
            "", xy=(3.55, 0), xytext=(0.45, y), arrowprops=dict(arrowstyle="->", color="gray")
        )
        axis.text(
            1.7,
            y * 0.55 + 0.12,
            f"w = {weight:g}",
            ha="center",
            fontsize=9,
            color=plots.hex_colour("blue"),
        )
    axis.text(
        4.2, 0.72, f"b = {bias:g}", ha="center", fontsize=9, color=plots.hex_colour("vermillion")
    )
    _node(axis, (4.2, 0), "Σ", radius=0.6)
    axis.text(4.2, -0.95, f"Σ xᵢwᵢ + b = {total:.3g}", ha="center", fontsize=9)
    axis.annotate("", xy=(6.5, 0), xytext=(4.8, 0), arrowprops=dict(arrowstyle="->"))
    axis.text(5.65, 0.15, activation, ha="center", fontsize=9)
    axis.text(6.6, 0, f"output = {output:.3g}", va="center", fontsize=10, weight="bold")
    axis.set_xlim(-0.7, 8.6)
    axis.set_ylim(min(ys) - 1.2, max(ys) + 0.8)
    axis.set_aspect("equal")
    return figure


def _node(axis: object, centre: tuple, text: str, radius: float = 0.45) -> None:
    """A circle with a short text inside (one neuron or one input of the diagram)."""
    from matplotlib.patches import Circle

    axis.add_patch(Circle(centre, radius, facecolor="#eef", edgecolor="black"))
    axis.text(*centre, text, ha="center", va="center", fontsize=8)


def plot_activations(
    z: np.ndarray | None = None, names: list | tuple | str = ACTIVATIONS
) -> Figure:
    """One small panel per activation: the function (solid) and its derivative (dashed)."""
    z = np.linspace(-4, 4, 401) if z is None else z
    curves = activation_curves(z, names)
    figure = new_figure(figsize=(2.6 * min(len(curves), 3), 2.3 * -(-len(curves) // 3)))
    axes = np.atleast_1d(
        figure.subplots(-(-len(curves) // 3), min(len(curves), 3), squeeze=False)
    ).ravel()
    for axis, (name, (values, derivatives)) in zip(axes, curves.items()):
        axis.plot(z, values, label=name, **plots.series_style(0, marker=False))
        axis.plot(z, derivatives, label="derivative", **plots.series_style(1, marker=False))
        title = "softmax: first of 3 classes\n(scores z, 0, 0)" if name == "softmax" else name
        axis.set_title(title, fontsize=9)
        axis.axhline(0, color="gray", lw=0.5)
        axis.axvline(0, color="gray", lw=0.5)
        axis.set_ylim(-1.6, 2.1)
    for axis in axes[len(curves) :]:
        axis.set_axis_off()
    axes[0].legend(fontsize=7, loc="upper left")
    return figure
