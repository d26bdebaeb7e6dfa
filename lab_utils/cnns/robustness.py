"""Lesson 04, robustness: accuracy as the test digits are perturbed more and more (lesson 01's
perturbations), and one perturbed digit classified (what the live demo shows).
"""

from __future__ import annotations

import numpy as np

from lab_utils import lesson, models, pixels, validation
from lab_utils.cnns.compute import batched_accuracy

# --------------------------------------------------------------------------------------------
# Robustness: accuracy as the test digits are perturbed (lesson 01's perturbations)
# --------------------------------------------------------------------------------------------

#: Strengths for each perturbation of ``pixels.perturb``: pixels, zoom factor, degrees,
#: fraction of the side, noise standard deviation. The first value leaves images unchanged.
SWEEP_STRENGTHS = {
    "shift": [0, 2, 4, 6, 8],
    "scale": [1.0, 0.85, 0.7, 0.55],
    "rotation": [0, 15, 30, 45],
    "occlusion": [0, 0.2, 0.35, 0.5],
    "noise": [0, 0.1, 0.2, 0.3],
}


def robustness_sweep(
    networks: dict,
    images: np.ndarray,
    labels: np.ndarray,
    strengths: dict | None = None,
    *,
    seed: int = 0,
) -> dict:
    """Test accuracy of each network as ``images`` are perturbed more and more.

    Every network sees the same perturbed images (``pixels.perturb`` with ``seed``).

    Parameters
    ----------
    networks : dict of str -> keras.Model
    images : ndarray (N, H, W), float in [0, 1]
    labels : ndarray (N,)
    strengths : dict of perturbation -> list of strengths (default ``SWEEP_STRENGTHS``)

    Returns
    -------
    dict of perturbation -> dict of network name -> list of accuracies (0-1)
    """
    keras = lesson.import_keras()
    if (
        not isinstance(networks, dict)
        or not networks
        or not all(isinstance(m, keras.Model) for m in networks.values())
    ):
        raise TypeError("networks must be a non-empty dict of name -> Keras model.")
    strengths = SWEEP_STRENGTHS if strengths is None else strengths
    if not isinstance(strengths, dict) or not strengths:
        raise TypeError(
            "strengths must be a dict of perturbation -> list of strengths, e.g. "
            "{'shift': [0, 2, 4]}."
        )
    for perturbation, values in strengths.items():
        validation.one_of(perturbation, "perturbation", pixels.PERTURBATIONS)
        if not isinstance(values, (list, tuple)) or not values:
            raise TypeError(
                f"strengths[{perturbation!r}] must be a non-empty list of "
                f"strengths, e.g. {{{perturbation!r}: "
                f"{SWEEP_STRENGTHS[perturbation][:3]}}}, but got "
                f"{validation.describe(values)}."
            )
        for value in values:
            value = validation.as_float(value, f"a strength of {perturbation!r}", minimum=0.0)
            if perturbation == "occlusion" and value > 1:
                raise ValueError(
                    f"occlusion strengths are the side of the black square as a "
                    f"fraction of the image side, in [0, 1], but got {value:g}; "
                    f"for {value:g} pixels of a 32-pixel image write "
                    f"{value / 32:.2f}."
                )
            if perturbation == "scale" and value == 0:
                raise ValueError(
                    "a scale factor of 0 would shrink the digits to nothing; "
                    "1 leaves them unchanged, 0.5 halves them."
                )
    images = validation.as_array(images, "images")
    if images.ndim != 3:
        raise ValueError(
            f"images must have shape (N, height, width), but it has shape {images.shape}."
        )
    for name, network in networks.items():
        models.check_input_shape(network, images.shape[1:] + (1,), name=f"networks[{name!r}]")
    labels = models.as_labels(labels, len(images))
    seed = validation.as_seed(seed)
    results = {}
    for perturbation, values in strengths.items():
        results[perturbation] = {name: [] for name in networks}
        for value in values:
            varied = pixels.perturb(images, perturbation, value, seed=seed)
            for name, network in networks.items():
                results[perturbation][name].append(batched_accuracy(network, varied, labels))
    return results


# --------------------------------------------------------------------------------------------
# One perturbed digit, classified (the live demo's computation)
# --------------------------------------------------------------------------------------------

#: Slider position 1.0 means this much of each perturbation (0 leaves the digit unchanged).
DEMO_RANGES = {
    "shift": (0.0, 10.0),
    "scale": (1.0, 0.4),
    "rotation": (0.0, 90.0),
    "occlusion": (0.0, 0.6),
    "noise": (0.0, 0.5),
}


def perturbed_prediction(
    model: object, image: np.ndarray, perturbation: str = "none", amount: float = 0.0, seed: int = 0
) -> dict:
    """Perturb one image and classify it.

    Parameters
    ----------
    model : keras.Model with softmax outputs
    image : ndarray (H, W), float in [0, 1]
    perturbation : "none" or one of ``pixels.PERTURBATIONS``
    amount : float in [0, 1]
        0 = unchanged, 1 = the strongest setting of ``DEMO_RANGES``.
    seed : int
        Fixes the direction of the shift, the position of the occluder, the noise.

    Returns
    -------
    dict with "image" (H, W) float32, "strength" (in the perturbation's own unit),
    "probabilities" (classes,) float32 and "predicted" (int).
    """
    picture, strength = perturbed_image(image, perturbation, amount, seed)
    probabilities = models.predict_probabilities(model, picture[None])[0]
    return {
        "image": picture,
        "strength": strength,
        "probabilities": probabilities,
        "predicted": int(probabilities.argmax()),
    }


def perturbed_image(
    image: np.ndarray, perturbation: str, amount: float, seed: int
) -> tuple[np.ndarray, float]:
    """``perturbed_prediction``'s image half: (picture float32 in [0, 1], strength)."""
    image = validation.as_image(image, "image", channels=(None,))
    validation.one_of(perturbation, "perturbation", ("none",) + tuple(pixels.PERTURBATIONS))
    amount = validation.as_float(amount, "amount", minimum=0.0, maximum=1.0)
    picture = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
    strength = 0.0
    if perturbation != "none":
        low, high = DEMO_RANGES[perturbation]
        strength = low + amount * (high - low)
        picture = pixels.perturb(picture[None], perturbation, strength, seed=seed)[0]
    return picture, float(strength)


def describe_perturbation(perturbation: str, strength: float) -> str:
    """The perturbation in words, with its unit (for captions): 'shifted by 3.0 pixels'."""
    validation.one_of(perturbation, "perturbation", ("none",) + tuple(pixels.PERTURBATIONS))
    strength = validation.as_float(strength, "strength", minimum=0.0)
    if perturbation == "shift":
        return f"shifted by {strength:.1f} pixels"
    if perturbation == "scale":
        return f"scaled to {strength:.2f}× its size"
    if perturbation == "rotation":
        return f"rotated by {strength:.0f}°"
    if perturbation == "occlusion":
        return f"partly hidden by a black square {strength:.0%} of the image's side"
    if perturbation == "noise":
        return f"with Gaussian noise of standard deviation {strength:.2f} (pixel values 0-1)"
    return "unchanged (no perturbation)"
