"""Lesson 03's widgets: the playground (a TensorFlow-Playground-like trainer) and the loss
explorer, with the small SVG line plots they draw (much faster than a matplotlib redraw).

Thin builders: the data, networks and pictures come from ``lab_utils.perceptrons.compute``
and ``lab_utils.perceptrons.playground``.
"""

from __future__ import annotations

import html
import itertools
import time
import weakref
from collections.abc import Callable

import numpy as np

from lab_utils import plots, validation
from lab_utils import widgets as kit_widgets
from lab_utils.perceptrons import compute, training

# --------------------------------------------------------------------------------------------
# Small SVG line plots
# --------------------------------------------------------------------------------------------


def nice_ticks(low: float, high: float, count: int = 5) -> np.ndarray:
    """Round tick positions (multiples of 1, 2, 2.5 or 5 times a power of ten) covering
    [low, high] with about ``count`` intervals."""
    low, high = float(low), float(high)
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        raise ValueError(f"need finite low < high for ticks, but got {low!r} and {high!r}.")
    raw = (high - low) / max(1, count)
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))
    first = np.ceil(low / step - 1e-9) * step
    ticks = np.arange(first, high + step * 1e-6, step)
    return np.round(ticks, 12) + 0.0  # + 0.0 turns -0.0 into 0.0 (no "-0" label)


_SVG_IDS = itertools.count()


