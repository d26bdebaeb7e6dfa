"""Lesson 06's figures: ROC curves, distance histograms, training curves, rotation sweeps,
the 68 landmarks, and the rectangle features of an OpenCV cascade's first stage.

Every function returns a matplotlib ``Figure`` made with ``lab_utils.plots.new_figure``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lab_utils import plots, validation
from lab_utils.faces import dlib_faces, verification
from lab_utils.plots import new_figure

if TYPE_CHECKING:  # matplotlib is imported when the first figure is made, not at import time
    from matplotlib.figure import Figure

CASCADE_COLUMNS = 9  # stumps per row in ``plot_cascade_features``

# Okabe-Ito colours (lab_utils.plots), each landmark group with its own marker as well.
_GROUP_COLOURS = {
    "jaw": plots.hex_colour("orange"),
    "right eyebrow": plots.hex_colour("bluish green"),
    "left eyebrow": plots.hex_colour("yellow"),
    "nose": plots.hex_colour("sky blue"),
    "right eye": plots.hex_colour("blue"),
    "left eye": plots.hex_colour("reddish purple"),
    "mouth": plots.hex_colour("vermillion"),
}
_GROUP_MARKERS = dict(zip(_GROUP_COLOURS, ("o", "s", "^", "D", "v", "P", "X")))


def plot_roc(rocs: dict, *, title: str | None = None) -> Figure:
    """ROC curves of several embeddings on the same pairs: name -> Roc."""
    if not isinstance(rocs, dict) or not rocs:
        raise TypeError("rocs must be a non-empty dict of name -> faces.Roc.")
    figure = new_figure(figsize=(4.8, 4.2))
    axis = figure.subplots()
    for index, (name, roc) in enumerate(rocs.items()):
        axis.plot(
            roc.false_accept,
            roc.true_accept,
            label=f"{name} (AUC {roc.auc:.3f})",
            **plots.series_style(index, marker=False),
        )
    axis.plot([0, 1], [0, 1], color=plots.hex_colour("grey"), linestyle=":", label="chance")
    axis.set_xlabel("false accept rate (different people accepted)")
    axis.set_ylabel("true accept rate (same person accepted)")
    axis.legend(fontsize=8, loc="lower right")
    axis.grid(alpha=0.3)
    if title:
        axis.set_title(title)
    return figure


def plot_distance_histograms(
    distances: np.ndarray,
    same: np.ndarray,
    *,
    threshold: float | None = None,
    title: str | None = None,
) -> Figure:
    """Histograms of same-person and different-person pair distances (and a threshold)."""
    distances, same = verification.as_pairs(distances, same)
    figure = new_figure(figsize=(5.6, 3.0))
    axis = figure.subplots()
    bins = np.linspace(0, distances.max(), 40)
    # Orange and blue (told apart with every colour vision), one of them hatched as well.
    axis.hist(
        distances[~same],
        bins,
        density=True,
        alpha=0.6,
        color=plots.hex_colour("orange"),
        hatch="//",
        label="different people",
    )
    axis.hist(
        distances[same],
        bins,
        density=True,
        alpha=0.6,
        color=plots.hex_colour("blue"),
        label="same person",
    )
    if threshold is not None:
        axis.axvline(
            threshold,
            color="black",
            linestyle="--",
            linewidth=plots.LINE_WIDTH,
            label=f"threshold {threshold:.3g}",
        )
    axis.set_xlabel("squared distance between the two embeddings")
    axis.set_ylabel("density")
    axis.legend(fontsize=8)
    if title:
        axis.set_title(title)
    return figure


def plot_training_curves(results: dict) -> Figure:
    """Loss and validation AUC per epoch of several triplet trainings (name -> result)."""
    figure = new_figure(figsize=(9.0, 3.2))
    loss_axis, auc_axis = figure.subplots(1, 2)
    for index, (name, result) in enumerate(results.items()):
        epochs = np.arange(1, len(result.history["loss"]) + 1)
        style = plots.series_style(index)
        loss_axis.plot(epochs, result.history["loss"], label=name, **style)
        if "val_auc" in result.history:
            auc_axis.plot(epochs, result.history["val_auc"], label=name, **style)
    loss_axis.set(xlabel="epoch", ylabel="triplet loss (mean of active terms)")
    auc_axis.set(xlabel="epoch", ylabel="validation AUC")
    for axis in (loss_axis, auc_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return figure


def plot_rotation_sweeps(sweeps: dict) -> Figure:
    """Detection rate against in-plane rotation for several detectors (name -> sweep).

    Each sweep is a ``rotation_sweep`` result: "angles" and "rate" (fractions in [0, 1]) of the
    same length, and "seconds" per image."""
    _check_sweeps(sweeps)
    figure = new_figure(figsize=(5.6, 3.4))
    axis = figure.subplots()
    for index, (name, sweep) in enumerate(sweeps.items()):
        axis.plot(
            sweep["angles"],
            sweep["rate"],
            label=f"{name} ({sweep['seconds'] * 1000:.0f} ms/image)",
            **plots.series_style(index),
        )
    axis.set_xlabel("rotation of the face in the image plane (degrees)")
    axis.set_ylabel("faces found")
    axis.set_ylim(-0.05, 1.05)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return figure


def _check_sweeps(sweeps: object) -> None:
    """Refuse sweeps that are not ``{name: rotation_sweep result}`` with matching arrays."""
    validation.require_results(sweeps, "sweeps", "faces.rotation_sweep(...)")
    for name, sweep in sweeps.items():
        where = f"sweeps[{name!r}]"
        validation.require_keys(sweep, ("angles", "rate", "seconds"), where, "rotation_sweep")
        angles = validation.as_array(sweep["angles"], f"{where}['angles']", finite=True)
        rate = validation.as_array(sweep["rate"], f"{where}['rate']", finite=True)
        if angles.ndim != 1 or angles.shape != rate.shape:
            raise ValueError(
                f"{where} must have one rate per angle (two 1-D arrays of the same length), "
                f"but has shapes {angles.shape} and {rate.shape}."
            )
        if rate.size and (rate.min() < 0 or rate.max() > 1):
            raise ValueError(f"{where}['rate'] must be fractions in [0, 1], but got {rate}.")
        validation.as_float(sweep["seconds"], f"{where}['seconds']", minimum=0.0)


def plot_landmarks(image: np.ndarray, points: np.ndarray, *, title: str | None = None) -> Figure:
    """The 68 landmarks on ``image``, coloured by group and numbered 1-68 as on the slide."""
    image = validation.as_image(image)
    # finite: a NaN landmark would be left out of the picture without a word.
    points = validation.as_array(points, "points", finite=True)
    if points.shape != (68, 2):
        raise ValueError(f"points must have shape (68, 2), but have shape {points.shape}.")
    figure = new_figure(figsize=(5.0, 5.0))
    axis = figure.subplots()
    axis.imshow(image, cmap="gray")
    for group, numbers_range in dlib_faces.LANDMARK_GROUPS.items():
        rows = [n - 1 for n in numbers_range]
        axis.scatter(
            points[rows, 0],
            points[rows, 1],
            s=14,
            color=_GROUP_COLOURS[group],
            marker=_GROUP_MARKERS[group],
            label=f"{group} ({numbers_range[0]}-{numbers_range[-1]})",
        )
        for n in numbers_range:
            axis.annotate(
                str(n),
                points[n - 1],
                fontsize=5,
                color=plots.hex_colour("yellow"),
                xytext=(2, 2),
                textcoords="offset points",
            )
    axis.legend(fontsize=6, loc="upper right")
    axis.set_axis_off()
    if title:
        axis.set_title(title)
    return figure


def plot_cascade_features(summary: dict, background: np.ndarray | None = None) -> Figure:
    """The rectangle features of a cascade's first stage on a (window-sized) background:
    white rectangles are weighted positively, dark ones negatively."""
    width, height = summary["window"]
    features = summary["first_stage"]
    columns = CASCADE_COLUMNS
    rows = -(-len(features) // columns)
    figure = new_figure(figsize=(1.3 * columns, 1.4 * rows))
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    base = np.full((height, width), 0.5) if background is None else background
    for axis in axes:
        axis.set_axis_off()
    for index, (axis, rectangles) in enumerate(zip(axes, features), start=1):
        axis.imshow(base, cmap="gray", vmin=0, vmax=1)
        for x, y, w, h, weight in rectangles:
            colour = "white" if weight > 0 else "black"
            axis.add_patch(_rectangle((x - 0.5, y - 0.5), w, h, colour))
        axis.set_title(f"stump {index}", fontsize=8)
    figure.suptitle(
        f"stage 1 of {summary['stages']}: {len(features)} features "
        f"({summary['window'][0]}x{summary['window'][1]} window)"
    )
    return figure


def _rectangle(corner, width, height, colour):
    from matplotlib.patches import Rectangle

    return Rectangle(
        corner,
        width,
        height,
        facecolor=colour,
        edgecolor=plots.hex_colour("vermillion"),
        alpha=0.7,
        linewidth=plots.LINE_WIDTH,
    )


def plot_gallery_false_accepts(let_in: np.ndarray, *, title: str | None = None) -> Figure:
    """Fraction of visitors let in against the gallery size (``gallery_false_accepts``)."""
    let_in = validation.as_array(let_in, "let_in").astype(np.float64)
    if let_in.ndim != 1 or len(let_in) == 0:
        raise ValueError(f"let_in must be one rate per gallery size, but has shape {let_in.shape}.")
    figure = new_figure(figsize=(4.8, 3.0))
    axis = figure.subplots()
    sizes = np.arange(1, len(let_in) + 1)
    axis.plot(sizes, 100 * let_in, **plots.series_style(0))
    axis.set_xlabel("people in the gallery")
    axis.set_ylabel("visitors let in (%)")
    axis.set_xticks(sizes)
    axis.set_ylim(0, 100)
    if title:
        axis.set_title(title)
    return figure
