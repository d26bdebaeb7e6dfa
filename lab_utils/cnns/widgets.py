"""Lesson 04's widget: the live demo (perturb a test digit, watch the softmax probabilities),
with the HTML bar chart it shows.

Thin builder: the perturbed digit comes from ``lab_utils.cnns.robustness``.
"""

from __future__ import annotations

import html

import numpy as np

from lab_utils import lesson, models, pixels, plots, validation
from lab_utils import widgets as kit_widgets
from lab_utils.cnns import robustness


def probability_bars_html(
    probabilities: np.ndarray, class_names: list, *, true_label: int | None = None
) -> str:
    """An HTML bar chart of class probabilities (fast to update in a widget)."""
    probabilities = validation.as_array(probabilities, "probabilities")
    if probabilities.ndim != 1 or len(probabilities) != len(class_names):
        raise ValueError(
            f"probabilities must have one value per class "
            f"({len(class_names)}), but it has shape {probabilities.shape}."
        )
    best = int(probabilities.argmax())
    rows = []
    for index, (name, value) in enumerate(zip(class_names, probabilities)):
        # blue right, vermillion wrong (colour-blind safe; the ✔ marks the true class too)
        colour = (
            plots.hex_colour(plots.RIGHT)
            if index == best and (true_label in (None, best))
            else plots.hex_colour(plots.WRONG if index == best else "grey")
        )
        marker = " ✔" if index == true_label else ""
        rows.append(
            f'<div style="display:flex;align-items:center;font:12px monospace">'
            f'<span style="width:2.5em">{html.escape(str(name))}{marker}</span>'
            f'<span style="display:inline-block;height:12px;width:{value * 220:.0f}px;'
            f'background:{colour}"></span><span>&nbsp;{value:.0%}</span></div>'
        )
    return "".join(rows)


def prediction_demo(
    model: object, images: np.ndarray, labels: np.ndarray, class_names: list, *, seed: int = 0
) -> kit_widgets.Interactive:
    """Widget: choose a test digit and a perturbation; the softmax probabilities update.

    Parameters
    ----------
    model : keras.Model with softmax outputs
    images : ndarray (N, H, W), float in [0, 1]
    labels : ndarray (N,)
    class_names : list of str
    """
    import ipywidgets

    images, labels, seed = _check_demo_arguments(model, images, labels, class_names, seed)
    wide = {"style": {"description_width": "initial"}}
    controls = {
        "index": ipywidgets.IntSlider(0, 0, len(images) - 1, description="test image no.", **wide),
        "perturbation": ipywidgets.Dropdown(
            options=["none"] + list(pixels.PERTURBATIONS),
            value="shift",
            description="perturbation",
            layout=ipywidgets.Layout(width="14em"),
            **wide,
        ),
        # A fraction of the strongest setting (DEMO_RANGES); the caption gives it in the
        # perturbation's own unit. Greyed out while the perturbation is "none".
        "amount": ipywidgets.FloatSlider(
            0.0, min=0.0, max=1.0, step=0.05, readout_format=".0%", description="amount", **wide
        ),
    }
    picture = kit_widgets.picture_widget("png")
    bars = ipywidgets.HTML()
    caption = ipywidgets.HTML()
    shape = (1,) + images.shape[1:] + (1,)

    def probabilities_of(picture_array):
        # The model's compiled predict function: ~1 ms per call against ~5 ms (more under
        # load) for an eager model(x) call. Traced once, by the first render.
        with lesson.native_stderr_silenced():
            output = model.predict_on_batch(picture_array.reshape(shape))
        return np.asarray(output, dtype=np.float32)[0]

    def render(values):
        controls["amount"].disabled = values["perturbation"] == "none"
        picture_array, strength = robustness.perturbed_image(
            images[values["index"]], values["perturbation"], values["amount"], seed
        )
        probabilities = probabilities_of(picture_array)
        predicted = int(probabilities.argmax())
        label = int(labels[values["index"]])
        kit_widgets.show(
            picture,
            kit_widgets.upscale(picture_array, 5),
            f"Test image no. {values['index']}, a {class_names[label]}, with perturbation "
            f"{values['perturbation']} at amount {values['amount']:.0%}: the model predicts "
            f"{class_names[predicted]} with probability {probabilities[predicted]:.0%}.",
        )
        bars.value = probability_bars_html(probabilities, class_names, true_label=label)
        caption.value = _demo_caption(values, strength, predicted, label, class_names)
        return {
            "image": picture_array,
            "strength": strength,
            "probabilities": probabilities,
            "predicted": predicted,
            "label": label,
        }

    layout = ipywidgets.VBox(
        [
            controls["index"],
            ipywidgets.HBox([controls["perturbation"], controls["amount"]]),
            caption,
            ipywidgets.HBox([picture, bars]),
        ]
    )
    return kit_widgets.Interactive(controls, render, layout)


def _check_demo_arguments(
    model: object, images: np.ndarray, labels: np.ndarray, class_names: list, seed: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Check ``prediction_demo``'s arguments up front: (images, labels, seed) as used."""
    keras = lesson.import_keras()
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"model must be a trained Keras model, but got {validation.describe(model)}."
        )
    images = validation.as_array(images, "images")
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(
            f"images must have shape (N, height, width) with N >= 1, but it has "
            f"shape {images.shape}."
        )
    models.check_input_shape(model, images.shape[1:] + (1,))
    models.as_batch(images)  # floats in [0, 1] or uint8, finite: refused up front
    labels = models.as_labels(labels, len(images))
    seed = validation.as_seed(seed)
    classes = int(model.output_shape[-1])
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, (list, tuple)):
        raise TypeError(
            f"class_names must be a list of the {classes} class names, e.g. "
            f"split.class_names, but got {validation.describe(class_names)}."
        )
    if len(class_names) != classes:
        raise ValueError(
            f"class_names has {len(class_names)} names, but the model has "
            f"{classes} outputs (one per class): pass split.class_names."
        )
    return images, labels, seed


def _demo_caption(
    values: dict, strength: float, predicted: int, label: int, class_names: list
) -> str:
    """The demo's caption: the digit, the perturbation in its own unit, the verdict."""
    verdict = (
        f"<b style='color:{plots.hex_colour(plots.RIGHT)}'>right</b>"
        if predicted == label
        else f"<b style='color:{plots.hex_colour(plots.WRONG)}'>wrong</b>"
    )
    change = robustness.describe_perturbation(values["perturbation"], strength)
    if values["perturbation"] == "none":
        change += ": choose a perturbation to use the amount slider"
    else:
        strongest = robustness.describe_perturbation(
            values["perturbation"], robustness.DEMO_RANGES[values["perturbation"]][1]
        )
        change += f" (amount {values['amount']:.0%}; at 100%: {strongest})"
    return (
        f"Test image no. {values['index']}, a <b>"
        f"{html.escape(str(class_names[label]))}</b>, {html.escape(change)}."
        f"<br>Predicted <b>{html.escape(str(class_names[predicted]))}</b> "
        f"({verdict})."
    )
