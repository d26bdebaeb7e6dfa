"""The data registry: every image and dataset the lessons use, with its source and licence.

Lessons load data only through this module::

    photo = data.load_image("coffee")        # (400, 600, 3) uint8
    digits = data.load_dataset("digits")     # Dataset(images, labels, ...)
    data.catalogue()                         # name, kind, source and licence of everything

Sources are tried in this order, as in ``skimage.data``:

1. files shipped inside installed packages (scikit-image, matplotlib, scikit-learn);
2. files in the project's ``data/`` folder;
3. deterministic generators (seeded);
4. a file that must be downloaded, looked for in this order (each verified by sha256):
   the read-only shared folder named by ``LAB_UTILS_SHARED`` (a lab machine's or a hub's copy,
   filled once by ``python -m lab_utils.prepare --shared DIR``), then the personal cache
   (``~/.cache/lab_utils`` unless ``LAB_UTILS_CACHE`` names another folder), then a download
   into the personal cache. A cached file whose checksum does not match is reported and set
   aside, never used (a damaged shared file is reported and skipped: the kit never writes
   there). ``python -m lab_utils.prepare --add-data NAME FILE`` puts a file obtained elsewhere
   into the cache (checked first). Setting ``LAB_UTILS_OFFLINE=1`` skips download attempts.
   When a download is impossible, the loader returns a clearly labelled substitute
   (``Dataset.substitute`` is True) and prints why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lab_utils import resources, validation

# data/ of the checkout, or lab_utils/bundled of an installed kit (importlib.resources).
PROJECT_DATA_DIR = resources.kit_folder("bundled")

# Loaders add their entries to this dict through ``_register``; ``catalogue`` lists them.
_REGISTRY: dict[str, Entry] = {}


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered image or dataset: where it comes from and under which licence."""

    name: str
    kind: str  # "image", "dataset" or "table"
    source: str  # "package", "project file", "generated" or "download"
    description: str
    origin: str  # who made it / where the file lives
    licence: str
    loader: Callable = dataclasses.field(repr=False, compare=False)


@dataclasses.dataclass
class Dataset:
    """A labelled set of images.

    Attributes
    ----------
    images : ndarray
        Shape (N, H, W), one grayscale image per row; dtype and range as documented by the entry.
    labels : ndarray
        Shape (N,), int64 class indices.
    class_names : list of str
        ``class_names[k]`` names class ``k``.
    name : str
        The registry name.
    substitute : bool
        True when the real data could not be loaded and a stand-in was returned.
    note : str
        Where the data came from, or why it is a substitute.
    max_value : float or None
        The largest possible gray level, which becomes 1.0 when the images are scaled (16 for
        the digits). None: 1.0 for float images in [0, 1], 255 for uint8. The kit never guesses
        it from the largest value present (``cnns.split_dataset`` uses it).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list
    name: str
    substitute: bool = False
    note: str = ""
    max_value: float | None = None

    def __len__(self) -> int:
        return len(self.images)


class UnknownDataError(KeyError):
    """Raised for a name that is not in the registry; the message lists what exists."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0])


def _register(name, kind, source, description, origin, licence):
    """Decorator that adds a loader function to the registry."""

    def decorate(loader):
        _REGISTRY[name] = Entry(name, kind, source, description, origin, licence, loader)
        return loader

    return decorate


def names(kind: str | None = None) -> list[str]:
    """Registered names, optionally only those of one kind ("image" or "dataset")."""
    if kind is not None:
        validation.one_of(kind, "kind", ["image", "dataset", "table"])
    return sorted(n for n, e in _REGISTRY.items() if kind is None or e.kind == kind)


def info(name: str) -> Entry:
    """The registry entry for ``name`` (source, origin, licence); unknown names list what exists."""
    if not isinstance(name, str):
        raise TypeError(
            f"A data name must be a string such as 'coffee', but got {validation.describe(name)}."
        )
    if name not in _REGISTRY:
        raise UnknownDataError(
            f"There is no image or dataset called {name!r}. Known names: {', '.join(names())}."
        )
    return _REGISTRY[name]


