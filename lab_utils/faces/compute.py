"""Lesson 06's face data: batches of grayscale faces checked and resized, and splits by
identity (the people of the test set are never seen in training).

Images are (N, H, W) float32 in [0, 1] (grayscale faces); labels are (N,) person numbers.
"""

from __future__ import annotations

import dataclasses
import textwrap
from typing import TYPE_CHECKING

import numpy as np

from lab_utils import models, validation

if TYPE_CHECKING:
    from lab_utils.data import Dataset


@dataclasses.dataclass
class FaceSplit:
    """Face images split by *person*: no identity appears in two parts.

    Images (N, H, W) float32 in [0, 1]; labels (N,) int64 person numbers (the dataset's own).
    ``validation_*`` may be empty (shape (0, H, W)) when no validation identities are asked for.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    validation_images: np.ndarray
    validation_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def identities(self) -> dict:
        """The person numbers of each part."""
        return {
            part: sorted(int(k) for k in np.unique(getattr(self, f"{part}_labels")))
            for part in ("train", "validation", "test")
        }


def _as_identity_list(values, name: str, known) -> list:
    if isinstance(values, range):
        values = list(values)
    if not isinstance(values, (list, tuple, np.ndarray)):
        raise TypeError(
            f"{name} must be a list of person numbers such as range(30, 40), but "
            f"got {validation.describe(values)}."
        )
    people = [validation.as_int(v, f"{name}[{i}]", minimum=0) for i, v in enumerate(values)]
    unknown = sorted(set(people) - set(known))
    if unknown:
        raise ValueError(
            f"{name} names people that are not in the dataset: {unknown} "
            f"(it has people {min(known)} to {max(known)})."
        )
    return people


def identity_split(
    dataset: Dataset,
    test_identities: range | list | tuple = range(30, 40),
    validation_identities: range | list | tuple = (),
    *,
    size: int | None = None,
) -> FaceSplit:
    """Split a face ``data.Dataset`` by person.

    Parameters
    ----------
    dataset : data.Dataset
        Images (N, H, W) in [0, 1] and person labels (N,), e.g. ``olivetti_faces``.
    test_identities, validation_identities : sequences of int
        The people of the test and validation parts; everyone else is for training.
    size : int, optional
        Resize every image to ``size`` x ``size`` (anti-aliased), e.g. 32 for a fast network.

    Returns
    -------
    FaceSplit
    """
    images = getattr(dataset, "images", None)
    labels = getattr(dataset, "labels", None)
    if not isinstance(images, np.ndarray) or not isinstance(labels, np.ndarray):
        raise TypeError(
            f"dataset must be a data.Dataset (with .images and .labels), such as "
            f"data.load_dataset('olivetti_faces'), but got "
            f"{validation.describe(dataset)}."
        )
    images = as_faces(images, "dataset.images")
    labels = validation.as_labels(labels, len(images), name="dataset.labels")
    known = np.unique(labels).tolist()
    test = _as_identity_list(test_identities, "test_identities", known)
    held = _as_identity_list(validation_identities, "validation_identities", known)
    if not test:
        raise ValueError("test_identities is empty: name at least two people to test on.")
    if set(test) & set(held):
        raise ValueError(
            f"people {sorted(set(test) & set(held))} are in both the test and "
            f"the validation identities; each person belongs to one part."
        )
    if size is not None:
        size = validation.as_int(size, "size", minimum=8, maximum=512)
        images = resize_faces(images, size)
    in_test, in_held = np.isin(labels, test), np.isin(labels, held)
    train = ~(in_test | in_held)
    if len(np.unique(labels[train])) < 2:
        raise ValueError("fewer than two people are left for training; hold out fewer.")
    return FaceSplit(
        images[train],
        labels[train],
        images[in_held],
        labels[in_held],
        images[in_test],
        labels[in_test],
    )


def as_faces(images: np.ndarray, name: str = "images") -> np.ndarray:
    """Check a batch of grayscale faces and return it as float32 (N, H, W) in [0, 1].

    RGB batches (N, H, W, 3) are refused with a message (the lesson's faces are grayscale:
    convert with skimage.color.rgb2gray); uint8 batches are divided by 255.
    """
    batch = validation.as_array(images, name)
    if batch.ndim == 4 and batch.shape[-1] == 3:
        raise ValueError(
            f"{name} are colour images (shape {batch.shape}); these functions "
            f"take grayscale faces of shape (N, height, width): convert them "
            f"with skimage.color.rgb2gray first."
        )
    if batch.ndim == 4 and batch.shape[-1] == 1:
        batch = batch[..., 0]
    if batch.ndim != 3:
        raise ValueError(
            f"{name} must be a batch of grayscale images, shape (N, height, "
            f"width), but it has shape {batch.shape}. For one image use "
            f"image[None]."
        )
    if len(batch) == 0:
        raise ValueError(f"{name} is empty: its shape is {batch.shape}.")
    return models.as_batch(batch, name)[..., 0]


def resize_faces(images: np.ndarray, size: int) -> np.ndarray:
    """Anti-aliased resize of (N, H, W) faces to (N, size, size) float32 in [0, 1]."""
    from skimage import transform

    images = as_faces(images)
    size = validation.as_int(size, "size", minimum=2, maximum=1024)
    if images.shape[1:] == (size, size):
        return images
    return (
        np.stack([transform.resize(face, (size, size), anti_aliasing=True) for face in images])
        .astype(np.float32)
        .clip(0, 1)
    )


def data_banner(dataset: Dataset) -> str:
    """What lesson 06 prints first: which faces are in use, framed so nobody misses a
    substitute (the numbers and the sentences below then describe the substitute)."""
    note = getattr(dataset, "note", "")
    if not getattr(dataset, "substitute", False):
        return f"Data: {note}. 400 photos of 40 people, 10 each, 64 x 64."
    command = "python -m lab_utils.prepare --add-data olivetti_faces olivetti_py3.pkz"
    note = note.split(" To use the real faces:")[0]  # the command gets a line of its own
    lines = [
        "THIS RUN USES A SUBSTITUTE, NOT THE OLIVETTI FACES.",
        *textwrap.wrap(note, 76),
        "Every 'person' below is ONE photo copied ten times with small changes: the",
        "networks learn to ignore those changes, not how real photos of one person",
        "differ. Every number and every sentence of this lesson describes the",
        "substitute. To use the real faces:",
        command,
    ]
    width = max(len(line) for line in lines)
    frame = "!" * (width + 4)
    return "\n".join([frame, *(f"! {line.ljust(width)} !" for line in lines), frame])


def dlib_resnet_conv_layers() -> int:
    """How many convolution layers dlib's face ResNet has, read from its model file.

    dlib stores each layer of the network with its type's name; its convolutions are "con_"
    layers, so the count of that tag in ``dlib_face_recognition_resnet_model_v1.dat`` (from
    the face_recognition_models package) is the number of convolution layers.
    """
    import warnings
    from pathlib import Path

    with warnings.catch_warnings():  # the package imports the deprecated pkg_resources
        warnings.simplefilter("ignore", DeprecationWarning)
        import face_recognition_models

    model = Path(face_recognition_models.face_recognition_model_location())
    return model.read_bytes().count(b"con_")
