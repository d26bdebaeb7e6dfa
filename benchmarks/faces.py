"""Figures for lesson 06 "Faces" (printed, not a pass/fail test).

1. Verification ROC AUC on the four disjoint 10-person held-out splits of Olivetti (people
   0-9, 10-19, 20-29, 30-39), each with its model trained on the other 30 people: raw pixels,
   eigenfaces (PCA 50 whitened + cosine, fitted on the 30), the lesson's Siamese network
   (``faces.SIAMESE_SETTINGS``, the lesson's: batch-all triplets, margin 0.5, 420 steps of
   10 x 5 PK batches, 32 x 32 inputs) and
   dlib's pretrained ResNet descriptor. Aim: Siamese mean >= 0.96 and above eigenfaces on
   every split, with <= 60 s of training per split on 2 CPU cores.
2. Face detectors (OpenCV Haar cascade, dlib HOG, dlib CNN/MMOD): seconds per image on the
   two sample portraits, and detection rate vs in-plane rotation on Olivetti faces.
The lesson's run time and peak memory under nbval: benchmarks/foundation.py.

Olivetti comes from the kit's cache; without it (offline) the numbers are those of the
labelled LFW substitute, and the script says so. Wall-clock seconds grow with the machine's
load (printed next to them); CPU seconds much less.

Run: `.venv/bin/python benchmarks/faces.py` (or `make benchmark`).
"""

import os
import time

from _machine import machine  # benchmarks/_machine.py (scripts run from this folder)

os.environ["LAB_UTILS_RETRAIN"] = "1"  # measure real training, never the cache


def verification_figures() -> None:
    import numpy as np

    from lab_utils import data, faces, lesson

    lesson.setup(seed=0, deep_learning=True)
    olivetti = data.load_dataset("olivetti_faces")
    print(olivetti.note)
    print(f"before training: {machine()}")
    rows = []
    for first in (0, 10, 20, 30):
        split = faces.identity_split(olivetti, range(first, first + 10))
        small = faces.identity_split(olivetti, range(first, first + 10), size=faces.INPUT_SIZE)
        pca = faces.fit_eigenfaces(split.train_images, 50)
        lesson.reseed(0)
        network = faces.embedding_network()
        result = faces.train_embedding(
            network, small.train_images, small.train_labels, **faces.SIAMESE_SETTINGS, seed=0
        )
        row = {
            "people": f"{first}-{first + 9}",
            "raw pixels": faces.verification_auc(
                faces.pixel_embeddings(split.test_images), split.test_labels
            ),
            "eigenfaces": faces.verification_auc(
                faces.eigenface_embeddings(pca, split.test_images), split.test_labels
            ),
            "Siamese": faces.verification_auc(
                faces.embed(network, small.test_images), split.test_labels
            ),
            "dlib ResNet": faces.verification_auc(
                faces.dlib_embeddings(split.test_images), split.test_labels
            ),
            "seconds": result.seconds,
            "cpu_seconds": result.cpu_seconds,
        }
        rows.append(row)
        print(
            f"people {row['people']}: raw {row['raw pixels']:.3f}  eigenfaces "
            f"{row['eigenfaces']:.3f}  Siamese {row['Siamese']:.3f} (trained "
            f"{row['seconds']:.1f} s, {row['cpu_seconds']:.1f} CPU s)  dlib "
            f"{row['dlib ResNet']:.3f}",
            flush=True,
        )
    print(f"after training:  {machine()}")
    for name in ("raw pixels", "eigenfaces", "Siamese", "dlib ResNet"):
        values = [row[name] for row in rows]
        print(
            f"{name:12s} "
            + " / ".join(f"{v:.3f}" for v in values)
            + f"  mean {np.mean(values):.3f}"
        )
    above = all(row["Siamese"] > row["eigenfaces"] for row in rows)
    mean = np.mean([row["Siamese"] for row in rows])
    longest = max(row["seconds"] for row in rows)
    print(
        f"aim: Siamese mean AUC >= 0.96 -> {mean:.3f}; above eigenfaces on every split -> "
        f"{above}; <= 60 s training per split -> longest {longest:.1f} s"
    )
    # The lines run.py copies into RESULTS.md.
    source = "LFW SUBSTITUTE, not Olivetti" if olivetti.substitute else "Olivetti"
    for name in ("raw pixels", "eigenfaces", "Siamese", "dlib ResNet"):
        values = [row[name] for row in rows]
        print(
            f"RESULT lesson 06 verification ROC AUC, {name} ({source}, people 0-9 / 10-19 / "
            f"20-29 / 30-39, each trained on the other 30) | "
            + " / ".join(f"{v:.3f}" for v in values)
            + f", mean {np.mean(values):.3f}"
        )
    steps = faces.SIAMESE_SETTINGS["epochs"] * faces.SIAMESE_SETTINGS["batches_per_epoch"]
    print(
        f"RESULT lesson 06 Siamese training per split ({steps} steps, 2 CPU cores) | "
        + " / ".join(f"{row['seconds']:.0f} s ({row['cpu_seconds']:.0f} CPU s)" for row in rows)
    )


def detector_figures() -> None:
    from lab_utils import data, faces

    detectors = {
        "Haar (OpenCV)": lambda image: faces.detect_faces_haar(image, min_size=60),
        "HOG (dlib)": lambda image: faces.detect_faces_dlib(image, method="hog"),
        "CNN (dlib MMOD)": lambda image: faces.detect_faces_dlib(image, method="cnn"),
    }
    print(f"\ndetectors, {machine()}")
    for name in ("astronaut", "grace_hopper"):
        photo = data.load_image(name)
        for detector, detect in detectors.items():
            start = time.perf_counter()
            boxes = detect(photo)
            seconds = time.perf_counter() - start
            print(
                f"{name:12s} {photo.shape[1]}x{photo.shape[0]} {detector:16s} "
                f"{len(boxes)} face(s) in {seconds:.2f} s"
            )
            print(
                f"RESULT lesson 06 {detector} on {name} ({photo.shape[1]}x{photo.shape[0]}): "
                f"faces found, seconds | {len(boxes)}, {seconds:.2f} s"
            )
    olivetti = data.load_dataset("olivetti_faces")
    images, boxes = faces.padded_faces(olivetti.images[::20], pad=40, scale=2)
    angles = list(range(-60, 61, 15))
    for detector, detect in detectors.items():
        count = len(images) if "CNN" not in detector else 6  # seconds per image
        sweep = faces.rotation_sweep(detect, images[:count], boxes[:count], angles)
        rates = " ".join(f"{a:+d}°:{r:.0%}" for a, r in zip(angles, sweep["rate"]))
        print(
            f"{detector:16s} ({count} faces, 208x208) {sweep['seconds'] * 1000:.0f} ms per "
            f"image; found {rates}"
        )
        print(
            f"RESULT lesson 06 {detector}: ms per 208x208 image / faces found at "
            f"-60, -30, 0, +30, +60 degrees ({count} Olivetti faces) | "
            f"{sweep['seconds'] * 1000:.0f} ms / "
            + ", ".join(f"{sweep['rate'][angles.index(a)]:.0%}" for a in (-60, -30, 0, 30, 60))
        )


if __name__ == "__main__":
    verification_figures()
    detector_figures()
