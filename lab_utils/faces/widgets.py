"""Lesson 06's widgets: the verification threshold explorer and the Haar cascade explorer.

Thin builders: what they show is computed by ``verification.threshold_view`` and
``haar.haar_view`` (pure, tested); the builders make the controls and the pictures.

Both pictures fit a 1280 x 720 projector (``widgets.show`` sizes them in CSS pixels), carry a
text description for screen readers that follows them, and change with every slider step: the
threshold explorer draws the distances of all pairs with the threshold as a line (one step
moves it), the Haar explorer writes its settings under the photo.
"""

from __future__ import annotations

import numpy as np

from lab_utils import plots, validation
from lab_utils import widgets as kit_widgets
from lab_utils.faces import compute, haar, verification


def _pair_tile(first, second, accepted: bool, same: bool, scale: int = 2) -> np.ndarray:
    """Two faces side by side, framed blue when the decision is right, vermillion when wrong
    (``plots.RIGHT`` / ``plots.WRONG``: the green/red pair merges for deuteranopia)."""
    faces_row = np.concatenate([first, np.ones((first.shape[0], 2)), second], axis=1)
    tile = np.repeat(kit_widgets.upscale(faces_row, scale)[..., None], 3, axis=2)
    colour = np.array(plots.RIGHT if accepted == same else plots.WRONG) / 255
    framed = np.ones((tile.shape[0] + 8, tile.shape[1] + 8, 3)) * np.array(colour)
    framed[4:-4, 4:-4] = tile
    return framed


#: Colours of the distance strip: same-person pairs, different-person pairs (Okabe-Ito blue
#: and orange, told apart with every colour vision) and the threshold line.
_SAME_COLOUR, _DIFFERENT_COLOUR = plots.OKABE_ITO["blue"], plots.OKABE_ITO["orange"]
_LINE_COLOUR = plots.OKABE_ITO["black"]


def _distance_strip(
    distances: np.ndarray, same: np.ndarray, threshold: float, high: float, width: int
) -> np.ndarray:
    """Histograms of the pair distances on [0, high], one pixel column per bin (same-person
    pairs upwards from the middle, different-person pairs downwards), with the threshold as a
    vertical line: moving the threshold by one slider step moves the line (RGB uint8)."""
    half = 40
    strip = np.full((2 * half + 1, width, 3), 255, np.uint8)
    columns = np.clip((distances / high * (width - 1)).astype(int), 0, width - 1)
    for group, colour, sign in ((same, _SAME_COLOUR, -1), (~same, _DIFFERENT_COLOUR, 1)):
        counts = np.bincount(columns[group], minlength=width).astype(float)
        # Smoothed over 9 columns so sparse pairs still draw a visible shape.
        counts = np.convolve(counts, np.ones(9) / 9, mode="same")
        heights = np.round(counts / max(counts.max(), 1e-9) * (half - 2)).astype(int)
        for column in np.flatnonzero(heights):
            rows = (
                slice(half - heights[column], half)
                if sign < 0
                else slice(half + 1, half + 1 + heights[column])
            )
            strip[rows, column] = colour
    strip[half] = (160, 160, 160)
    line = int(round(np.clip(threshold / high, 0, 1) * (width - 1)))
    strip[:, max(line - 1, 0) : line + 2] = _LINE_COLOUR
    return strip


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
    picture = kit_widgets.picture_widget("png")
    text = ipywidgets.HTML()

    def render(values):
        view = verification.threshold_view(distances, same, values["threshold"], shown)
        tiles = [
            _pair_tile(a, b, accepted, bool(same[index]))
            for (index, a, b), accepted in zip(shown, view["accepted"])
        ]
        top, bottom = np.concatenate(tiles[:examples], 1), np.concatenate(tiles[examples:], 1)
        faces_rows = kit_widgets.to_uint8(np.concatenate([top, bottom], 0).clip(0, 1))
        strip = _distance_strip(distances, same, view["threshold"], high, faces_rows.shape[1])
        kit_widgets.show(
            picture,
            kit_widgets.caption_strip(
                np.concatenate([faces_rows, strip], 0),
                [
                    f"threshold {view['threshold']:.3f} (black line); distances of all "
                    f"pairs: same person above, different people below"
                ],
                font_size=20,  # the picture is shown about 0.7 times its size
            ),
            _threshold_description(view, examples, len(distances)),
        )
        text.value = (
            f"τ = {view['threshold']:.3f}: <b>false accepts</b> "
            f"{view['false_accept']:.1%} of different-person pairs, <b>false "
            f"rejects</b> {view['false_reject']:.1%} of same-person pairs, accuracy "
            f"{view['accuracy']:.1%} ({len(distances)} pairs).<br>Top row: the "
            f"{examples} same-person pairs farthest apart; bottom row: the "
            f"{examples} different-person pairs closest together. Blue frame = "
            f"right decision, red = wrong."
        )
        return view

    layout = ipywidgets.VBox([slider, text, picture])
    return kit_widgets.Interactive({"threshold": slider}, render, layout)


def _threshold_description(view: dict, examples: int, pairs: int) -> str:
    """The threshold explorer's picture in words (for screen readers)."""
    accepted = view["accepted"]
    right_same = sum(accepted[:examples])
    right_different = sum(not value for value in accepted[examples:])
    return (
        f"Threshold {view['threshold']:.3f}. Top row: the {examples} same-person pairs "
        f"farthest apart, {right_same} of them accepted (right). Bottom row: the {examples} "
        f"different-person pairs closest together, {right_different} of them rejected "
        f"(right). Below: the distances of all {pairs} pairs with the threshold as a line; "
        f"false accepts {view['false_accept']:.1%}, false rejects {view['false_reject']:.1%}."
    )


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
    picture = kit_widgets.picture_widget("jpeg")
    text = ipywidgets.HTML()

    def render(values):
        view = haar.haar_view(
            photos[values["photo"]],
            values["scale_factor"],
            values["min_neighbors"],
            values["min_size"],
        )
        settings = (
            f"scaleFactor {values['scale_factor']:.2f}, minNeighbors "
            f"{values['min_neighbors']}, minSize {values['min_size']} px"
        )
        kit_widgets.show(
            picture,
            kit_widgets.caption_strip(view["picture"], [settings, f"{len(view['boxes'])} face(s)"]),
            f"The photo {values['photo']} with a box around each of the "
            f"{len(view['boxes'])} face(s) OpenCV's Haar cascade found with {settings}.",
            max_width=560,
            max_height=380,
        )
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