def catalogue() -> list[dict]:
    """Every registered entry as a dict (name, kind, source, description, origin, licence)."""
    return [
        {
            field: getattr(entry, field)
            for field in ("name", "kind", "source", "description", "origin", "licence")
        }
        for entry in (_REGISTRY[n] for n in names())
    ]


def load_image(name: str) -> np.ndarray:
    """Load a registered image.

    Returns
    -------
    ndarray
        (H, W) grayscale or (H, W, 3) RGB, uint8 in [0, 255]; the slide's Lincoln matrix is
        the exception (int16, see ``load_lincoln``).
    """
    entry = info(name)
    if entry.kind == "table":
        raise ValueError(f"{name!r} is a table, not an image: use data.load_table({name!r}).")
    if entry.kind != "image":
        raise ValueError(
            f"{name!r} is a dataset, not a single image: use data.load_dataset({name!r})."
        )
    return entry.loader()


def load_dataset(name: str, **options: object) -> Dataset:
    """Load a registered dataset; ``options`` are passed to its loader (e.g. ``seed``)."""
    entry = info(name)
    if entry.kind == "table":
        raise ValueError(f"{name!r} is a table, not a dataset: use data.load_table({name!r}).")
    if entry.kind != "dataset":
        raise ValueError(
            f"{name!r} is a single image, not a dataset: use data.load_image({name!r})."
        )
    return entry.loader(**options)


def load_table(name: str) -> dict:
    """Load a registered table (a small CSV in ``data/``) as a dict of column name -> list.

    Numeric columns hold floats or ints, the others strings. Lesson 04 added tables.
    """
    entry = info(name)
    if entry.kind != "table":
        raise ValueError(
            f"{name!r} is not a table (it is an {entry.kind}): use "
            f"data.load_{entry.kind}({name!r})."
        )
    return entry.loader()


def _read_csv_columns(path: Path) -> dict:
    """A CSV file with a header row as column name -> list of values (numbers converted).

    In a column of numbers an empty cell (a figure that was not published) becomes None.
    """
    import csv

    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    columns = {key: [row[key] for row in rows] for key in (rows[0] if rows else {})}
    for key, values in columns.items():
        given = [value for value in values if value != ""]
        try:
            numbers = [float(value) for value in given]
        except ValueError:
            continue
        if not numbers:
            continue
        whole = all(n.is_integer() and "." not in v for n, v in zip(numbers, given))
        converted = iter(int(n) if whole else n for n in numbers)
        columns[key] = [next(converted) if value != "" else None for value in values]
    return columns


# --------------------------------------------------------------------------------------------
# 1. Files shipped inside installed packages
# --------------------------------------------------------------------------------------------

_SKIMAGE_PHOTOS = {
    # name: (description, origin, licence) as stated in skimage.data's docstrings.
    "astronaut": (
        "Astronaut Eileen Collins, (512, 512, 3)",
        "NASA Great Images database",
        "public domain",
    ),
    "camera": ("Man with a camera, grayscale (512, 512)", "Lav Varshney", "CC0"),
    "chelsea": ("Chelsea the cat, (300, 451, 3)", "Stefan van der Walt", "CC0"),
    "coffee": ("A cup of coffee, (400, 600, 3)", "Rachel Michetti", "CC0"),
    "coins": (
        "Greek coins from Pompeii, grayscale (303, 384)",
        "Walters Art Museum",
        "no known copyright restrictions",
    ),
    "rocket": ("Launch of DSCOVR on a Falcon 9, (427, 640, 3)", "SpaceX", "public domain"),
    "page": (
        "A scanned page of text, grayscale (191, 384)",
        "scikit-image",
        "no known copyright restrictions",
    ),
    "brick": ("Brick wall texture, grayscale (512, 512)", "CC0Textures (Bricks25)", "CC0"),
    "gravel": ("Gravel texture, grayscale (512, 512)", "CC0Textures (Gravel04)", "CC0"),
    "grass": ("Grass texture, grayscale (512, 512)", "CC0Textures (Grass001)", "CC0"),
}


