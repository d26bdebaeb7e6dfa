"""Lesson 06's Siamese embedding network and its triplet training: the CNN f(x), the
two-input Siamese model, the slide's triplet loss with the triplets mined in the batch, PK
batches, and ``train_embedding`` (a thin wrapper over ``models.fit``, so its trainings are
cached like every other lesson's).

Models are built with ``keras.layers`` / ``keras.ops`` only (any Keras 3 backend); Keras is
imported when a model is first built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from lab_utils import lesson, models, validation
from lab_utils.faces import compute, verification

if TYPE_CHECKING:  # Keras is imported when a model is first needed, not at import time
    import keras

MINING = ("batch_all", "batch_hard", "semi_hard", "random", "positives_only")
INPUT_SIZE = 32  # faces are resized to 32x32 for the network (4x fewer pixels than 64x64)
# The lesson's Siamese training, also run by benchmarks/faces.py on four splits: 420 steps of
# 10 people x 5 photos with the default network (24-48-96 filters). Measured on 2026-12-02
# (one seed each; mean AUC over the benchmark's four splits, and on the lesson's own split):
# 24-48-96 filters, 420 steps: 0.967 and 0.962, about 60 CPU s per split; 32-64-128, 600
# steps: 0.967, 123-131 CPU s; 32-64-128, 300 steps: 0.959; the same without random shifts:
# 0.971, but 0.909 on the lesson's split, below raw pixels (0.920).
SIAMESE_SETTINGS = {
    "mining": "batch_all",
    "margin": 0.5,
    "epochs": 7,
    "batches_per_epoch": 60,
    "people": 10,
    "per_person": 5,
    "learning_rate": 3e-3,
}
# Training-only augmentation of the embedding network: random shifts of up to this fraction
# of the side, and horizontal flips.
SHIFT = 0.05
EMBED_BATCH_SIZE = 256  # faces per forward pass in ``embed``


def embedding_network(
    input_size: int = INPUT_SIZE, dimensions: int = 64, *, filters: list | tuple = (24, 48, 96)
) -> keras.Model:
    """The CNN f(x) of the slide: a face in, a point on the unit sphere out.

    Conv2D (no bias) -> BatchNormalization -> ReLU -> 2x2 max pooling per block, global
    average pooling, Dense(dimensions), then every embedding is scaled to length 1
    (``UnitNormalization``), so squared distances lie in [0, 4] and the margin has a fixed
    scale. Training-only augmentation: random shifts of up to ``SHIFT`` (5 %) of the side and
    horizontal flips (a mirrored face is the same person).

    Returns
    -------
    keras.Model named "embedding", mapping (N, input_size, input_size, 1) float32 to
    (N, dimensions).
    """
    keras = lesson.import_keras()
    input_size = validation.as_int(input_size, "input_size", minimum=8, maximum=256)
    dimensions = validation.as_int(dimensions, "dimensions", minimum=2, maximum=1024)
    if not isinstance(filters, (list, tuple)) or not filters:
        raise TypeError(
            f"filters must be a non-empty list such as [24, 48, 96], but got "
            f"{validation.describe(filters)}."
        )
    counts = [validation.as_int(f, f"filters[{i}]", minimum=1) for i, f in enumerate(filters)]
    inputs = keras.Input(shape=(input_size, input_size, 1), name="face")
    x = keras.layers.RandomTranslation(SHIFT, SHIFT, fill_mode="nearest", name="random_shift")(
        inputs
    )
    x = keras.layers.RandomFlip("horizontal", name="random_flip")(x)
    for index, count in enumerate(counts, start=1):
        x = keras.layers.Conv2D(count, 3, padding="same", use_bias=False, name=f"conv_{index}")(x)
        # momentum 0.9: the averages used at inference settle within a few dozen steps
        # (Keras's default 0.99 needs hundreds, too many for the lesson's short trainings)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"batch_norm_{index}")(x)
        x = keras.layers.Activation("relu", name=f"relu_{index}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool_{index}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="global_average")(x)
    x = keras.layers.Dense(dimensions, name="projection")(x)
    # x / sqrt(|x|^2 + 1e-6): length 1 for any real face; the small constant keeps the
    # gradient finite when a collapsed network outputs (nearly) zero vectors.
    length = keras.ops.sqrt(keras.ops.sum(keras.ops.square(x), axis=-1, keepdims=True) + 1e-6)
    outputs = keras.layers.Activation("linear", name="unit_length")(x / length)
    return keras.Model(inputs, outputs, name="embedding")


def siamese_model(embedding: keras.Model) -> keras.Model:
    """Two faces in, their squared distance out, through ONE shared ``embedding`` network.

    The summary lists the embedding model once: both inputs use the same weights, which is
    all "Siamese" means.
    """
    keras = lesson.import_keras()
    models.require_model(embedding, "embedding")
    shape = tuple(embedding.input_shape[1:])
    first = keras.Input(shape=shape, name="face_1")
    second = keras.Input(shape=shape, name="face_2")
    difference = keras.layers.Subtract(name="difference")([embedding(first), embedding(second)])
    distance = keras.ops.sum(keras.ops.square(difference), axis=-1)
    return keras.Model([first, second], distance, name="siamese")


def triplet_loss_keras(margin: float = 0.2, mining: str = "batch_hard", seed: int = 0) -> Callable:
    """The slide's triplet loss on a batch of embeddings, with the triplets chosen in the batch.

    ``loss(labels, embeddings)``: every image of the batch is an anchor; its positives are the
    other images of the same person, its negatives everyone else. Per anchor-positive pair
    the loss is max(|f(a) - f(p)|^2 - |f(a) - f(n)|^2 + margin, 0) with the negative n chosen by

    * "batch_all": every valid triplet of the batch; the mean is over the triplets whose
      loss is still above 0 (the easy ones would otherwise dilute it to nearly nothing);
    * "batch_hard": per anchor, its farthest positive and its closest negative (one triplet
      per anchor, the hardest);
    * "semi_hard": per anchor-positive pair, the closest negative that is still farther than
      the positive (FaceNet's choice); if there is none, the farthest negative;
    * "random": per anchor-positive pair, a random negative;
    * "positives_only": no negative at all, the loss is |f(a) - f(p)|^2: it is minimised by
      mapping every face to the same point (the collapse the lesson shows).

    Written with ``keras.ops`` only. The mean is over the anchor(-positive) terms.
    """
    keras = lesson.import_keras()
    ops = keras.ops
    margin = validation.as_float(margin, "margin", minimum=0.0, maximum=4.0)
    validation.one_of(mining, "mining", MINING)
    generator = keras.random.SeedGenerator(seed) if mining == "random" else None

    def loss(labels, embeddings):
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        squared = ops.sum(ops.square(embeddings), axis=1)
        distances = ops.maximum(
            squared[:, None]
            + squared[None, :]
            - 2.0 * ops.matmul(embeddings, ops.transpose(embeddings)),
            0.0,
        )
        same = ops.equal(labels[:, None], labels[None, :])
        count = ops.shape(labels)[0]
        positive = ops.logical_and(same, ops.logical_not(ops.eye(count, dtype="bool")))
        negative = ops.logical_not(same)
        positive_f = ops.cast(positive, distances.dtype)
        if mining == "positives_only":
            return ops.sum(distances * positive_f) / ops.maximum(ops.sum(positive_f), 1.0)
        if mining == "batch_hard":
            hardest_positive = ops.max(ops.where(positive, distances, 0.0), axis=1)
            hardest_negative = ops.min(ops.where(negative, distances, 1e9), axis=1)
            has_positive = ops.cast(ops.any(positive, axis=1), distances.dtype)
            terms = ops.relu(hardest_positive - hardest_negative + margin) * has_positive
            return ops.sum(terms) / ops.maximum(ops.sum(has_positive), 1.0)
        # one negative per anchor-positive pair: d_an[a, p] as an (N, N) matrix
        positive_d = distances[:, :, None]  # (a, p, 1)
        negative_d = distances[:, None, :]  # (a, 1, n)
        is_negative = negative[:, None, :]
        if mining == "batch_all":
            valid = ops.logical_and(positive[:, :, None], is_negative)
            terms = ops.where(valid, ops.relu(positive_d - negative_d + margin), 0.0)
            active = ops.sum(ops.cast(terms > 1e-12, terms.dtype))
            return ops.sum(terms) / ops.maximum(active, 1.0)
        if mining == "semi_hard":
            farther = ops.logical_and(is_negative, negative_d > positive_d)
            semi = ops.min(ops.where(farther, negative_d, 1e9), axis=2)
            easiest = ops.max(ops.where(negative, distances, -1.0), axis=1)[:, None]
            chosen = ops.where(ops.any(farther, axis=2), semi, easiest)
        else:
            noise = keras.random.uniform(ops.shape(distances), seed=generator)
            pick = ops.argmax(ops.where(negative, noise, -1.0), axis=1)  # per anchor
            chosen = ops.take_along_axis(distances, pick[:, None], axis=1)  # (a, 1)
        terms = ops.relu(distances - chosen + margin) * positive_f
        return ops.sum(terms) / ops.maximum(ops.sum(positive_f), 1.0)

    loss.__name__ = f"triplet_{mining}"
    return loss


def pk_batches(
    labels: np.ndarray, people: int = 10, per_person: int = 5, batches: int = 100, *, seed: int = 0
) -> np.ndarray:
    """Indices of ``batches`` batches of ``people`` x ``per_person`` images ("PK batches").

    Triplets need positives in the batch: each batch takes ``people`` random people and
    ``per_person`` random images of each. Returns int64 indices, shape
    (batches * people * per_person,), batch after batch.
    """
    labels = validation.as_labels(labels, len(labels))
    people = validation.as_int(people, "people", minimum=2)
    per_person = validation.as_int(per_person, "per_person", minimum=2)
    batches = validation.as_int(batches, "batches", minimum=1)
    rng = np.random.default_rng(seed)
    groups = {person: np.flatnonzero(labels == person) for person in np.unique(labels)}
    if len(groups) < people:
        raise ValueError(f"a batch needs {people} people but the labels name only {len(groups)}.")
    smallest = min(len(g) for g in groups.values())
    if smallest < per_person:
        raise ValueError(f"per_person={per_person} but one person has only {smallest} images.")
    names = np.array(sorted(groups))
    order = []
    for _ in range(batches):
        for person in rng.choice(names, people, replace=False):
            order.extend(rng.choice(groups[person], per_person, replace=False))
    return np.asarray(order, dtype=np.int64)


def _batch_stream(images, labels, order, batch_size, batches_per_epoch):
    """A keras PyDataset that walks through ``order`` (new batches every epoch)."""
    keras = lesson.import_keras()

    total = len(order) // batch_size

    class Stream(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0  # set by the EpochTracker callback (Keras may call the
            # dataset's own on_epoch_end a different number of times)

        def __len__(self):
            return batches_per_epoch

        def __getitem__(self, index):
            start = ((self.epoch * batches_per_epoch + index) % total) * batch_size
            chosen = order[start : start + batch_size]
            return images[chosen], labels[chosen]

    class EpochTracker(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            stream.epoch = epoch

    stream = Stream()
    return stream, EpochTracker()


def _auc_each_epoch(images, labels):
    """A Keras callback that records the verification AUC on (images, labels) as "val_auc"."""
    keras = lesson.import_keras()

    class AucEachEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            embedded = embed(self.model, images, checked=True)
            logs["val_auc"] = verification.verification_auc(embedded, labels)

    return AucEachEpoch()


def train_embedding(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    mining: str = "batch_hard",
    margin: float = 0.2,
    epochs: int = 10,
    batches_per_epoch: int = 60,
    people: int = 10,
    per_person: int = 5,
    learning_rate: float = 3e-3,
    validation_data: tuple | None = None,
    seed: int = 0,
    cache: bool = True,
) -> models.TrainingResult:
    """Train an embedding network with the triplet loss on PK batches.

    Parameters
    ----------
    model : keras.Model from ``embedding_network``
    images : (N, H, W) faces in [0, 1] at the network's input size; labels (N,) person numbers
    mining : one of ``MINING`` (see ``triplet_loss_keras``)
    margin : float, the slide's alpha
    epochs, batches_per_epoch : int
        Fresh PK batches every epoch; ``epochs * batches_per_epoch`` steps in all.
    learning_rate : float
        Adam's initial step, lowered along a half cosine to 0.
    validation_data : (images, labels) of other people, optional
        The verification AUC on them is recorded after every epoch ("val_auc").
    seed : int
        Seeds Keras before fitting and picks the batches; the same call gives the same weights.
    cache : bool
        As in ``models.train``: an identical earlier training is loaded from
        ``data.cache_dir()/trained/`` instead of repeated (a line says so).

    Returns
    -------
    models.TrainingResult, with history "loss" (and "val_auc") per epoch.
    """
    images, labels, validation_pair, settings = _checked_training_inputs(
        model,
        images,
        labels,
        validation_data,
        mining=mining,
        margin=margin,
        epochs=epochs,
        batches_per_epoch=batches_per_epoch,
        people=people,
        per_person=per_person,
        learning_rate=learning_rate,
        seed=seed,
    )
    steps = settings["epochs"] * settings["batches_per_epoch"]
    order = pk_batches(labels, people, per_person, steps, seed=settings["seed"])
    callbacks = [_auc_each_epoch(*validation_pair)] if validation_pair else []
    stream, tracker = _batch_stream(
        images[..., None], labels, order, people * per_person, settings["batches_per_epoch"]
    )
    return models.fit(
        model,
        stream,
        loss=triplet_loss_keras(settings["margin"], settings["mining"], settings["seed"]),
        epochs=settings["epochs"],
        steps_per_epoch=settings["batches_per_epoch"],
        learning_rate=settings["learning_rate"],
        seed=settings["seed"],
        callbacks=[tracker, *callbacks],
        cache=cache,
        key_arrays=[images, labels, *validation_pair],
        key_settings=settings,
    )


def _checked_training_inputs(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    validation_data: object,
    *,
    mining: str,
    margin: float,
    epochs: int,
    batches_per_epoch: int,
    people: int,
    per_person: int,
    learning_rate: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, tuple, dict]:
    """``train_embedding``'s arguments checked, in the order they are listed.

    Returns the faces, the labels, the validation (images, labels) pair (empty without
    validation data) and the training's settings as they go into the cache key (the checked
    values, with people and per_person as given: ``pk_batches`` checks those).
    """
    models.require_model(model)
    images = compute.as_faces(images)
    if tuple(model.input_shape[1:3]) != images.shape[1:]:
        raise ValueError(
            f"the network takes {model.input_shape[1]}x{model.input_shape[2]} "
            f"faces but the images are {images.shape[1]}x{images.shape[2]}: "
            f"use faces.resize_faces(images, {model.input_shape[1]})."
        )
    labels = validation.as_labels(labels, len(images))
    validation.one_of(mining, "mining", MINING)
    margin = validation.as_float(margin, "margin", minimum=0.0, maximum=4.0)
    epochs = validation.as_int(epochs, "epochs", minimum=1)
    batches_per_epoch = validation.as_int(batches_per_epoch, "batches_per_epoch", minimum=1)
    learning_rate = validation.as_float(learning_rate, "learning_rate", minimum=1e-6, maximum=1.0)
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    settings = {
        "kind": "triplet",
        "mining": mining,
        "margin": margin,
        "epochs": epochs,
        "batches_per_epoch": batches_per_epoch,
        "people": people,
        "per_person": per_person,
        "learning_rate": learning_rate,
        "seed": seed,
        "validation": validation_data is not None,
    }
    validation_pair = ()
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (images, labels).")
        validation_images = compute.as_faces(validation_data[0], "validation images")
        validation_labels = validation.as_labels(
            validation_data[1], len(validation_images), name="validation labels"
        )
        validation_pair = (validation_images, validation_labels)
    return images, labels, validation_pair, settings


def embed(model: keras.Model, images: np.ndarray, *, checked: bool = False) -> np.ndarray:
    """Embeddings of faces, (N, H, W) -> (N, D) float64, with ``model(x, training=False)``.

    ``checked=True`` skips the checks of the model and the images (done once by the caller).
    """
    keras = lesson.import_keras()
    if not checked:
        models.require_model(model)
        images = compute.as_faces(images)
        if tuple(model.input_shape[1:3]) != images.shape[1:]:
            raise ValueError(
                f"the network takes {model.input_shape[1]}x"
                f"{model.input_shape[2]} faces but the images are "
                f"{images.shape[1]}x{images.shape[2]}: use "
                f"faces.resize_faces(images, {model.input_shape[1]})."
            )
    batch = images[..., None]
    parts = [
        keras.ops.convert_to_numpy(model(batch[i : i + EMBED_BATCH_SIZE], training=False))
        for i in range(0, len(batch), EMBED_BATCH_SIZE)
    ]
    return np.concatenate(parts).astype(np.float64)
