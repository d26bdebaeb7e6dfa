"""Plot helpers shared by the lessons. Each returns a matplotlib ``Figure`` and shows nothing.

Figures are built with ``matplotlib.figure.Figure`` rather than ``pyplot``, so nothing is kept
alive between cells; a notebook displays a returned figure when it is a cell's last expression.

This module is also the one home of the kit's colours: the Okabe-Ito palette
(``OKABE_ITO``), told apart with every common colour vision (tests/test_palette.py simulates
protanopia, deuteranopia and tritanopia and measures the CIEDE2000 differences), the box
colours by role (``BOX_COLOURS``, used by ``boxes.draw_boxes``), a right/wrong pair
(``RIGHT``, ``WRONG``) and ``series_style(index)``: colour, line style and marker of the
index-th line of a plot, so lines differ by more than their colour, at least ``LINE_WIDTH``
points wide (2 points are at least 2 pixels at any resolution of 72 dpi or more).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lab_utils import validation

if TYPE_CHECKING:  # matplotlib is imported when the first figure is made, not at import time
    from matplotlib.figure import Figure

# --------------------------------------------------------------------------------------------
# Colours
# --------------------------------------------------------------------------------------------

#: Okabe & Ito's palette ("Color Universal Design", 2008) as (r, g, b) in 0-255: eight colours
#: chosen to stay distinct for people with protanopia, deuteranopia and tritanopia.
OKABE_ITO: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "orange": (230, 159, 0),
    "sky blue": (86, 180, 233),
    "bluish green": (0, 158, 115),
    "yellow": (240, 228, 66),
    "blue": (0, 114, 178),
    "vermillion": (213, 94, 0),
    "reddish purple": (204, 121, 167),
}

#: Mid grey, for what is shown but no longer counts (suppressed boxes, reference lines).
GREY: tuple[int, int, int] = (128, 128, 128)

#: Box colours by role, (r, g, b) 0-255: ground truth, a prediction, a third kind ("other"),
#: the boxes NMS keeps and those it suppresses. Every pair that appears in one picture keeps a
#: CIEDE2000 difference of at least 20 under each simulated colour-vision deficiency (the
#: former green truth against red predictions fell to 10 with deuteranopia).
BOX_COLOURS: dict[str, tuple[int, int, int]] = {
    "truth": OKABE_ITO["sky blue"],
    "prediction": OKABE_ITO["vermillion"],
    "other": OKABE_ITO["yellow"],
    "kept": OKABE_ITO["orange"],
    "dropped": GREY,
}

#: Box line styles by role: the ground truth dashed, everything a method produced solid, so
#: that truth and prediction differ by more than colour (in grey print, or for a viewer who
#: cannot tell the two colours apart). ``boxes.draw_boxes(..., roles=...)`` applies both.
BOX_LINE_STYLES: dict[str, str] = {
    "truth": "dashed",
    "prediction": "solid",
    "other": "solid",
    "kept": "solid",
    "dropped": "solid",
}

#: How captions and texts name the box colours and styles (plain words a student can say).
BOX_COLOUR_NAMES: dict[str, str] = {
    "truth": "dashed blue",
    "prediction": "red",
    "other": "yellow",
    "kept": "orange",
    "dropped": "grey",
}

#: A right and a wrong answer (a decision, a prediction): blue and vermillion, never the
#: green/red pair that deuteranopia merges. Show the verdict in words or a mark as well.
RIGHT: tuple[int, int, int] = OKABE_ITO["blue"]
WRONG: tuple[int, int, int] = OKABE_ITO["vermillion"]

#: The order in which a plot's series take colours, line styles and markers.
SERIES_COLOURS = ("blue", "orange", "bluish green", "vermillion", "reddish purple", "sky blue")
SERIES_LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 2, 5, 2)))
SERIES_MARKERS = ("o", "s", "^", "D", "v", "P")

#: Width of plotted lines and outlines, in points (1 point = 1/72 inch).
LINE_WIDTH = 2.0


def hex_colour(colour: str | tuple[int, int, int]) -> str:
    """A palette colour as "#rrggbb" for matplotlib or HTML.

    Parameters
    ----------
    colour : str or (r, g, b)
        A name from ``OKABE_ITO`` (or "grey"), or three ints in 0-255.
    """
    if isinstance(colour, str):
        if colour == "grey":
            colour = GREY
        elif colour in OKABE_ITO:
            colour = OKABE_ITO[colour]
        else:
            raise ValueError(
                f"unknown colour {colour!r}; choose one of {sorted(OKABE_ITO)} or 'grey'."
            )
    red, green, blue = (int(value) for value in colour)
    return f"#{red:02x}{green:02x}{blue:02x}"


def series_style(index: int, *, marker: bool = True) -> dict:
    """Keyword arguments for ``axis.plot`` of a plot's ``index``-th series (from 0): an
    Okabe-Ito colour, a line style and (unless ``marker=False``, for curves of many points) a
    marker of its own, and ``LINE_WIDTH``, so the lines stay apart in grey print and for every
    colour vision. Repeats after six series."""
    index = validation.as_int(index, "index", minimum=0)
    style = {
        "color": hex_colour(SERIES_COLOURS[index % len(SERIES_COLOURS)]),
        "linestyle": SERIES_LINE_STYLES[index % len(SERIES_LINE_STYLES)],
        "linewidth": LINE_WIDTH,
    }
    if marker:
        style["marker"] = SERIES_MARKERS[index % len(SERIES_MARKERS)]
    return style


def new_figure(**options: object) -> Figure:
    """A pyplot-free Figure that a notebook still displays when a cell returns it.

    Figures made without pyplot have no notebook display until IPython is told how to
    render them; registering the PNG formatter here (once per kernel, harmless outside
    IPython) keeps that detail out of the lessons.
    """
    from matplotlib.figure import Figure

    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None
    shell = get_ipython() if get_ipython else None
    if shell is not None:
        formatter = shell.display_formatter.formatters["image/png"]
        if Figure not in formatter.type_printers:
            from IPython.core.pylabtools import print_figure

            formatter.for_type(
                Figure, lambda figure: print_figure(figure, "png", bbox_inches="tight")
            )
    return Figure(layout="constrained", **options)


def _as_displayable(image, name):
    """Validate an image for display: (H, W) or (H, W, 3), uint8 or float in [0, 1]."""
    return validation.as_image(image, name)


def show_images(
    images: list[np.ndarray] | np.ndarray,
    titles: list[str] | None = None,
    *,
    columns: int | None = None,
    size: float = 2.6,
    cmap: str = "gray",
) -> Figure:
    """Show images side by side in a grid.

    Parameters
    ----------
    images : sequence of ndarray
        Each (H, W) grayscale or (H, W, 3) RGB; uint8 in [0, 255] or float in [0, 1].
    titles : sequence of str, optional
        One title per image.
    columns : int, optional
        Images per row (default: all in one row, at most 6).
    size : float
        Width of one panel in inches.
    """
    if (
        isinstance(images, np.ndarray)
        and images.ndim in (2, 3)
        and (images.ndim == 2 or images.shape[-1] == 3)
    ):
        raise TypeError(
            "show_images expects a list of images; wrap a single image in a list: "
            "show_images([image])."
        )
    if isinstance(titles, str):
        raise TypeError(
            f"titles must be a list with one title per image, e.g. "
            f"titles=[{titles!r}], but got the string {titles!r}."
        )
    images = list(images)
    if not images:
        raise ValueError("show_images needs at least one image, but the list is empty.")
    images = [_as_displayable(image, f"images[{i}]") for i, image in enumerate(images)]
    if titles is not None:
        titles = list(titles)
        if len(titles) != len(images):
            raise ValueError(
                f"titles must have one entry per image: {len(images)} images "
                f"but {len(titles)} titles."
            )
    columns = (
        min(len(images), 6) if columns is None else validation.as_int(columns, "columns", minimum=1)
    )
    rows = -(-len(images) // columns)
    figure = new_figure(figsize=(size * columns, size * rows + 0.4 * (titles is not None)))
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.set_axis_off()
        if index >= len(images):
            continue
        image = images[index]
        vmax = 255 if image.dtype == np.uint8 else 1.0
        axis.imshow(image, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
        if titles is not None:
            axis.set_title(titles[index])
    return figure


def show_pixel_grid(
    values: np.ndarray,
    *,
    title: str | None = None,
    vmin: float = 0,
    vmax: float | None = None,
    cell_size: float = 0.45,
    fontsize: float | None = None,
) -> Figure:
    """Draw a 2-D grid of gray levels with each number written on its pixel, as on the slide.

    Parameters
    ----------
    values : array_like, shape (H, W)
        Numbers to show (any real dtype); colours are scaled from ``vmin`` (black) to
        ``vmax`` (white; default 255 for integers, 1.0 for floats) and values outside are
        clipped for colour only, never for the text.
    """
    values = validation.as_array(values, "values")
    if vmax is None:
        vmax = 1.0 if np.issubdtype(values.dtype, np.floating) else 255
    if values.ndim != 2:
        raise ValueError(
            f"values must be a 2-D grid (rows, columns), but it has shape "
            f"{values.shape}. For a colour image pass one channel, e.g. image[..., 0]."
        )
    if values.shape[0] * values.shape[1] > 1600:
        raise ValueError(
            f"a {values.shape[0]}x{values.shape[1]} grid is too large to write "
            f"every number; crop it to at most 40x40 pixels first."
        )
    height, width = values.shape
    figure = new_figure(figsize=(max(2.0, width * cell_size), max(2.0, height * cell_size) + 0.3))
    axis = figure.subplots()
    axis.imshow(values, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    fontsize = fontsize or max(5.0, 9.0 * cell_size / 0.45)
    midpoint = (vmin + vmax) / 2
    is_integer = np.issubdtype(values.dtype, np.integer)
    for (row, column), value in np.ndenumerate(values):
        text = f"{value}" if is_integer else f"{value:.2f}"
        axis.text(
            column,
            row,
            text,
            ha="center",
            va="center",
            fontsize=fontsize,
            color="black" if value > midpoint else "white",
        )
    axis.set_xticks(range(width))
    axis.set_yticks(range(height))
    axis.tick_params(labelsize=7, length=0)
    if title:
        axis.set_title(title)
    return figure


def plot_curves(
    x: list[float] | np.ndarray,
    curves: dict,
    *,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """Line plot of several named curves that share the same x values.

    Parameters
    ----------
    x : sequence of float, length N
    curves : dict of str -> sequence of float, each of length N
    """
    x = validation.as_array(list(x), "x")
    if not isinstance(curves, dict) or not curves:
        raise TypeError("curves must be a non-empty dict mapping a label to its y values.")
    figure = new_figure(figsize=(6.0, 3.6))
    axis = figure.subplots()
    for index, (label, y) in enumerate(curves.items()):
        y = validation.as_array(list(y), f"curves[{label!r}]")
        if y.shape != x.shape:
            raise ValueError(f"curves[{label!r}] has {y.size} values but x has {x.size}.")
        axis.plot(x, y, label=label, **series_style(index))
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if ylim is not None:
        axis.set_ylim(*ylim)
    if title:
        axis.set_title(title)
    axis.legend()
    axis.grid(alpha=0.3)
    return figure


def plot_panels(
    x_values: dict,
    curves: dict,
    *,
    ylabel: str,
    ylim: tuple[float, float] | None = None,
    xlabels: dict | None = None,
) -> Figure:
    """One small line plot per panel, e.g. accuracy against each kind of perturbation.

    Parameters
    ----------
    x_values : dict of panel name -> sequence of x values
    curves : dict of panel name -> dict of label -> sequence of y values
    xlabels : dict of panel name -> axis label (with units), optional
    """
    if not isinstance(x_values, dict) or not isinstance(curves, dict):
        raise TypeError(
            "x_values and curves must be dicts keyed by panel name, e.g. "
            "x_values={'shift': [0, 1]}, curves={'shift': {'1-NN': [0.9, 0.6]}}."
        )
    if set(x_values) != set(curves):
        raise ValueError("x_values and curves must name the same panels.")
    for panel, lines in curves.items():
        if not isinstance(lines, dict):
            raise TypeError(
                f"curves[{panel!r}] must be a dict of label -> y values, "
                f"e.g. {{'1-NN': [...]}}, but got {validation.describe(lines)}."
            )
        for label, y in lines.items():
            if len(y) != len(x_values[panel]):
                raise ValueError(
                    f"curves[{panel!r}][{label!r}] has {len(y)} values but "
                    f"x_values[{panel!r}] has {len(x_values[panel])}."
                )
    figure = new_figure(figsize=(3.2 * len(x_values), 3.0))
    axes = np.atleast_1d(figure.subplots(1, len(x_values), sharey=True))
    for axis, panel in zip(axes, x_values):
        for index, (label, y) in enumerate(curves[panel].items()):
            axis.plot(list(x_values[panel]), list(y), label=label, **series_style(index))
        xs = list(x_values[panel])
        if len(xs) > 1 and xs[0] > xs[-1]:  # e.g. scale 1.0 -> 0.55: unchanged on the left
            axis.invert_xaxis()
        axis.set_xlabel((xlabels or {}).get(panel, panel))
        axis.grid(alpha=0.3)
        if ylim is not None:
            axis.set_ylim(*ylim)
    axes[0].set_ylabel(ylabel)
    axes[0].legend()
    return figure
