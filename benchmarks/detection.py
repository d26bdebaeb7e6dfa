"""Figures for lesson 05 "Detection" (printed, not a pass/fail test).

1. The heat-map detector trained with the lesson's settings (always retrained, never the
   cache): mAP@0.5, mAP@0.75 and COCO mAP@[.5:.95] on the held-out scenes (pycocotools),
   training seconds and CPU seconds. Aim: mAP@0.5 >= 0.95 with <= 90 s of training on
   2 CPU cores.
2. The cost table of the lesson, from the same run: sliding window + CNN, selective search +
   CNN, one-stage detector (classifier evaluations and seconds per image, mAP@0.5).
3. Selective search on the astronaut photo: proposals, seconds, recall of the hand-annotated
   boxes at IoU >= 0.5 against the number of proposals kept.
4. The single-object multitask loss of section 3, as the lesson trains it (1500 scenes, 6
   epochs): L2 with box weight 1 and 50 against smooth L1 on standardised boxes with weight 1
   (class accuracy, mean IoU, training seconds and CPU seconds of each).
The lesson's run time and peak memory under nbval: benchmarks/foundation.py.

Run: `.venv/bin/python benchmarks/detection.py` (or `make benchmark`).
"""

import os

from _machine import machine  # benchmarks/_machine.py (scripts run from this folder)

os.environ["LAB_UTILS_RETRAIN"] = "1"  # measure real training, never the cache


def main() -> None:
    import numpy as np

    from lab_utils import data, detection, lesson, models

    lesson.setup(seed=0, deep_learning=True)
    settings = detection.DETECTOR_SETTINGS
    train = data.load_dataset(
        "digit_scenes", count=settings["train_scenes"], seed=settings["train_seed"]
    )
    test = data.load_dataset(
        "digit_scenes", count=settings["test_scenes"], seed=settings["test_seed"]
    )
    print(f"before training: {machine()}")
    lesson.reseed(0)
    trained = detection.train_lesson_detector(train, seed=0)
    print(f"after training:  {machine()}")
    found, seconds = detection.detect_scenes(trained.model, test)
    result = detection.coco_evaluation(test, found)
    print(
        f"1. heat-map detector, {len(train)} training scenes, {trained.epochs} epochs, "
        f"{models.parameter_count(trained.model):,} parameters: "
        f"{trained.seconds:.1f} s of training ({trained.cpu_seconds:.1f} CPU s)"
    )
    print(
        f"   held-out ({len(test)} scenes, {test.object_count()} objects): "
        f"mAP@0.5 {result['map_50']:.3f}, mAP@0.75 {result['map_75']:.3f}, "
        f"mAP@[.5:.95] {result['map_50_95']:.3f}; {seconds * 1000:.1f} ms per image"
    )
    print(
        f"   aim: mAP@0.5 >= 0.95 with <= 90 s of training -> {result['map_50']:.3f} in "
        f"{trained.seconds:.1f} s"
    )
    print(
        f"RESULT lesson 05 heat-map detector ({len(train)} scenes, {trained.epochs} epochs): "
        f"mAP@0.5 / mAP@[.5:.95] on {len(test)} held-out scenes; training time, CPU time | "
        f"{result['map_50']:.3f} / {result['map_50_95']:.3f}; {trained.seconds:.1f} s; "
        f"{trained.cpu_seconds:.1f} CPU s"
    )

    crops, labels = detection.crop_dataset(train.subset(range(1500)), seed=0)
    lesson.reseed(0)
    classifier = models.cnn_classifier(
        (24, 24, 1), 11, filters=(32, 64, 64), batch_norm=True, name="window_classifier"
    )
    models.train(classifier, crops, labels, epochs=8, batch_size=64, seed=0)
    scenes = test.subset(range(30))
    runs = {
        "sliding window + CNN": detection.classifier_detections(
            classifier, scenes, "sliding window", sizes=(12, 16, 20, 24), stride=4
        ),
        "selective search + CNN": detection.classifier_detections(
            classifier, scenes, "selective search"
        ),
    }
    print(f"2. cost table on {len(scenes)} held-out scenes ({machine()}):")
    print(f"   {'method':24s} {'CNN evaluations/image':>22s} {'s/image':>8s} {'mAP@0.5':>8s}")
    for name, run in runs.items():
        value = detection.coco_evaluation(scenes, run["detections"])["map_50"]
        print(
            f"   {name:24s} {run['evaluations_per_image']:22.0f} "
            f"{run['seconds_per_image']:8.3f} {value:8.3f}"
        )
        print(
            f"RESULT lesson 05 {name}: CNN evaluations per image, s per image, mAP@0.5 "
            f"({len(scenes)} scenes) | {run['evaluations_per_image']:.0f}; "
            f"{run['seconds_per_image']:.3f} s; {value:.3f}"
        )
    one_stage, one_seconds = detection.detect_scenes(trained.model, scenes)
    value = detection.coco_evaluation(scenes, one_stage)["map_50"]
    print(f"   {'one-stage (heat map)':24s} {1:22d} {one_seconds:8.3f} {value:8.3f}")
    print(
        f"RESULT lesson 05 one-stage detector: network passes per image, s per image, mAP@0.5 "
        f"({len(scenes)} scenes) | 1; {one_seconds:.3f} s; {value:.3f}"
    )

    table = data.load_table("detection_photos")
    truths = np.vstack(
        [
            detection.photo_truths(table, "astronaut", category)
            for category in ["face", "person", "rocket", "helmet", "flag", "eye"]
        ]
    )
    for side in (256, 512):
        proposals, search_seconds = detection.selective_search(
            data.load_image("astronaut"), max_side=side
        )
        counts = [10, 50, 100, 300, 1000, len(proposals)]
        recall = detection.proposal_recall(proposals, truths, counts)
        print(
            f"3. selective search (fast) on astronaut at {side} px: {len(proposals)} "
            f"proposals in {search_seconds:.2f} s; recall of {len(truths)} boxes at IoU 0.5: "
            + ", ".join(f"{c}: {r:.2f}" for c, r in zip(counts, recall))
        )
        print(
            f"RESULT lesson 05 selective search on astronaut at {side} px: proposals, seconds, "
            f"recall at IoU 0.5 of {len(truths)} boxes for the first 10/100/1000/all | "
            f"{len(proposals)}; {search_seconds:.2f} s; "
            + " / ".join(f"{r:.2f}" for r in (recall[0], recall[2], recall[4], recall[5]))
        )
    single_object_section()