def svg_line_plot(
    x: np.ndarray,
    curves: dict,
    *,
    width: int = 320,
    height: int = 150,
    ylim: tuple | None = None,
    marker_x: float | None = None,
    xlabel: str = "",
    ylabel: str = "",
) -> str:
    """A small SVG line plot (a string for an ``ipywidgets.HTML``): much faster than matplotlib.

    Axes with round tick values and light grid lines, labels outside the frame, the legend
    above it. Parts of a curve outside ``ylim`` are cut at the frame (never drawn along it).

    Parameters
    ----------
    x : ndarray, shape (N,), N >= 2
    curves : dict of label -> ndarray of shape (N,); non-finite values are left out
    ylim : (low, high), optional; default: the range of the finite values
    marker_x : float, optional
        Draws a vertical line and a dot on each curve at this x.
    """
    x, ys = _svg_data(x, curves)
    finite = np.concatenate([v[np.isfinite(v)] for v in ys.values()] + [np.zeros(0)])
    low, high = (
        ylim if ylim is not None else ((finite.min(), finite.max()) if finite.size else (0.0, 1.0))
    )
    low, high = float(low), float(high)
    high = high if high > low else low + 1.0
    left, right = 44 if ylabel else 34, width - 10
    top, bottom = 20, height - (30 if xlabel else 18)
    x_low, x_high = float(x.min()), float(x.max())
    x_high = x_high if x_high > x_low else x_low + 1.0

    def sx(value):
        return left + (value - x_low) / (x_high - x_low) * (right - left)

    def sy(value):  # kept a little beyond the frame; the clip path cuts the rest
        span = high - low
        return bottom - (np.clip(value, low - span, high + span) - low) / span * (bottom - top)

    clip = f"plot-clip-{next(_SVG_IDS)}"
    parts = [
        f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" '
        f'style="font:10px sans-serif;background:#fff">',
        f'<defs><clipPath id="{clip}"><rect x="{left}" y="{top}" width="{right - left}" '
        f'height="{bottom - top}"/></clipPath></defs>',
    ]
    parts += _svg_axes(
        sx, sy, (left, right, top, bottom), (x_low, x_high, low, high), height, xlabel, ylabel
    )
    legend_x = left
    for index, (label, values) in enumerate(ys.items()):
        colour = _SVG_PALETTE[index % len(_SVG_PALETTE)]
        dashes = _SVG_DASHES[index % len(_SVG_DASHES)]
        keep = np.isfinite(values)
        coordinates = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(x[keep], values[keep]))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" {dashes}'
            f'clip-path="url(#{clip})" points="{coordinates}"/>'
        )
        parts.append(
            f'<line x1="{legend_x}" x2="{legend_x + 14}" y1="{top - 7}" '
            f'y2="{top - 7}" stroke="{colour}" stroke-width="2.5" {dashes}/>'
            f'<text x="{legend_x + 18}" y="{top - 3.5}">{html.escape(str(label))}'
            f"</text>"
        )
        legend_x += 30 + 6 * len(str(label))
        if marker_x is not None:
            at = float(np.interp(marker_x, x, np.where(keep, values, np.nan)))
            parts += _svg_marker(sx(marker_x), sy, at, colour, low, high, top, bottom)
    if marker_x is not None:
        parts.append(
            f'<line x1="{sx(marker_x):.1f}" x2="{sx(marker_x):.1f}" y1="{top}" '
            f'y2="{bottom}" stroke="#888" stroke-dasharray="3,3"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


# Okabe-Ito colours (lab_utils.plots), orange and blue first as in TensorFlow Playground, and a
# dash pattern per curve, so curves differ by more than colour.
_SVG_PALETTE = [
    plots.hex_colour(name)
    for name in ("orange", "blue", "bluish green", "reddish purple", "vermillion")
]
_SVG_DASHES = [
    "",
    'stroke-dasharray="6,3" ',
    'stroke-dasharray="2,2" ',
    'stroke-dasharray="8,3,2,3" ',
]


def _svg_data(x: np.ndarray, curves: dict) -> tuple[np.ndarray, dict]:
    """``svg_line_plot``'s arguments checked: x and each curve as float64 arrays."""
    x = validation.as_array(x, "x").astype(np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(
            f"x must be a flat array of at least 2 numbers, but it has shape {x.shape}."
        )
    if not isinstance(curves, dict) or not curves:
        raise TypeError(
            f"curves must be a non-empty dict of label -> values, but got "
            f"{validation.describe(curves)}."
        )
    ys = {}
    for label, values in curves.items():
        values = validation.as_array(values, f"curves[{label!r}]").astype(np.float64)
        if values.shape != x.shape:
            raise ValueError(
                f"curves[{label!r}] must have shape {x.shape} like x, but it has "
                f"shape {values.shape}."
            )
        ys[label] = values
    return x, ys


def _svg_axes(
    sx: Callable, sy: Callable, frame: tuple, limits: tuple, height: int, xlabel: str, ylabel: str
) -> list[str]:
    """The plot's grid lines and tick labels, its frame and its axis labels (SVG elements).

    ``frame`` is (left, right, top, bottom) in pixels, ``limits`` (x_low, x_high, low, high)
    in data units; ``sx`` and ``sy`` map data to pixels."""
    left, right, top, bottom = frame
    x_low, x_high, low, high = limits
    parts = []
    for tick in nice_ticks(low, high, max(2, (bottom - top) // 28)):
        y = sy(tick)
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 3.5:.1f}" text-anchor="end">{tick:g}</text>')
    for tick in nice_ticks(x_low, x_high, max(2, (right - left) // 60)):
        parts.append(
            f'<line x1="{sx(tick):.1f}" x2="{sx(tick):.1f}" y1="{bottom}" '
            f'y2="{bottom + 3}" stroke="#888"/>'
        )
        parts.append(
            f'<text x="{sx(tick):.1f}" y="{bottom + 13}" text-anchor="middle">{tick:g}</text>'
        )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
        f'fill="none" stroke="#aaa"/>'
    )
    if xlabel:
        parts.append(
            f'<text x="{(left + right) / 2:.0f}" y="{height - 4}" '
            f'text-anchor="middle">{html.escape(xlabel)}</text>'
        )
    if ylabel:
        parts.append(
            f'<text transform="translate(10,{(top + bottom) / 2:.0f}) rotate(-90)" '
            f'text-anchor="middle">{html.escape(ylabel)}</text>'
        )
    return parts


def _svg_marker(
    cx: float,
    sy: Callable,
    at: float,
    colour: str,
    low: float,
    high: float,
    top: float,
    bottom: float,
) -> list[str]:
    """A dot where a curve crosses the marker line, or an arrow on the frame pointing to it
    when it is off the chart (nothing where the curve has no finite value)."""
    if np.isfinite(at) and low <= at <= high:
        return [f'<circle cx="{cx:.1f}" cy="{sy(at):.1f}" r="3.5" fill="{colour}"/>']
    if np.isfinite(at):
        edge, tip = (top, top - 5) if at > high else (bottom, bottom + 5)
        return [
            f'<polygon points="{cx - 4:.1f},{edge} {cx + 4:.1f},{edge} '
            f'{cx:.1f},{tip}" fill="{colour}"/>'
        ]
    return []


# --------------------------------------------------------------------------------------------
# The playground: a small Keras network trained live on a toy dataset
# --------------------------------------------------------------------------------------------


class Playground(kit_widgets.Interactive):
    """The playground widget: ``widgets.Interactive`` plus play, step and reset controls.

    ``step()`` (the step button) trains ``steps_per_tick`` steps and redraws. ``play`` (a
    toggle) repeats that on the kernel's asyncio event loop (``loop.call_later``), so the
    notebook stays responsive between frames; clicking it again stops. Changing the dataset,
    the layers or the activation starts a new network; the learning rate changes in place.

    One playground plays at a time: pressing play pauses the others, and building a new one
    (re-running its cell) pauses the old ones, whose views are gone but whose frames would
    otherwise keep the kernel busy.
    """

    _instances: weakref.WeakSet[Playground] = weakref.WeakSet()

    def __init__(
        self,
        controls: dict,
        render: Callable,
        layout: object,
        *,
        trainer_box: dict,
        play_button: object,
        step_button: object,
        reset_button: object,
        steps_per_tick: int,
        frame_seconds: float,
    ) -> None:
        self._trainer_box = trainer_box
        self.play_button, self.step_button, self.reset_button = (
            play_button,
            step_button,
            reset_button,
        )
        self.steps_per_tick = steps_per_tick
        self.frame_seconds = frame_seconds
        self._pending = None
        self.ticks = 0
        super().__init__(controls, render, layout)
        for other in list(Playground._instances):
            other.pause()
        Playground._instances.add(self)
        step_button.on_click(lambda _: self.step())
        reset_button.on_click(lambda _: self.reset())
        play_button.observe(self._on_play, names="value")

    @property
    def trainer(self) -> training.PlaygroundTrainer:
        """The current dataset and network."""
        return self._trainer_box["trainer"]

    def step(self, steps: int | None = None) -> dict:
        """Train ``steps`` (default ``steps_per_tick``) steps, redraw, return the new state."""
        self.trainer.train(self.steps_per_tick if steps is None else steps)
        self.ticks += 1
        return self.refresh()

    def reset(self) -> dict:
        """Start again with fresh weights (same settings)."""
        self._trainer_box["config"] = None
        return self.refresh()

    def pause(self) -> None:
        """Stop playing (same as clicking pause)."""
        self.play_button.value = False

    def _on_play(self, change):
        if change["new"]:
            for other in list(Playground._instances):
                if other is not self:
                    other.pause()
            self.play_button.description, self.play_button.icon = "pause", "pause"
            self._schedule()
        else:
            self.play_button.description, self.play_button.icon = "play", "play"
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None

    def _schedule(self):
        import asyncio  # here rather than at the top: importing it costs ~50 ms

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:  # plain Python, no kernel: nothing would run the frames
            self.play_button.value = False
            self.state["message"] = "play needs a running Jupyter kernel; use step instead."
            return
        self._pending = loop.call_later(self.frame_seconds, self._tick)

    def _tick(self):
        self._pending = None
        if not self.play_button.value:
            return
        try:
            self.step()
        except Exception:
            self.play_button.value = False
            raise
        self._schedule()


#: Points in each of the playground's datasets.
PLAYGROUND_SAMPLES = 200


def playground(
    *,
    dataset: str = "circles",
    classes: int = 2,
    noise: float = 0.1,
    hidden_layers: int = 1,
    units: int = 4,
    activation: str = "tanh",
    learning_rate: float = 0.3,
    steps_per_tick: int = 10,
    resolution: int = 60,
    seed: int = 0,
) -> Playground:
    """Widget: TensorFlow Playground inside the notebook.

    Choose a dataset, the number of classes (blobs and spiral), the hidden layers and units,
    the activation and the learning rate; press play (or step) and watch the decision
    boundary and the loss curve change while the network trains. The status line reports
    the loss, the accuracy and the milliseconds per training step.

    Returns
    -------
    Playground
        A ``widgets.Interactive``; tests call ``.step()`` or ``.step_button.click()`` and read
        ``.state`` ("step", "loss", "accuracy", "ms_per_step", "image", "classes").
    """
    controls = _playground_controls(
        dataset, classes, noise, hidden_layers, units, activation, learning_rate
    )
    steps_per_tick = validation.as_int(steps_per_tick, "steps_per_tick", minimum=1, maximum=200)
    resolution = validation.as_int(resolution, "resolution", minimum=20, maximum=200)
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    buttons = _playground_buttons(steps_per_tick)
    outputs = _playground_outputs()
    box = {"trainer": None, "config": None}
    render = _playground_renderer(controls, outputs, box, resolution, seed)
    layout = _playground_layout(controls, buttons, outputs)
    return Playground(
        controls,
        render,
        layout,
        trainer_box=box,
        play_button=buttons["play"],
        step_button=buttons["step"],
        reset_button=buttons["reset"],
        steps_per_tick=steps_per_tick,
        frame_seconds=0.03,
    )


def _playground_buttons(steps_per_tick: int) -> dict:
    """The playground's play toggle and its step and reset buttons."""
    import ipywidgets

    return {
        "play": ipywidgets.ToggleButton(False, description="play", icon="play"),
        "step": ipywidgets.Button(description=f"step ×{steps_per_tick}", icon="step-forward"),
        "reset": ipywidgets.Button(description="reset", icon="refresh"),
    }


def _playground_outputs() -> dict:
    """The playground's outputs: the boundary picture, the loss plot, the status line and the
    learning-rate readout."""
    import ipywidgets

    picture = kit_widgets.picture_widget("png")
    loss_plot, status = ipywidgets.HTML(), ipywidgets.HTML()
    rate_readout = ipywidgets.HTML(layout=ipywidgets.Layout(width="4em", margin="0 0 0 12px"))
    return {
        "picture": picture,
        "loss_plot": loss_plot,
        "status": status,
        "rate_readout": rate_readout,
    }


def _playground_trainer(values: dict, controls: dict, box: dict, seed: int) -> tuple:
    """The trainer for the chosen settings: ``box``'s one, or a new one (kept in ``box``) when
    the dataset or the network changed. Returns (config, trainer, rebuilt)."""
    multiclass = values["dataset"] in compute.MULTICLASS_DATASETS
    controls["classes"].disabled = not multiclass
    config = (
        values["dataset"],
        values["classes"] if multiclass else 2,
        values["noise"],
        values["hidden_layers"],
        values["units"],
        values["activation"],
    )
    rebuilt = config != box["config"]
    if rebuilt:
        points, labels = compute.make_dataset(
            config[0], PLAYGROUND_SAMPLES, classes=config[1], noise=config[2], seed=seed
        )
        box["trainer"] = training.PlaygroundTrainer(
            points,
            labels,
            hidden_layers=config[3],
            units=config[4],
            activation=config[5],
            learning_rate=values["learning_rate"],
            seed=seed,
        )
        box["config"] = config
    return config, box["trainer"], rebuilt


def _playground_renderer(
    controls: dict, outputs: dict, box: dict, resolution: int, seed: int
) -> Callable[[dict], dict]:
    """The playground's render callback: (re)builds the trainer, draws the boundary, the loss
    curve and the status line, and returns the state."""
    grid = training.grid_points(resolution)

    def render(values):
        config, trainer, rebuilt = _playground_trainer(values, controls, box, seed)
        trainer.set_learning_rate(values["learning_rate"])
        outputs["rate_readout"].value = f"<b>{values['learning_rate']:g}</b>"
        start = time.perf_counter()
        # One forward pass for the grid and the data points.
        probabilities = trainer.probabilities(np.concatenate([grid, trainer.points]))
        diverged = not np.all(np.isfinite(probabilities))
        if diverged:  # weights overflowed: grey background, the message below says why
            probabilities = np.full_like(probabilities, 1 / trainer.classes)
        image = training.boundary_image(
            probabilities[: len(grid)],
            resolution,
            trainer.points,
            trainer.labels,
            scale=max(1, 300 // resolution),
        )
        accuracy = float(np.mean(probabilities[len(grid) :].argmax(axis=1) == trainer.labels))
        kit_widgets.show(
            outputs["picture"],
            image,
            f"The {config[0]} data set ({trainer.classes} classes, one colour each, noise "
            f"{config[2]:g}) over the decision regions of a network with {config[3]} hidden "
            f"layer(s) of {config[4]} {config[5]} units after {trainer.steps} training "
            f"steps: accuracy {accuracy:.0%}.",
            max_width=300,
            max_height=300,
        )
        draw_ms = 1000 * (time.perf_counter() - start)
        loss = trainer.losses[-1] if trainer.losses else trainer.loss()
        outputs["loss_plot"].value = _loss_curve_svg(trainer, loss)
        outputs["status"].value = _playground_status(
            config, trainer, values["learning_rate"], loss, accuracy, draw_ms, diverged
        )
        return {
            "step": trainer.steps,
            "loss": loss,
            "accuracy": accuracy,
            "ms_per_step": trainer.ms_per_step,
            "draw_ms": draw_ms,
            "image": image,
            "classes": trainer.classes,
            "rebuilt": rebuilt,
            "diverged": diverged,
        }

    return render


def _playground_layout(controls: dict, buttons: dict, outputs: dict) -> object:
    """The controls, buttons and loss plot on the left; the picture and status on the right."""
    import ipywidgets

    return ipywidgets.HBox(
        [
            ipywidgets.VBox(
                [
                    controls["dataset"],
                    controls["classes"],
                    controls["noise"],
                    controls["hidden_layers"],
                    controls["units"],
                    controls["activation"],
                    ipywidgets.HBox([controls["learning_rate"], outputs["rate_readout"]]),
                    ipywidgets.HBox([buttons["play"], buttons["step"], buttons["reset"]]),
                    outputs["loss_plot"],
                ]
            ),
            ipywidgets.VBox(
                [outputs["picture"], outputs["status"]],
                layout=ipywidgets.Layout(width="340px"),
            ),
        ]
    )


def _playground_controls(
    dataset: str,
    classes: int,
    noise: float,
    hidden_layers: int,
    units: int,
    activation: str,
    learning_rate: float,
) -> dict:
    """The playground's controls, checked and set to the given values."""
    import ipywidgets

    validation.one_of(dataset, "dataset", compute.DATASETS)
    classes = validation.as_int(classes, "classes", minimum=2, maximum=len(training.CLASS_COLOURS))
    noise = validation.as_float(noise, "noise", minimum=0.0, maximum=0.5)
    hidden_layers = validation.as_int(hidden_layers, "hidden_layers", minimum=0, maximum=4)
    units = validation.as_int(units, "units", minimum=1, maximum=8)
    validation.one_of(activation, "activation", training.PLAYGROUND_ACTIVATIONS)
    validation.one_of(learning_rate, "learning_rate", training.LEARNING_RATES)
    # Every change redraws in a few ms (NumPy forward pass, shared Keras networks), so the
    # sliders update while they are dragged.
    controls = {
        "dataset": ipywidgets.Dropdown(
            options=list(compute.DATASETS), value=dataset, description="dataset"
        ),
        "classes": ipywidgets.IntSlider(
            classes, 2, len(training.CLASS_COLOURS), description="classes"
        ),
        "noise": ipywidgets.FloatSlider(noise, min=0.0, max=0.5, step=0.05, description="noise"),
        "hidden_layers": ipywidgets.IntSlider(hidden_layers, 0, 4, description="hidden layers"),
        "units": ipywidgets.IntSlider(units, 1, 8, description="units per layer"),
        "activation": ipywidgets.Dropdown(
            options=list(training.PLAYGROUND_ACTIVATIONS),
            value=activation,
            description="activation",
        ),
        # No editable readout: ipywidgets lets one type any text into a SelectionSlider's
        # readout and then ignores it, so the box could show a rate that is not in use.
        # The value in use is shown next to the slider instead.
        "learning_rate": ipywidgets.SelectionSlider(
            options=list(training.LEARNING_RATES),
            value=learning_rate,
            readout=False,
            description="learning rate",
        ),
    }
    for control in controls.values():
        control.style.description_width = "8em"
    return controls


def _loss_curve_svg(trainer: training.PlaygroundTrainer, loss: float) -> str:
    """The training loss per step so far (the current loss alone before any step)."""
    history = np.asarray(trainer.losses or [loss], dtype=np.float64)
    steps = np.arange(len(history) + 1)
    curve = np.r_[history[0], history]
    if len(curve) > 400:  # a long training: every n-th step keeps the plot light
        keep = np.unique(np.r_[np.linspace(0, len(curve) - 1, 400).astype(int)])
        steps, curve = steps[keep], curve[keep]
    finite = curve[np.isfinite(curve)]
    return svg_line_plot(
        steps,
        {"training loss": curve},
        ylim=(0, max(float(finite.max()) if finite.size else 1.0, 1e-3)),
        xlabel="step",
        ylabel="loss",
        width=300,
        height=150,
    )


def _playground_status(
    config: tuple,
    trainer: training.PlaygroundTrainer,
    learning_rate: float,
    loss: float,
    accuracy: float,
    draw_ms: float,
    diverged: bool,
) -> str:
    """The status line: network, learning rate, step, loss, accuracy and timings."""
    layers = " → ".join(["2"] + [str(config[4])] * config[3] + [str(trainer.classes)])
    speed = (
        f"<b>{trainer.ms_per_step:.1f} ms</b> per training step"
        if trainer.step_seconds
        else "press play or step to train"
    )
    warning = (
        "<br><b style='color:#d62728'>The training diverged (the weights are no "
        "longer finite numbers): choose a smaller learning rate and press reset."
        "</b>"
        if diverged or not np.isfinite(loss)
        else ""
    )
    return (
        f"network {layers} ({trainer.parameter_count} weights) · "
        f"learning rate {learning_rate:g} · "
        f"step <b>{trainer.steps}</b> · loss <b>{loss:.3f}</b> · accuracy "
        f"<b>{accuracy:.0%}</b> · {speed} · drawing {draw_ms:.0f} ms" + warning
    )


# --------------------------------------------------------------------------------------------
# Losses: how each one penalises an error
# --------------------------------------------------------------------------------------------


def loss_explorer(target: int = 1, prediction: float = 0.3) -> kit_widgets.Interactive:
    """Widget: move a prediction between 0 and 1 and compare how MSE, MAE and BCE punish it."""
    import ipywidgets

    target = validation.as_int(target, "target", minimum=0, maximum=1)
    prediction = validation.as_float(prediction, "prediction", minimum=0.001, maximum=0.999)
    controls = {
        "target": ipywidgets.Dropdown(options=[0, 1], value=target, description="target"),
        "prediction": ipywidgets.FloatSlider(
            prediction,
            min=0.001,
            max=0.999,
            step=0.001,
            readout_format=".3f",
            description="prediction",
        ),
    }
    # Every value the slider can take (its steps of 0.001): the curves are computed once per
    # target with keras.losses, and an update only looks its values up (no Keras call).
    xs = np.round(np.arange(1, 1000) / 1000, 3)
    cache = {}
    plot, readout = ipywidgets.HTML(), ipywidgets.HTML()

    def render(values):
        if values["target"] not in cache:
            cache[values["target"]] = compute.loss_curves(values["target"], xs)
        curves = cache[values["target"]]
        prediction = values["prediction"]
        index = int(np.argmin(np.abs(xs - prediction)))
        if abs(xs[index] - prediction) > 1e-9:  # typed between two steps: compute it
            at = compute.loss_curves(values["target"], np.array([prediction]))
            at = {name: float(value[0]) for name, value in at.items()}
        else:
            at = {name: float(value[index]) for name, value in curves.items()}
        drawn = slice(None, None, 3)  # a third of the points draw the same curves
        plot.value = svg_line_plot(
            xs[drawn],
            {name: curve[drawn] for name, curve in curves.items()},
            ylim=(0, 4),
            marker_x=values["prediction"],
            xlabel=f"prediction (target {values['target']})",
            ylabel="loss",
            width=420,
            height=220,
        )
        readout.value = " · ".join(f"{name} <b>{value:.3f}</b>" for name, value in at.items())
        return {"losses": at}

    layout = ipywidgets.VBox([controls["target"], controls["prediction"], readout, plot])
    return kit_widgets.Interactive(controls, render, layout)