def _skimage_photo(name):
    def load():
        import skimage.data

        return getattr(skimage.data, name)()

    return load


for _name, (_description, _origin, _licence) in _SKIMAGE_PHOTOS.items():
    _register(
        _name,
        "image",
        "package",
        _description,
        f"{_origin}, shipped with scikit-image (skimage.data.{_name})",
        _licence,
    )(_skimage_photo(_name))


@_register(
    "grace_hopper",
    "image",
    "package",
    "Portrait of Rear Admiral Grace Hopper, (600, 512, 3)",
    "U.S. Navy photograph, shipped with matplotlib (cbook.get_sample_data)",
    "public domain (work of the U.S. federal government)",
)
def load_grace_hopper() -> np.ndarray:
    """Grace Hopper's portrait: (600, 512, 3) uint8 RGB."""
    import matplotlib.cbook
    import matplotlib.image

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as file:
        return np.asarray(matplotlib.image.imread(file, format="jpg"), dtype=np.uint8)


@_register(
    "digits",
    "dataset",
    "package",
    "1797 handwritten digits 0-9, 8x8, gray levels 0-16",
    "UCI ML hand-written digits (optdigits), shipped with scikit-learn (load_digits)",
    "CC BY 4.0",
)
def load_digits() -> Dataset:
    """scikit-learn's digits: images (1797, 8, 8) float64 in [0, 16], labels 0-9."""
    import sklearn.datasets

    bunch = sklearn.datasets.load_digits()
    return Dataset(
        bunch.images,
        bunch.target.astype(np.int64),
        [str(d) for d in range(10)],
        "digits",
        note="scikit-learn's copy of the UCI optdigits test set",
        max_value=16.0,
    )


@_register(
    "lfw_subset",
    "dataset",
    "package",
    "200 grayscale 25x25 crops: 100 faces then 100 non-faces",
    "Labeled Faces in the Wild (UMass Amherst), subset shipped with scikit-image",
    "LFW is published for research use; its images are news photographs",
)
def load_lfw_subset() -> Dataset:
    """Faces vs non-faces: images (200, 25, 25) float64 in [0, 1]; label 1 = face."""
    import skimage.data

    images = skimage.data.lfw_subset()
    labels = np.array([1] * 100 + [0] * 100, dtype=np.int64)
    return Dataset(
        images, labels, ["non-face", "face"], "lfw_subset", note="scikit-image's lfw_subset()"
    )


# --------------------------------------------------------------------------------------------
# 2. Files in the project's data/ folder
# --------------------------------------------------------------------------------------------


def out_of_range_pixels(
    values: np.ndarray, low: int = 0, high: int = 255
) -> list[tuple[int, int, int]]:
    """(row, column, value) of every entry of a 2-D grid outside [low, high], 0-based."""
    values = validation.as_array(values, "values")
    if values.ndim != 2:
        raise ValueError(
            f"values must be a 2-D grid (rows, columns), but it has shape {values.shape}."
        )
    rows, columns = np.nonzero((values < low) | (values > high))
    return [(int(r), int(c), int(values[r, c])) for r, c in zip(rows, columns)]


@_register(
    "lincoln",
    "image",
    "project file",
    "The lecture slide's 16x12 pixel matrix of Abraham Lincoln (gray levels)",
    "data/lincoln.csv, typed from the slide 'What are images?' (see data/README.md)",
    "a factual table reproduced for teaching",
)
def load_lincoln() -> np.ndarray:
    """The slide's Lincoln matrix: (16, 12) int16, exactly as printed on the slide.

    The slide contains one value, 261, that no 8-bit pixel can hold; it is kept (hence
    int16, not uint8) and reported when the file is loaded.
    """
    values = np.loadtxt(PROJECT_DATA_DIR / "lincoln.csv", delimiter=",", dtype=np.int16)
    for row, column, value in out_of_range_pixels(values):
        print(
            f"[data] lincoln: the slide's value {value} at row {row}, column {column} "
            f"(counting from 0) does not fit in an 8-bit pixel (0-255)."
        )
    return values


