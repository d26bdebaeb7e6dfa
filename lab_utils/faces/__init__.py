"""Lesson 06 "Faces": detection with Haar cascades, recognition as few-shot learning with a
Siamese network and the triplet loss, verification, enrolment, and facial landmarks.

Which file holds what:

* ``compute.py``: the face data: batches of grayscale faces checked (``as_faces``) and
  resized, splits by identity (``identity_split``, ``FaceSplit``).
* ``verification.py``: squared distances, pairs, ROC curves and thresholds, raw pixels and
  eigenfaces, identification against a gallery and enrolment, the threshold widget's pure
  compute step.
* ``siamese.py``: the embedding network, the Siamese model, the triplet loss with in-batch
  mining, PK batches, ``train_embedding`` (through ``models.fit``, cached) and ``embed``.
* ``haar.py``: face detection with OpenCV's Haar cascades, the rotation sweep, the photos
  where detection fails, Haar-like features and OpenCV's cascade XML, the Haar widget's pure
  compute step.
* ``dlib_faces.py``: faces found by dlib's HOG and CNN detectors, the 68 landmarks, alignment
  by the eyes and the pretrained ResNet descriptor.
* ``widgets.py``: the threshold and Haar explorers (thin builders).
* ``plots.py``: every figure of the lesson (``plot_*``).
* ``checks.py``: the checks of the lesson's five exercises, their hints and known mistakes.

The detectors themselves (cascades and dlib models loaded once, the grayscale conversion)
live in ``lab_utils.detectors``; boxes are drawn by ``lab_utils.boxes.draw_boxes``, which
this package re-exports as ``faces.draw_boxes``.

Importing this package imports neither TensorFlow nor OpenCV nor dlib.

Vocabulary: ``images`` are (N, H, W) float32 in [0, 1] (grayscale faces) unless said
otherwise; ``embeddings`` are (N, D) float arrays, one row per image; a *distance* between
two embeddings is the squared Euclidean distance of the slide's triplet loss; boxes are
(x, y, w, h) in pixels, x to the right and y down, as OpenCV returns them.
"""

from lab_utils.boxes import draw_boxes
from lab_utils.faces.checks import (
    check_choose_threshold,
    check_identify,
    check_pairwise_squared_distances,
    check_semi_hard_negative,
    check_triplet_loss,
)
from lab_utils.faces.compute import (
    FaceSplit,
    as_faces,
    data_banner,
    dlib_resnet_conv_layers,
    identity_split,
    resize_faces,
)
from lab_utils.faces.dlib_faces import (
    LANDMARK_GROUPS,
    align_face,
    detect_faces_dlib,
    dlib_embeddings,
    eye_centres,
    landmarks,
)
from lab_utils.faces.haar import (
    box_hits,
    detect_faces_haar,
    draw_haar_feature,
    failure_photos,
    haar_feature_sample,
    haar_features,
    haar_view,
    opencv_cascade_summary,
    padded_faces,
    rotate_about,
    rotation_sweep,
)
from lab_utils.faces.plots import (
    plot_cascade_features,
    plot_distance_histograms,
    plot_gallery_false_accepts,
    plot_landmarks,
    plot_roc,
    plot_rotation_sweeps,
    plot_training_curves,
)
from lab_utils.faces.siamese import (
    INPUT_SIZE,
    MINING,
    SIAMESE_SETTINGS,
    embed,
    embedding_network,
    on_keras,
    pk_batches,
    semi_hard_choice,
    siamese_model,
    train_embedding,
    trainable_triplet_formula,
    triplet_formula,
    triplet_loss_keras,
)
from lab_utils.faces.verification import (
    Roc,
    as_embeddings,
    as_threshold,
    best_threshold,
    eigenface_embeddings,
    enrolment_experiment,
    error_rates,
    fit_eigenfaces,
    gallery_false_accepts,
    identify,
    pair_distances,
    pixel_embeddings,
    spread,
    squared_distances,
    threshold_for_visitors,
    threshold_view,
    true_accept_at,
    verification_auc,
    verification_roc,
)
from lab_utils.faces.widgets import haar_explorer, threshold_explorer

__all__ = [
    # compute
    "FaceSplit",
    "as_faces",
    "data_banner",
    "dlib_resnet_conv_layers",
    "identity_split",
    "resize_faces",
    # verification
    "Roc",
    "as_embeddings",
    "as_threshold",
    "best_threshold",
    "eigenface_embeddings",
    "enrolment_experiment",
    "error_rates",
    "fit_eigenfaces",
    "gallery_false_accepts",
    "identify",
    "pair_distances",
    "pixel_embeddings",
    "spread",
    "squared_distances",
    "threshold_for_visitors",
    "threshold_view",
    "true_accept_at",
    "verification_auc",
    "verification_roc",
    # siamese
    "INPUT_SIZE",
    "MINING",
    "SIAMESE_SETTINGS",
    "embed",
    "embedding_network",
    "on_keras",
    "pk_batches",
    "semi_hard_choice",
    "siamese_model",
    "train_embedding",
    "trainable_triplet_formula",
    "triplet_formula",
    "triplet_loss_keras",
    # haar
    "box_hits",
    "detect_faces_haar",
    "draw_haar_feature",
    "failure_photos",
    "haar_feature_sample",
    "haar_features",
    "haar_view",
    "opencv_cascade_summary",
    "padded_faces",
    "rotate_about",
    "rotation_sweep",
    # lab_utils.boxes (lesson 06 draws with colour=(255, 40, 40), thickness=2)
    "draw_boxes",
    # dlib_faces
    "LANDMARK_GROUPS",
    "align_face",
    "detect_faces_dlib",
    "dlib_embeddings",
    "eye_centres",
    "landmarks",
    # widgets
    "haar_explorer",
    "threshold_explorer",
    # plots
    "plot_cascade_features",
    "plot_distance_histograms",
    "plot_gallery_false_accepts",
    "plot_landmarks",
    "plot_roc",
    "plot_rotation_sweeps",
    "plot_training_curves",
    # checks
    "check_choose_threshold",
    "check_identify",
    "check_pairwise_squared_distances",
    "check_semi_hard_negative",
    "check_triplet_loss",
]
