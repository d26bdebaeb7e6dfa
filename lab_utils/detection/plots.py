"""Lesson 05's figures: the timeline of detection milestones and precision-recall curves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lab_utils import plots, validation
from lab_utils.plots import new_figure

if TYPE_CHECKING:  # matplotlib is imported when the first figure is made, not at import time
    from matplotlib.figure import Figure


def plot_history(table: dict) -> Figure:
    """Detection milestones on a timeline, coloured by kind (from 'detection_history').

    ``table`` holds columns "year" (whole numbers), "method" and "kind", one entry per row."""
    _check_history(table)
    figure = new_figure(figsize=(9.5, 3.6))
    axes = figure.add_subplot(1, 1, 1)
    kinds = sorted(set(table["kind"]))
    # Okabe-Ito colours (lab_utils.plots) and a marker per kind, so kinds differ in shape too.
    palette = [c for c in plots.OKABE_ITO if c != "black"]
    colours = {kind: plots.hex_colour(palette[i % len(palette)]) for i, kind in enumerate(kinds)}
    markers = {
        kind: plots.SERIES_MARKERS[i % len(plots.SERIES_MARKERS)] for i, kind in enumerate(kinds)
    }
    seen: dict[int, int] = {}
    for year, method, kind in zip(table["year"], table["method"], table["kind"]):
        level = seen.get(year, 0)
        seen[year] = level + 1
        height = 1 + level * 0.9 + (year % 2) * 0.45
        axes.vlines(year, 0, height, color=colours[kind], linewidth=plots.LINE_WIDTH)
        axes.plot(year, 0, markers[kind], color=colours[kind])
        axes.text(
            year,
            height,
            method,
            rotation=30,
            ha="left",
            va="bottom",
            fontsize=8,
            color=colours[kind],
        )
    for kind, colour in colours.items():
        axes.plot([], [], markers[kind], color=colour, label=kind)
    axes.legend(loc="upper left", fontsize=8, ncol=len(kinds))
    axes.set_ylim(-0.3, 5)
    axes.set_yticks([])
    axes.set_xlim(min(table["year"]) - 1, max(table["year"]) + 3)
    axes.set_xlabel("year of publication")
    axes.set_title("Object detection milestones (sources: data/detection_history.csv)")
    return figure


def plot_precision_recall(curves: dict) -> Figure:
    """Precision against recall at IoU 0.5 (COCO's 101 recall points), one line per detector.

    ``curves`` maps a name to a ``coco_evaluation`` result."""
    _check_curves(curves)
    figure = new_figure(figsize=(4.8, 3.6))
    axes = figure.add_subplot(1, 1, 1)
    for index, (name, result) in enumerate(curves.items()):
        axes.plot(
            result["recall_points"],
            result["precision_50"],
            label=f"{name} (AP@0.5 {result['map_50']:.3f})",
            **plots.series_style(index, marker=False),
        )
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.02)
    axes.set_title("precision-recall at IoU 0.5 (mean over classes)")
    axes.legend(loc="lower left", fontsize=8)
    return figure


def _check_history(table: object) -> None:
    """Refuse a milestone table without equal-length year, method and kind columns."""
    made_by = "data.load_table('detection_history')"
    validation.require_keys(table, ("year", "method", "kind"), "table", made_by)
    years = validation.as_array(table["year"], "table['year']", finite=True)
    lengths = {key: np.shape(table[key]) for key in ("year", "method", "kind")}
    if years.ndim != 1 or not len(years) or len(set(lengths.values())) != 1:
        raise ValueError(
            f"table must hold one year, method and kind per milestone (at least one), like "
            f"{made_by}, but its columns have shapes {lengths}."
        )
    if not np.array_equal(years, np.round(years)):
        raise ValueError(f"table['year'] must hold whole years, but got {years.tolist()}.")


def _check_curves(curves: object) -> None:
    """Refuse curves that are not ``{name: coco_evaluation result}`` with matching arrays."""
    validation.require_results(curves, "curves", "coco_evaluation(...)")
    for name, result in curves.items():
        where = f"curves[{name!r}]"
        keys = ("recall_points", "precision_50", "map_50")
        validation.require_keys(result, keys, where, "coco_evaluation")
        recall = validation.as_array(
            result["recall_points"], f"{where}['recall_points']", finite=True
        )
        precision = validation.as_array(
            result["precision_50"], f"{where}['precision_50']", finite=True
        )
        if recall.ndim != 1 or recall.shape != precision.shape:
            raise ValueError(
                f"{where} must have one precision per recall point (two 1-D arrays of the "
                f"same length), but has shapes {recall.shape} and {precision.shape}."
            )
        if not validation.is_finite_number(result["map_50"]):
            raise ValueError(
                f"{where}['map_50'] must be a finite number, but got {result['map_50']!r}."
            )