@_register(
    "imagenet_top5",
    "table",
    "project file",
    "ImageNet (ILSVRC) classification: top-5 error of each year's winner, 2010-2017, "
    "and one human estimate",
    "data/imagenet_top5.csv, from the published ILSVRC results and papers named in its "
    "'source' column (see data/README.md)",
    "published figures (facts) with their citations",
)
def load_imagenet_top5() -> dict:
    """ILSVRC top-5 error by year: columns year, team, model, top5_error_percent, kind, source.

    ``kind`` is "winner" for the challenge winners and "human estimate" for the one human
    annotator measured by Russakovsky et al. (2015).
    """
    return _read_csv_columns(PROJECT_DATA_DIR / "imagenet_top5.csv")


@_register(
    "detection_photos",
    "table",
    "project file",
    "hand-annotated ground-truth boxes (face, eye, person, ...) on astronaut, "
    "grace_hopper, camera and chelsea",
    "data/detection_photos.csv, drawn for this kit; each row names its photo and "
    "annotator in its 'source' column (see data/README.md)",
    "the annotations: CC0; the photos: as their own entries",
)
def load_detection_photos() -> dict:
    """Boxes on real photos (lesson 05): columns image, category, x, y, w, h (pixels, the
    slide's (x, y, w, h)), source."""
    return _read_csv_columns(PROJECT_DATA_DIR / "detection_photos.csv")


@_register(
    "detection_history",
    "table",
    "project file",
    "object-detection milestones 2001-2020, one published paper per row",
    "data/detection_history.csv, each row with its publication in its 'source' column",
    "published facts with their citations",
)
def load_detection_history() -> dict:
    """Detection milestones (lesson 05): columns year, method, kind, contribution, source."""
    return _read_csv_columns(PROJECT_DATA_DIR / "detection_history.csv")


# --------------------------------------------------------------------------------------------
# 3. Deterministic generators
# --------------------------------------------------------------------------------------------


@_register(
    "placed_digits",
    "dataset",
    "generated",
    "scikit-learn's digits pasted at random positions and sizes on a 32x32 canvas",
    "generated by lab_utils.data.load_placed_digits from the 'digits' dataset",
    "as 'digits' (CC BY 4.0)",
)
def load_placed_digits(
    seed: int = 0, canvas: int = 32, min_size: int = 10, max_size: int = 24
) -> Dataset:
    """Digits at random positions and scales: images (1797, canvas, canvas) float32 in [0, 1].

    Each 8x8 digit is resized to a random square size in [min_size, max_size] and pasted at
    a random position on a black canvas. The same ``seed`` gives the same dataset.
    """
    from skimage import transform

    canvas = validation.as_int(canvas, "canvas", minimum=8)
    min_size = validation.as_int(min_size, "min_size", minimum=4, maximum=canvas)
    max_size = validation.as_int(max_size, "max_size", minimum=min_size, maximum=canvas)
    seed = validation.as_seed(seed)
    digits = load_digits()
    rng = np.random.default_rng(seed)
    images = np.zeros((len(digits), canvas, canvas), dtype=np.float32)
    for index, digit in enumerate(digits.images / 16.0):
        size = int(rng.integers(min_size, max_size + 1))
        top, left = rng.integers(0, canvas - size + 1, size=2)
        images[index, top : top + size, left : left + size] = transform.resize(
            digit, (size, size), order=1, anti_aliasing=False
        )
    return Dataset(
        images,
        digits.labels.copy(),
        digits.class_names,
        "placed_digits",
        note=f"generated from scikit-learn's digits with seed={seed}",
    )


@_register(
    "digit_scenes",
    "dataset",
    "generated",
    "detection scenes: 1-3 digits with ground-truth boxes on real texture crops, 64x64",
    "generated by lab_utils.data.generate_scenes from 'digits' and scikit-image's "
    "brick, gravel and grass photos",
    "as 'digits' (CC BY 4.0) and the textures (CC0)",
)
def load_digit_scenes(**options: object) -> Scenes:
    """Detection scenes (lesson 05): a ``Scenes`` with images (N, 64, 64) float32 in [0, 1]
    and, per image, boxes (k, 4) "xywh" pixels and labels (k,). Options such as ``count``
    and ``seed`` go to ``generate_scenes``."""
    return generate_scenes(**options)


