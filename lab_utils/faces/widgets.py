"""Lesson 06's widgets: the verification threshold explorer and the Haar cascade explorer.

Thin builders: what they show is computed by ``verification.threshold_view`` and
``haar.haar_view`` (pure, tested); the builders make the controls and the pictures.
"""

from __future__ import annotations

import numpy as np

from lab_utils import validation
from lab_utils import widgets as kit_widgets
from lab_utils.faces import compute, haar, verification


def _pair_tile(first, second, accepted: bool, same: bool, scale: int = 2) -> np.ndarray:
    """Two faces side by side, framed green when the decision is right, red when wrong."""
    faces_row = np.concatenate([first, np.ones((first.shape[0], 2)), second], axis=1)
    tile = np.repeat(kit_widgets.upscale(faces_row, scale)[..., None], 3, axis=2)
    colour = (0.1, 0.75, 0.2) if accepted == same else (0.9, 0.1, 0.1)
    framed = np.ones((tile.shape[0] + 8, tile.shape[1] + 8, 3)) * np.array(colour)
    framed[4:-4, 4:-4] = tile
    return framed


def threshold_explorer(
    embeddings: np.ndarray,
    labels: np.ndarray,
    images: np.ndarray,
    *,
    threshold: float | None = None,
    examples: int = 4,
) -> kit_widgets.Interactive:
    """Verification with a threshold slider: error rates and the hardest pairs' verdicts.

    Parameters
    ----------
    embeddings : (N, D), labels : (N,), images : (N, H, W) the faces they come from
    threshold : float, the slider's start (default: the best on these pairs)
    examples : int, how many same-person and how many different-person pairs to show
    """
    import ipywidgets

    embeddings = verification.as_embeddings(embeddings)
    labels = validation.as_labels(labels, len(embeddings))
    images = compute.as_faces(images)
    if len(images) != len(embeddings):
        raise ValueError(
            f"images ({len(images)}) and embeddings ({len(embeddings)}) must have one row per face."
        )
    examples = validation.as_int(examples, "examples", minimum=1, maximum=10)
    distances, same = verification.pair_distances(embeddings, labels)
    first, second = np.triu_indices(len(embeddings), 1)
    start = (
        verification.best_threshold(distances, same)
        if threshold is None
        else verification.as_threshold(threshold, distances)
    )
    shown = verification.hardest_examples(distances, same, images, first, second, examples)
    high = float(np.max(distances))
    slider = ipywidgets.FloatSlider(
        value=min(start, high),
        min=0.0,
        max=high,
        step=high / 200,
        description="threshold τ",
        readout_format=".3f",
        continuous_update=True,
        layout=ipywidgets.Layout(width="420px"),
    )
    picture = ipywidgets.Image(format="jpeg")
    text = ipywidgets.HTML()

    def render(values):
        view = verification.threshold_view(distances, same, values["threshold"], shown)
        tiles = [
            _pair_tile(a, b, accepted, bool(same[index]))
            for (index, a, b), accepted in zip(shown, view["accepted"])
        ]
        top, bottom = np.concatenate(tiles[:examples], 1), np.concatenate(tiles[examples:], 1)
        picture.value = kit_widgets.encode(
            np.concatenate([top, bottom], 0).clip(0, 1), "jpeg", quality=90
        )
        text.value = (
            f"τ = {view['threshold']:.3f}: <b>false accepts</b> "
            f"{view['false_accept']:.1%} of different-person pairs, <b>false "
            f"rejects</b> {view['false_reject']:.1%} of same-person pairs, accuracy "
            f"{view['accuracy']:.1%} ({len(distances)} pairs).<br>Top row: the "
            f"{examples} same-person pairs farthest apart; bottom row: the "
            f"{examples} different-person pairs closest together. Green frame = "
            f"right decision, red = wrong."
        )
        return view

    layout = ipywidgets.VBox([slider, text, picture])
    return kit_widgets.Interactive({"threshold": slider}, render, layout)


def haar_explorer(photos: dict) -> kit_widgets.Interactive:
    """OpenCV's Haar cascade on a choice of photos, with its three main settings as sliders.

    Parameters
    ----------
    photos : dict of name -> image (H, W) or (H, W, 3), uint8 or float in [0, 1]
        Keep them small (about 300 pixels across) so every update stays fast.
    """
    import ipywidgets

    if not isinstance(photos, dict) or not photos:
        raise TypeError("photos must be a non-empty dict of name -> image.")
    photos = {
        str(name): validation.as_image(image, f"photos[{name!r}]") for name, image in photos.items()
    }
    controls = {
        "photo": ipywidgets.Dropdown(options=list(photos), description="photo"),
        "scale_factor": ipywidgets.FloatSlider(
            value=1.1,
            min=1.02,
            max=1.5,
            step=0.02,
            description="scaleFactor",
            continuous_update=False,
        ),
        "min_neighbors": ipywidgets.IntSlider(
            value=5, min=0, max=15, description="minNeighbors", continuous_update=False
        ),
        "min_size": ipywidgets.IntSlider(
            value=30, min=10, max=150, step=5, description="minSize", continuous_update=False
        ),
    }
    picture = ipywidgets.Image(format="jpeg")
    text = ipywidgets.HTML()

    def render(values):
        view = haar.haar_view(
            photos[values["photo"]],
            values["scale_factor"],
            values["min_neighbors"],
            values["min_size"],
        )
        picture.value = kit_widgets.encode(view["picture"], "jpeg")
        text.value = (
            f"{len(view['boxes'])} face(s) found in {view['seconds'] * 1000:.0f} ms "
            f"(scaleFactor {values['scale_factor']:.2f}, minNeighbors "
            f"{values['min_neighbors']}, minSize {values['min_size']} px)"
        )
        return {"faces": len(view["boxes"]), "boxes": view["boxes"], "seconds": view["seconds"]}

    layout = ipywidgets.VBox(
        [
            ipywidgets.HBox([controls["photo"], controls["scale_factor"]]),
            ipywidgets.HBox([controls["min_neighbors"], controls["min_size"]]),
            text,
            picture,
        ]
    )
    return kit_widgets.Interactive(controls, render, layout)
