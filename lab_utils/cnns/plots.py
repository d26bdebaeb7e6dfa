"""Lesson 04's figures: learning curves, a confusion matrix, learned filters beside the
hand-made kernels, feature maps, receptive fields, and the ImageNet top-5 errors by year.

Each function returns a matplotlib ``Figure`` (made with ``lab_utils.plots.new_figure``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lab_utils import models, plots, validation
from lab_utils.cnns import features
from lab_utils.plots import new_figure

if TYPE_CHECKING:  # matplotlib is imported when the first figure is made, not at import time
    from matplotlib.figure import Figure


def plot_learning_curves(trained: dict) -> Figure:
    """Training and validation accuracy per epoch, one panel per trained network.

    Parameters
    ----------
    trained : dict of str -> models.TrainingResult (e.g. ``Comparison.trained``)
    """
    if (
        not isinstance(trained, dict)
        or not trained
        or not all(isinstance(r, models.TrainingResult) for r in trained.values())
    ):
        raise TypeError(
            "trained must be a non-empty dict of name -> models.TrainingResult, "
            "e.g. comparison.trained."
        )
    figure = new_figure(figsize=(3.4 * len(trained), 3.0))
    axes = np.atleast_1d(figure.subplots(1, len(trained), sharey=True))
    for axis, (name, result) in zip(axes, trained.items()):
        epochs = np.arange(1, result.epochs + 1)
        axis.plot(epochs, result.history["accuracy"], label="training", **plots.series_style(0))
        if "val_accuracy" in result.history:
            axis.plot(
                epochs,
                result.history["val_accuracy"],
                label="validation",
                **plots.series_style(1),
            )
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.set_ylim(0, 1)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[0].legend()
    return figure


def plot_confusion(matrix: np.ndarray, class_names: list, *, title: str | None = None) -> Figure:
    """Draw a confusion matrix with the count written in every cell."""
    matrix = validation.as_array(matrix, "matrix")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(
            f"matrix must be square (classes, classes), but it has shape {matrix.shape}."
        )
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, (list, tuple)):
        raise TypeError(
            f"class_names must be a list of the {matrix.shape[0]} class names, "
            f"e.g. split.class_names, but got {validation.describe(class_names)}."
        )
    if len(class_names) != matrix.shape[0]:
        raise ValueError(
            f"class_names must name the {matrix.shape[0]} classes, but it has "
            f"{len(class_names)} entries."
        )
    figure = new_figure(figsize=(4.6, 4.0))
    axis = figure.subplots()
    axis.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            axis.text(
                column,
                row,
                str(count),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if count > matrix.max() / 2 else "black",
            )
    axis.set_xticks(range(len(class_names)), class_names)
    axis.set_yticks(range(len(class_names)), class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    if title:
        axis.set_title(title)
    return figure


def plot_filters_and_kernels(filters: np.ndarray, kernels: dict, *, columns: int = 8) -> Figure:
    """Learned first-layer filters (top rows) and the hand-made kernels (bottom row).

    Each panel has its own symmetric colour scale: red positive, blue negative, white zero.
    """
    filters = validation.as_array(filters, "filters", finite=True)
    if filters.ndim != 3 or not 1 <= len(filters) <= 256 or max(filters.shape[1:]) > 15:
        raise ValueError(
            f"filters must have shape (count, k, k) with 1 to 256 filters of at "
            f"most 15x15 (first_layer_filters(model) gives them), but it has "
            f"shape {filters.shape}."
        )
    if not isinstance(kernels, dict):
        raise TypeError("kernels must be a dict of name -> (k, k) array.")
    columns = validation.as_int(columns, "columns", minimum=1)
    filter_rows = -(-len(filters) // columns)
    kernel_rows = -(-len(kernels) // columns)
    figure = new_figure(figsize=(1.2 * columns, 1.35 * (filter_rows + kernel_rows) + 0.5))
    axes = figure.subplots(filter_rows + kernel_rows, columns, squeeze=False)
    panels = [(f"filter {i}", f) for i, f in enumerate(filters)]
    panels += [None] * (filter_rows * columns - len(panels))
    panels += [(name, np.asarray(k)) for name, k in kernels.items()]
    for axis, panel in zip(axes.flat, panels + [None] * axes.size):
        axis.set_axis_off()
        if panel is None:
            continue
        name, values = panel
        scale = float(np.abs(values).max()) or 1.0
        axis.imshow(values, cmap="bwr", vmin=-scale, vmax=scale)
        axis.set_title(name, fontsize=7)
    figure.suptitle(
        "learned 3x3 filters of the first layer (top) and hand-made kernels (bottom)", fontsize=9
    )
    return figure


def plot_feature_maps(maps: list, *, channels: int = 8) -> Figure:
    """One row per layer: the ``channels`` most active feature maps of that layer.

    The maps of one row share one colour scale, shown by the colour bar at the row's end
    (0 = no response), so brightness can be compared across the channels of a layer.
    """
    if not isinstance(maps, list) or not maps:
        raise TypeError("maps must be the list returned by cnns.feature_maps(model, image).")
    channels = validation.as_int(channels, "channels", minimum=1, maximum=32)
    figure = new_figure(figsize=(1.25 * channels, 1.35 * len(maps)))
    axes = figure.subplots(len(maps), channels, squeeze=False)
    for row, (name, values) in zip(axes, maps):
        strongest = np.argsort(values.reshape(-1, values.shape[-1]).max(axis=0))[::-1]
        low, high = min(float(values.min()), 0.0), max(float(values.max()), 1e-12)
        shown = None
        for column, (axis, channel) in enumerate(
            zip(row, list(strongest[:channels]) + [None] * channels)
        ):
            axis.set_axis_off()
            if column == 0:  # the layer's name and size, written left of the row
                axis.text(
                    -0.08,
                    0.5,
                    f"{name}\n{values.shape[0]}x{values.shape[1]}",
                    transform=axis.transAxes,
                    rotation=90,
                    ha="right",
                    va="center",
                    fontsize=7,
                )
            if channel is None:
                continue
            shown = axis.imshow(values[..., channel], cmap="viridis", vmin=low, vmax=high)
            axis.set_title(f"channel {channel}", fontsize=7)
        if shown is not None:
            colour_bar = figure.colorbar(shown, ax=list(row), fraction=0.015, pad=0.01)
            colour_bar.ax.tick_params(labelsize=6)
    return figure


def plot_receptive_fields(image: np.ndarray, fields: list[dict]) -> Figure:
    """The image with one square per layer: the region one unit of that layer sees.

    The squares are centred on the digit (``bright_centroid``), so that they show how much of
    the digit each layer takes in.
    """
    image = validation.as_image(image, "image", channels=(None,))
    if not isinstance(fields, list) or not fields:
        raise TypeError("fields must be the list returned by cnns.receptive_fields(model).")
    row_centre, column_centre = features.bright_centroid(image)
    from matplotlib import patches

    figure = new_figure(figsize=(4.2, 4.2))
    axis = figure.subplots()
    axis.imshow(image, cmap="gray", vmin=0, vmax=1)
    # Okabe-Ito colours with a line style each (lab_utils.plots.series_style).
    styles = [plots.series_style(index, marker=False) for index in range(len(fields))]
    height, width = image.shape[:2]
    for style, row in zip(styles, fields):
        side = row["receptive_field"]
        # Only the part inside the image carries pixels: the rest would be padding zeros.
        left, right = (
            max(-0.5, column_centre - side / 2),
            min(width - 0.5, column_centre + side / 2),
        )
        top, bottom = max(-0.5, row_centre - side / 2), min(height - 0.5, row_centre + side / 2)
        clipped = (right - left, bottom - top) != (side, side)
        axis.add_patch(
            patches.Rectangle(
                (left, top),
                right - left,
                bottom - top,
                fill=False,
                edgecolor=style["color"],
                linestyle=style["linestyle"],
                linewidth=plots.LINE_WIDTH,
                label=f"{row['layer']}: {side}x{side}"
                + (" (clipped to the image)" if clipped else ""),
            )
        )
    axis.set_xlim(-0.5 - 0.5, width - 0.5 + 0.5)
    axis.set_ylim(height - 0.5 + 0.5, -0.5 - 0.5)
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axis.set_title("what one unit of each layer sees (centred on the digit)", fontsize=9)
    return figure


def plot_imagenet_errors(table: dict) -> Figure:
    """Top-5 error of the ILSVRC winners by year, the human estimate dashed.

    Bars: grey before CNNs, blue for CNN entries (AlexNet's year in red). Every winning entry
    from 2012 on averaged several networks (an ensemble); where the paper gives the error of
    one network, a black dash marks it.

    Parameters
    ----------
    table : dict of columns, as returned by ``data.load_table("imagenet_top5")``
    """
    needed = {
        "year",
        "team",
        "model",
        "entry",
        "top5_error_percent",
        "single_model_top5_error_percent",
        "kind",
    }
    if not isinstance(table, dict) or not needed <= set(table):
        raise TypeError(
            f"table must be data.load_table('imagenet_top5') (columns {', '.join(sorted(needed))})."
        )
    lengths = {name: len(table[name]) for name in sorted(needed)}
    if len(set(lengths.values())) != 1:
        raise ValueError(
            f"table's columns must have one entry per row, but their lengths differ: {lengths}."
        )
    if not all(
        isinstance(value, (int, float)) and not isinstance(value, bool)
        for value in table["top5_error_percent"] + table["year"]
    ):
        raise TypeError(
            "table's 'year' and 'top5_error_percent' columns must hold numbers "
            "(data.load_table converts them)."
        )
    if "winner" not in table["kind"]:
        raise ValueError("table has no row whose kind is 'winner': nothing to plot.")
    winners = [i for i, kind in enumerate(table["kind"]) if kind == "winner"]
    humans = [i for i, kind in enumerate(table["kind"]) if kind != "winner"]
    years = [table["year"][i] for i in winners]
    errors = [table["top5_error_percent"][i] for i in winners]
    figure = new_figure(figsize=(6.8, 3.6))
    axis = figure.subplots()
    colours = [
        plots.hex_colour("vermillion")
        if "AlexNet" in table["model"][i]
        else plots.hex_colour("blue" if table["year"][i] > 2012 else "grey")
        for i in winners
    ]
    axis.bar(years, errors, color=colours)
    for year, error, index in zip(years, errors, winners):
        axis.text(year, error + 0.5, f"{error:g}%\n{table['team'][index]}", ha="center", fontsize=7)
        single = table["single_model_top5_error_percent"][index]
        if single is not None:
            axis.plot(
                [year - 0.4, year + 0.4],
                [single, single],
                color="black",
                linewidth=plots.LINE_WIDTH,
            )
    for index in humans:
        axis.axhline(
            table["top5_error_percent"][index],
            color="black",
            linestyle="--",
            linewidth=plots.LINE_WIDTH,
        )
        axis.text(
            years[0] - 0.4,
            table["top5_error_percent"][index] + 0.4,
            f"human estimate {table['top5_error_percent'][index]:g}%",
            fontsize=7,
        )
    axis.set_xticks(years)
    axis.set_xlabel(
        "ILSVRC year (grey: before CNNs, red: AlexNet, blue: later CNNs; every "
        "bar from 2012 on is an ensemble,\nblack dash: one network alone, "
        "on the validation set)",
        fontsize=8,
    )
    axis.set_ylabel("top-5 error (%)")
    axis.set_ylim(0, max(errors) * 1.25)
    return figure