@dataclasses.dataclass
class Scenes:
    """Images with a variable number of labelled boxes each.

    Attributes
    ----------
    images : ndarray (N, H, W) float32 in [0, 1]
    boxes : list of N arrays (k_i, 4) float64, "xywh" pixels (tight around the digit's ink)
    labels : list of N arrays (k_i,) int64 class indices
    class_names : list of str
    name, note : str
    """

    images: np.ndarray
    boxes: list
    labels: list
    class_names: list
    name: str = "digit_scenes"
    note: str = ""

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: slice | range | list[int]) -> Scenes:
        """The scenes at ``indices`` (a slice, a range or a list of ints)."""
        if isinstance(indices, slice):
            indices = range(*indices.indices(len(self)))
        indices = [validation.as_int(i, "index", minimum=0, maximum=len(self) - 1) for i in indices]
        return Scenes(
            self.images[indices],
            [self.boxes[i] for i in indices],
            [self.labels[i] for i in indices],
            self.class_names,
            self.name,
            self.note,
        )

    def object_count(self) -> int:
        """Total number of boxes over all the scenes."""
        return int(sum(len(b) for b in self.labels))


TEXTURES = ("brick", "gravel", "grass")


def generate_scenes(
    count: int = 800,
    *,
    size: int = 64,
    max_objects: int = 3,
    min_digit: int = 14,
    max_digit: int = 22,
    contrast: float = 0.45,
    seed: int = 0,
) -> Scenes:
    """Deterministic scenes: 1 to ``max_objects`` digits on crops of real textures.

    Each scene is a random ``size`` x ``size`` crop of scikit-image's brick, gravel or grass
    photo, scaled to gray levels [0, ``contrast``]. Digits from scikit-learn (8x8) are
    enlarged to a random side in [min_digit, max_digit] and pasted with ``maximum`` (bright
    ink over the texture) at random positions where they do not overlap another digit.
    The ground-truth box is tight around the pasted digit's ink (pixels > 0.25).
    The same arguments always give the same scenes.
    """
    import cv2
    import skimage.data

    count = validation.as_int(count, "count", minimum=1, maximum=100_000)
    size = validation.as_int(size, "size", minimum=16, maximum=512)
    max_objects = validation.as_int(max_objects, "max_objects", minimum=1, maximum=20)
    max_digit = validation.as_int(max_digit, "max_digit", minimum=4, maximum=size)
    min_digit = validation.as_int(min_digit, "min_digit", minimum=4, maximum=max_digit)
    contrast = validation.as_float(contrast, "contrast", minimum=0.0, maximum=0.9)
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    rng = np.random.default_rng(seed)
    textures = [getattr(skimage.data, name)().astype(np.float32) / 255.0 for name in TEXTURES]
    digits = load_digits()
    digit_images = (digits.images / 16.0).astype(np.float32)
    images = np.zeros((count, size, size), dtype=np.float32)
    all_boxes, all_labels = [], []
    for index in range(count):
        texture = textures[int(rng.integers(len(textures)))]
        top, left = rng.integers(0, texture.shape[0] - size + 1, size=2)
        scene = texture[top : top + size, left : left + size] * contrast
        occupied: list[tuple[int, int, int]] = []
        boxes, labels = [], []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            for _attempt in range(30):
                side = int(rng.integers(min_digit, max_digit + 1))
                y, x = (int(v) for v in rng.integers(0, size - side + 1, size=2))
                if all(
                    x + side <= ox or ox + oside <= x or y + side <= oy or oy + oside <= y
                    for ox, oy, oside in occupied
                ):
                    break
            else:
                continue  # no free place left: fewer digits in this scene
            choice = int(rng.integers(len(digit_images)))
            ink = np.clip(
                cv2.resize(digit_images[choice], (side, side), interpolation=cv2.INTER_LINEAR),
                0.0,
                1.0,
            )
            scene[y : y + side, x : x + side] = np.maximum(scene[y : y + side, x : x + side], ink)
            rows, columns = np.nonzero(ink > 0.25)
            boxes.append(
                [
                    x + columns.min(),
                    y + rows.min(),
                    columns.max() - columns.min() + 1,
                    rows.max() - rows.min() + 1,
                ]
            )
            labels.append(int(digits.labels[choice]))
            occupied.append((x, y, side))
        images[index] = scene
        all_boxes.append(np.array(boxes, dtype=np.float64).reshape(-1, 4))
        all_labels.append(np.array(labels, dtype=np.int64))
    return Scenes(
        images,
        all_boxes,
        all_labels,
        [str(d) for d in range(10)],
        "digit_scenes",
        note=f"generated: {count} scenes {size}x{size}, 1-{max_objects} digits of "
        f"{min_digit}-{max_digit} px on scikit-image textures, seed={seed}",
    )