def single_object_section() -> None:
    """Section 4: the three single-object trainings of the lesson, always retrained."""
    from lab_utils import data, detection

    options = {"size": 32, "min_digit": 12, "max_digit": 20, "max_objects": 1}
    train = data.load_dataset("digit_scenes", count=1500, seed=11, **options)
    test = data.load_dataset("digit_scenes", count=300, seed=12, **options)
    statistics = detection.box_statistics(train)
    variants = {
        "L2, box weight 1": {"box_weight": 1.0},
        "L2, box weight 50": {"box_weight": 50.0},
        "smooth L1, standardised, weight 1": {
            "box_weight": 1.0,
            "box_loss": "smooth_l1",
            "box_statistics": statistics,
        },
    }
    print(f"4. single-object multitask loss, {len(train)} scenes, 6 epochs ({machine()}):")
    for name, settings in variants.items():
        trained = detection.train_single_object(train, epochs=6, seed=0, **settings)
        scores = detection.single_object_scores(
            trained.model, test, box_statistics=settings.get("box_statistics")
        )
        print(
            f"   {name:34s} accuracy {scores['accuracy']:.3f}, mean IoU {scores['mean_iou']:.3f}; "
            f"{trained.seconds:.1f} s ({trained.cpu_seconds:.1f} CPU s)"
        )
        print(
            f"RESULT lesson 05 single object, {name}: class accuracy / mean box IoU on "
            f"{len(test)} held-out scenes; training time, CPU time | {scores['accuracy']:.3f} / "
            f"{scores['mean_iou']:.3f}; {trained.seconds:.1f} s; {trained.cpu_seconds:.1f} CPU s"
        )


if __name__ == "__main__":
    main()