# --------------------------------------------------------------------------------------------
# 4. Downloads into a sha256-verified cache
# --------------------------------------------------------------------------------------------


class DownloadError(RuntimeError):
    """A file could not be downloaded or did not match its checksum."""


def cache_dir() -> Path:
    """The download cache: ``$LAB_UTILS_CACHE`` if set, else ``~/.cache/lab_utils``."""
    folder = Path(os.environ.get("LAB_UTILS_CACHE") or Path.home() / ".cache" / "lab_utils")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shared_dir() -> Path | None:
    """The read-only shared folder (``$LAB_UTILS_SHARED``), or None when unset or missing.

    A course fills it once (``python -m lab_utils.prepare --shared DIR``) and every kernel of
    a lab machine or hub reads it before its own cache: the downloaded data files and, in
    ``trained/``, the trained weights (``models.fit``). The kit never writes there.
    """
    value = os.environ.get("LAB_UTILS_SHARED", "").strip()
    if not value:
        return None
    folder = Path(value).expanduser()
    return folder if folder.is_dir() else None


def offline() -> bool:
    """True when ``LAB_UTILS_OFFLINE`` asks the kit not to try any download."""
    return os.environ.get("LAB_UTILS_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def sha256_of(path: Path) -> str:
    """The sha256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def set_aside(path: Path, suffix: str = ".damaged") -> Path:
    """Rename a damaged cache file to ``<name><suffix>`` and return the new path.

    The file is kept for a look but never read again; the caller computes or fetches a new one.
    Used by every cache of the kit: data files, trained weights, dlib descriptors.
    """
    aside = path.with_name(path.name + suffix)
    path.replace(aside)
    return aside


def verified_cached_file(filename: str, sha256: str) -> Path | None:
    """The cached file if it exists and matches ``sha256``; a mismatching file is set aside."""
    path = cache_dir() / filename
    if not path.exists():
        return None
    actual = sha256_of(path)
    if actual == sha256:
        return path
    corrupt = set_aside(path, ".corrupt")
    print(
        f"[data] {path} is corrupted (sha256 {actual[:12]}... instead of {sha256[:12]}...); "
        f"it was moved to {corrupt.name} and will not be used."
    )
    return None


def verified_shared_file(filename: str, sha256: str) -> Path | None:
    """The shared folder's copy of ``filename`` if it matches ``sha256``, else None.

    A damaged shared file is reported and left where it is (the shared folder is read-only
    for everyone but the instructor), so the personal cache or a download is used instead.
    """
    folder = shared_dir()
    if folder is None or not (folder / filename).is_file():
        return None
    path = folder / filename
    try:
        actual = sha256_of(path)
    except OSError as error:
        print(f"[data] the shared copy {path} cannot be read ({error}); using your own cache.")
        return None
    if actual == sha256:
        return path
    print(
        f"[data] the shared copy {path} is damaged (sha256 {actual[:12]}... instead of "
        f"{sha256[:12]}...); it is not used (tell your instructor) and your own cache is "
        f"used instead."
    )
    return None


def find_data_file(filename: str, sha256: str) -> Path | None:
    """A verified copy of ``filename``: the shared folder's first, then the personal cache's.

    Returns None when neither has a good copy (then download it, or use a substitute).
    """
    return verified_shared_file(filename, sha256) or verified_cached_file(filename, sha256)


@dataclasses.dataclass(frozen=True)
class DataFile:
    """A registered dataset's downloadable file: its name in the cache, checksum and source."""

    filename: str
    sha256: str
    obtained: str  # where a course finds the file, for --add-data's message


def add_data_file(name: str, source: str | Path, folder: str | Path | None = None) -> Path:
    """Put a file obtained elsewhere into the cache (or ``folder``) after checking it.

    This is how a course provides a download-only dataset without internet:
    ``python -m lab_utils.prepare --add-data olivetti_faces olivetti_py3.pkz``.

    Parameters
    ----------
    name : str
        A registered dataset whose file is downloaded (``DATA_FILES``), e.g. "olivetti_faces".
    source : path
        The file to add; its sha256 must be the registered one.
    folder : path, optional
        Where to put it (default ``cache_dir()``; ``prepare --shared DIR`` passes DIR).

    Returns
    -------
    Path of the copy, written under a temporary name and renamed into place.
    """
    if name not in DATA_FILES:
        raise ValueError(
            f"{name!r} has no downloadable file to add; choose one of {sorted(DATA_FILES)}."
        )
    entry = DATA_FILES[name]
    source = Path(source).expanduser()
    if not source.is_file():
        raise FileNotFoundError(f"there is no file at {source}: {entry.obtained}.")
    actual = sha256_of(source)
    if actual != entry.sha256:
        raise ValueError(
            f"{source} is not the expected file for {name!r}: its sha256 is {actual}, "
            f"expected {entry.sha256} ({entry.obtained})."
        )
    target_folder = Path(folder) if folder is not None else cache_dir()
    target_folder.mkdir(parents=True, exist_ok=True)
    target = target_folder / entry.filename
    with tempfile.NamedTemporaryFile(dir=target_folder, delete=False) as temporary:
        with open(source, "rb") as file:
            shutil.copyfileobj(file, temporary)
    os.chmod(temporary.name, 0o644)  # readable by every user of a shared folder
    Path(temporary.name).replace(target)
    return target


def fetch_file(url: str, filename: str, sha256: str, timeout: float = 30.0) -> Path:
    """Return a verified copy of ``url``: the shared folder's, the cache's, or a new download.

    The download goes to a temporary file that is moved into the personal cache only when its
    sha256 matches, so an interrupted or altered download never reaches the cache.

    Raises
    ------
    DownloadError
        When offline, when the download fails, or when the checksum does not match.
    """
    cached = find_data_file(filename, sha256)
    if cached is not None:
        return cached
    if offline():
        raise DownloadError(f"{filename} is not in the cache and LAB_UTILS_OFFLINE is set.")
    import urllib.request  # only needed for a real download; keeps `import lab_utils` fast

    target = cache_dir() / filename
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as temporary:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, temporary)
        except OSError as error:  # URLError, timeouts and refused connections are OSErrors
            Path(temporary.name).unlink(missing_ok=True)
            raise DownloadError(f"could not download {url}: {error}") from error
    actual = sha256_of(Path(temporary.name))
    if actual != sha256:
        Path(temporary.name).unlink(missing_ok=True)
        raise DownloadError(f"the download of {url} has sha256 {actual}, expected {sha256}.")
    Path(temporary.name).replace(target)
    return target


OLIVETTI_FILE = "olivetti_py3.pkz"  # scikit-learn's own cache file name for these faces
OLIVETTI_SHA256 = "9dbc94bfe9fb4524eb42864d1c91bdf11f6752627cef8a1282a68c44d467dd36"

#: Registered datasets that come as one downloaded file (``add_data_file``, ``prepare``).
DATA_FILES = {
    "olivetti_faces": DataFile(
        OLIVETTI_FILE,
        OLIVETTI_SHA256,
        "scikit-learn's cache file olivetti_py3.pkz, e.g. ~/scikit_learn_data/olivetti_py3.pkz "
        "on any machine that ran sklearn.datasets.fetch_olivetti_faces()",
    ),
}


@_register(
    "olivetti_faces",
    "dataset",
    "download",
    "400 grayscale 64x64 faces of 40 people, 10 each",
    "AT&T Laboratories Cambridge, downloaded by sklearn.datasets.fetch_olivetti_faces",
    "free for research and teaching with acknowledgement of AT&T Laboratories Cambridge",
)
def load_olivetti_faces(seed: int = 0) -> Dataset:
    """Olivetti faces: images (400, 64, 64) float32 in [0, 1], labels = person 0-39.

    The file is scikit-learn's cache file (``olivetti_py3.pkz``), checked against its sha256
    before use and looked for in this order: the shared folder (``LAB_UTILS_SHARED``), the
    personal cache (``cache_dir()``), a download into the personal cache. A course without
    internet provides it with ``python -m lab_utils.prepare --add-data olivetti_faces FILE``
    (or ``--shared DIR`` for everyone). When none of these works, a substitute is returned:
    40 faces from scikit-image's ``lfw_subset``, each turned into 10 "photos" by small random
    shifts, rotations and lighting changes (``seed`` fixes them), labelled as a substitute
    (``Dataset.substitute`` is True, ``note`` says why).
    """
    seed = validation.as_seed(seed)
    found = find_data_file(OLIVETTI_FILE, OLIVETTI_SHA256)
    try:
        if found is not None:
            return _olivetti_from(found.parent, download=False)
        if not offline():
            return _olivetti_from(cache_dir(), download=True)
        reason = "LAB_UTILS_OFFLINE is set and the file is in neither folder"
    except (OSError, ValueError, DownloadError) as error:
        reason = f"the file could not be read or downloaded ({error})"
    note = (
        f"SUBSTITUTE for the Olivetti faces: {reason} (shared folder: "
        f"{shared_dir() or 'LAB_UTILS_SHARED not set'}; cache: {cache_dir()}). These are 40 "
        f"LFW faces, each shown 10 times with small random shifts, rotations and lighting "
        f"changes. To use the real faces: python -m lab_utils.prepare --add-data "
        f"olivetti_faces olivetti_py3.pkz"
    )
    print(f"[data] {note}")
    images, labels = _augmented_faces(seed=seed)
    return Dataset(
        images,
        labels,
        [f"person {k}" for k in range(40)],
        "olivetti_faces",
        substitute=True,
        note=note,
    )


def _olivetti_from(folder: Path, download: bool) -> Dataset:
    """scikit-learn's reader on ``folder`` (which holds, or will hold, the verified file)."""
    import sklearn.datasets

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # scikit-learn warns on every retry
        bunch = sklearn.datasets.fetch_olivetti_faces(
            data_home=folder, shuffle=False, download_if_missing=download, n_retries=1, delay=0.5
        )
    if download and verified_cached_file(OLIVETTI_FILE, OLIVETTI_SHA256) is None:
        raise DownloadError("the downloaded file failed its sha256 check")
    return Dataset(
        bunch.images.astype(np.float32),
        bunch.target.astype(np.int64),
        [f"person {k}" for k in range(40)],
        "olivetti_faces",
        note=f"Olivetti faces from {folder / OLIVETTI_FILE}",
    )


def _augmented_faces(seed: int, people: int = 40, views: int = 10, size: int = 64):
    """``people`` LFW faces, ``views`` perturbed copies each: (people*views, size, size) float32."""
    import skimage.data
    from skimage import transform

    rng = np.random.default_rng(seed)
    faces = skimage.data.lfw_subset()[:people]
    images, labels = [], []
    for person, face in enumerate(faces):
        face = transform.resize(face, (size, size), anti_aliasing=True)
        for _ in range(views):
            warp = transform.SimilarityTransform(
                rotation=np.deg2rad(rng.uniform(-8, 8)), translation=rng.uniform(-3, 3, 2)
            )
            view = transform.warp(face, warp.inverse, mode="edge")
            view = np.clip(view * rng.uniform(0.8, 1.2) + rng.uniform(-0.08, 0.08), 0, 1)
            images.append(view.astype(np.float32))
            labels.append(person)
    return np.stack(images), np.array(labels, dtype=np.int64)
