"""Lesson 01 "Pixels": images are arrays of numbers, and why they are hard to analyse.

Compute functions (pure, tested), the lesson's two widget builders, the perturbations that
lesson 04 reuses for its robustness sweep, and the checks of the lesson's exercises.
"""

from __future__ import annotations

import html

import numpy as np

from lab_utils import exercises, validation, widgets

# --------------------------------------------------------------------------------------------
# Reading the numbers: the pixel-grid explorer
# --------------------------------------------------------------------------------------------


def zoom_region(image, row: int, column: int, size: int) -> np.ndarray:
    """The ``size`` x ``size`` block of ``image`` whose top-left pixel is (row, column).

    The block is moved back inside the image when it would stick out, so the result always
    has ``size`` rows and columns (fewer only if the image itself is smaller).

    Returns
    -------
    ndarray, shape (size, size) or (size, size, 3), same dtype as ``image``
    """
    image = validation.as_image(image, "image")
    size = validation.as_int(size, "size", minimum=1, maximum=64)
    row = validation.as_int(row, "row", minimum=0, maximum=image.shape[0] - 1)
    column = validation.as_int(column, "column", minimum=0, maximum=image.shape[1] - 1)
    row = min(row, max(image.shape[0] - size, 0))
    column = min(column, max(image.shape[1] - size, 0))
    return image[row:row + size, column:column + size]


def pixel_table_html(block, top: int | None = None, left: int | None = None) -> str:
    """An HTML table with one cell per pixel, painted in the pixel's colour, showing its numbers.

    Parameters
    ----------
    block : ndarray, shape (h, w) or (h, w, 3), uint8
        At most 24 x 24 pixels (a bigger table is unreadable).
    top, left : int, optional
        Where the block lies in its image: the table then gets a header row of column numbers
        and a first column of row numbers (the image coordinates of each pixel).
    """
    block = validation.as_image(block, "block")
    if block.dtype != np.uint8:
        raise TypeError(f"block must be uint8 (0-255) so that each cell shows whole numbers, "
                        f"but its dtype is {block.dtype}. Use widgets.to_uint8(block).")
    if block.shape[0] > 24 or block.shape[1] > 24:
        raise ValueError(f"block must be at most 24x24 pixels, but it is "
                         f"{block.shape[0]}x{block.shape[1]}.")
    if (top is None) != (left is None):
        raise TypeError("give both top and left (the block's position), or neither.")
    coordinates = top is not None
    if coordinates:
        top = validation.as_int(top, "top", minimum=0)
        left = validation.as_int(left, "left", minimum=0)
    rgb = block if block.ndim == 3 else np.stack([block] * 3, axis=-1)
    # Shared styles once, in a class (a 16x16 RGB table is 3 times smaller than with the
    # same declarations repeated in every cell: less to send and parse at each update).
    height = "2.2em" if block.ndim == 2 else "3.6em"
    rows = [f"<style>.lab-pixels td{{width:2.6em;height:{height};text-align:center;"
            f"font:10px monospace;padding:0}} .lab-pixels th{{font:bold 10px monospace;"
            f"color:#555;padding:0 3px;text-align:right}}</style>"]
    if coordinates:
        rows.append('<tr><th>row\\col</th>' + "".join(
            f'<th style="text-align:center">{left + c}</th>' for c in range(block.shape[1]))
            + "</tr>")
    for r in range(block.shape[0]):
        cells = [f"<th>{top + r}</th>"] if coordinates else []
        for c in range(block.shape[1]):
            red, green, blue = (int(v) for v in rgb[r, c])
            text = (f"{block[r, c]}" if block.ndim == 2
                    else f"{red}<br>{green}<br>{blue}")
            ink = "#000" if 0.2125 * red + 0.7154 * green + 0.0721 * blue > 128 else "#fff"
            cells.append(f'<td style="background:rgb({red},{green},{blue});color:{ink}">'
                         f'{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return ('<table class="lab-pixels" style="border-collapse:collapse;table-layout:fixed">'
            + "".join(rows) + "</table>")


def _shrink(image: np.ndarray, width: int) -> np.ndarray:
    """``image`` (uint8) resized to ``width`` columns (area averaging; never enlarged)."""
    if image.shape[1] <= width:
        return image
    from PIL import Image
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BOX))


def _draw_frame(framed: np.ndarray, top: int, left: int, bottom: int, right: int,
                thickness: int) -> None:
    """Draw a red frame of ``thickness`` pixels around rows top:bottom, columns left:right,
    edged in white so that it shows on dark and on red pictures (in place)."""
    height, width = framed.shape[:2]
    for colour, grow in (([255, 255, 255], thickness + 1), ([255, 0, 0], thickness)):
        t, b = max(top - grow, 0), min(bottom + grow, height)
        l, r = max(left - grow, 0), min(right + grow, width)
        colour = np.array(colour, dtype=np.uint8)
        framed[t:top, l:r] = colour
        framed[bottom:b, l:r] = colour
        framed[t:b, l:left] = colour
        framed[t:b, right:r] = colour


def locate_region(image, row: int, column: int, size: int, *,
                  display_width: int | None = None) -> np.ndarray:
    """A uint8 RGB copy of ``image`` with a red frame around the zoomed block (the overview).

    With ``display_width`` the copy is first shrunk to that many columns (what the widget
    shows) and the frame is drawn at that scale: 2-3 pixels thick, around at least 9x9
    pixels, so a 2x2 block in a large photo is still easy to find.
    """
    image = widgets.to_uint8(validation.as_image(image, "image"))
    block = zoom_region(image, row, column, size)
    top = min(row, image.shape[0] - block.shape[0])
    left = min(column, image.shape[1] - block.shape[1])
    bottom, right = top + block.shape[0], left + block.shape[1]
    framed = image if image.ndim == 3 else np.stack([image] * 3, axis=-1)
    if display_width is None:
        framed = framed.copy()
        _draw_frame(framed, top, left, bottom, right, max(1, max(image.shape[:2]) // 150))
        return framed
    display_width = validation.as_int(display_width, "display_width", minimum=16,
                                      maximum=4096)
    return _framed_display(_shrink(framed, display_width), image.shape, top, left,
                           bottom - top)


def _framed_display(display: np.ndarray, shape: tuple, top: int, left: int,
                    size: int) -> np.ndarray:
    """A copy of ``display`` (an RGB image of ``shape``, shrunk) with the block framed."""
    framed = display.copy()
    scale = framed.shape[1] / shape[1]
    centre_r, centre_c = (top + size / 2) * scale, (left + size / 2) * scale
    half = max(size * scale, 9) / 2
    _draw_frame(framed, int(round(centre_r - half)), int(round(centre_c - half)),
                int(round(centre_r + half)), int(round(centre_c + half)),
                2 if framed.shape[1] < 600 else 3)
    return framed


OVERVIEW_WIDTH = 360     # pixels: the width the pixel explorer shows a photo at


def pixel_explorer(photos: dict, size: int = 10) -> widgets.Interactive:
    """Widget: choose a photo, move a zoom window over it and read the pixel values.

    Parameters
    ----------
    photos : dict of str -> ndarray
        Name -> image ((H, W) or (H, W, 3), uint8).
    size : int
        Initial side of the zoom window in pixels (2-16).
    """
    import ipywidgets
    if not isinstance(photos, dict) or not photos:
        raise TypeError("photos must be a non-empty dict mapping a name to an image, "
                        "e.g. {'coffee': data.load_image('coffee')}.")
    for name in photos:
        if not isinstance(name, str):
            raise TypeError(f"photos must map a name (a string) to an image, but one key is "
                            f"{validation.describe(name)} ({name!r}).")
    photos = {name: widgets.to_uint8(validation.as_image(image, f"photos[{name!r}]"))
              for name, image in photos.items()}
    first = next(iter(photos.values()))
    controls = {
        "photo": ipywidgets.Dropdown(options=list(photos), description="photo"),
        "row": ipywidgets.IntSlider(0, 0, first.shape[0] - 1, description="row"),
        "column": ipywidgets.IntSlider(0, 0, first.shape[1] - 1, description="column"),
        "size": ipywidgets.IntSlider(validation.as_int(size, "size", minimum=2, maximum=16),
                                     2, 16, description="block size"),
    }
    overview = ipywidgets.Image(format="jpeg", width=OVERVIEW_WIDTH)
    table = ipywidgets.HTML()
    caption = ipywidgets.HTML()
    # Each photo shrunk once to the width it is shown at: an update then frames and encodes
    # a 360-pixel-wide picture (about 1 ms) instead of the full photo.
    shrunk = {name: _shrink(image if image.ndim == 3 else np.stack([image] * 3, axis=-1),
                            OVERVIEW_WIDTH) for name, image in photos.items()}

    def render(values):
        image = photos[values["photo"]]
        size = values["size"]
        # Row and column are the block's top-left pixel, so their largest value is the photo's
        # side minus the block's: the sliders then always show the block's real position.
        # The maxima are set at the end; lowering one can move a slider, which renders again
        # with the moved value: the same block, so nothing new is sent.
        block = zoom_region(image, values["row"], values["column"], size)
        top = min(values["row"], image.shape[0] - block.shape[0])
        left = min(values["column"], image.shape[1] - block.shape[1])
        overview.value = widgets.encode(_framed_display(shrunk[values["photo"]], image.shape,
                                                        top, left, block.shape[0]))
        table.value = pixel_table_html(block, top, left)
        kind = "RGB: red, green, blue per pixel" if image.ndim == 3 else "grayscale"
        caption.value = (f"{html.escape(values['photo'])}: shape {image.shape}, dtype "
                         f"{image.dtype}, {kind}. The red frame on the left marks the "
                         f"{block.shape[0]}x{block.shape[1]} block shown in the table: rows "
                         f"{top}-{top + block.shape[0] - 1}, columns "
                         f"{left}-{left + block.shape[1] - 1}.")
        # Last, so the new pixels are sent first (a slider's new range is not urgent).
        controls["row"].max = max(image.shape[0] - size, 0)
        controls["column"].max = max(image.shape[1] - size, 0)
        return {"block": block, "top": top, "left": left}

    layout = ipywidgets.VBox([ipywidgets.HBox([controls["photo"], controls["size"]]),
                              ipywidgets.HBox([controls["row"], controls["column"]]),
                              caption, ipywidgets.HBox([overview, table])])
    return widgets.Interactive(controls, render, layout)


# --------------------------------------------------------------------------------------------
# Why images are hard: the slide's variations applied to a real photo
# --------------------------------------------------------------------------------------------

VARIATIONS = ("viewpoint", "scale", "deformation", "occlusion", "illumination", "clutter",
              "intra-class")


def apply_variation(image, variation: str, strength: float, *, clutter=None,
                    class_examples=None) -> np.ndarray:
    """Apply one of the slide's sources of variation to a photo.

    Parameters
    ----------
    image : ndarray, (H, W) or (H, W, 3), uint8 or float in [0, 1]
    variation : str
        One of ``VARIATIONS``.
    strength : float in [0, 1]
        0 leaves the image unchanged; 1 is the strongest version.
    clutter : ndarray, optional
        A busy texture (grayscale or RGB) blended into the background for "clutter".
    class_examples : list of ndarray, optional
        Other members of the same class (e.g. other faces) for "intra-class"; ``strength``
        picks which one.

    Returns
    -------
    ndarray, same shape as ``image``, uint8
    """
    from skimage import transform
    image = validation.as_image(image, "image")
    validation.one_of(variation, "variation", VARIATIONS)
    strength = validation.as_float(strength, "strength", minimum=0.0, maximum=1.0)
    picture = widgets.to_uint8(image).astype(np.float64) / 255.0
    height, width = picture.shape[:2]
    if variation == "viewpoint":
        # Turning the object away: its right side recedes (a perspective warp).
        shrink, squeeze = 0.35 * strength * height, 0.25 * strength * width
        corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=float)
        moved = np.array([[0, 0], [width - squeeze, shrink], [width - squeeze, height - shrink],
                          [0, height]], dtype=float)
        warp = transform.ProjectiveTransform.from_estimate(moved, corners)
        result = transform.warp(picture, warp, mode="constant", cval=0.0)
    elif variation == "scale":
        factor = 1.0 - 0.75 * strength
        centre = np.array([width / 2, height / 2])
        warp = transform.SimilarityTransform(scale=factor, translation=centre * (1 - factor))
        result = transform.warp(picture, warp.inverse, mode="constant", cval=0.0)
    elif variation == "deformation":
        rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
        amplitude = 0.05 * strength * min(height, width)
        rows = rows + amplitude * np.sin(2 * np.pi * columns / (width / 2))
        columns = columns + amplitude * np.sin(2 * np.pi * rows / (height / 1.5))
        coordinates = np.array([rows, columns])
        if picture.ndim == 2:
            result = transform.warp(picture, coordinates, mode="edge")
        else:
            result = np.stack([transform.warp(picture[..., channel], coordinates, mode="edge")
                               for channel in range(3)], axis=-1)
    elif variation == "occlusion":
        result = picture.copy()
        side = int(round(0.6 * strength * min(height, width)))
        top, left = height // 3 - side // 2, width // 2 - side // 2
        result[max(top, 0):max(top, 0) + side, max(left, 0):max(left, 0) + side] = 0.5
    elif variation == "illumination":
        # Light from the left: a brightness ramp plus a gamma change.
        ramp = np.linspace(1.0, 1.0 - 0.9 * strength, width)[None, :]
        result = (picture ** (1.0 + 1.5 * strength)) * (ramp if picture.ndim == 2
                                                         else ramp[..., None])
    elif variation == "clutter":
        if clutter is None:
            raise ValueError("the 'clutter' variation needs a texture: pass clutter=<image>, "
                             "e.g. clutter=data.load_image('gravel').")
        texture = transform.resize(widgets.to_uint8(validation.as_image(clutter, "clutter"))
                                   / 255.0, (height, width), anti_aliasing=True)
        texture = _match_channels(texture, picture)
        rows, columns = np.mgrid[0:height, 0:width]
        inside = ((rows - height * 0.45) / (0.42 * height)) ** 2 + (
            (columns - width / 2) / (0.36 * width)) ** 2 <= 1
        mix = np.where(inside, 0.0, strength)
        if picture.ndim == 3:
            mix = mix[..., None]
        result = (1 - mix) * picture + mix * texture
    else:  # intra-class
        if class_examples is not None and not isinstance(class_examples, (list, tuple)):
            raise TypeError(f"class_examples must be a list of images, but got "
                            f"{validation.describe(class_examples)}; wrap one image in a "
                            f"list: class_examples=[image].")
        if not class_examples:
            raise ValueError("the 'intra-class' variation needs other members of the class: "
                             "pass class_examples=[image, ...].")
        if strength == 0:
            result = picture
        else:
            index = int(round(strength * (len(class_examples) - 1)))
            other = widgets.to_uint8(validation.as_image(
                class_examples[index], f"class_examples[{index}]")) / 255.0
            result = _match_channels(transform.resize(other, (height, width),
                                                      anti_aliasing=True), picture)
    return np.round(np.clip(result, 0.0, 1.0) * 255).astype(np.uint8)


def _match_channels(image, like):
    """Give ``image`` the same channel layout (gray or RGB) as ``like``."""
    if like.ndim == 3 and image.ndim == 2:
        return np.stack([image] * 3, axis=-1)
    if like.ndim == 2 and image.ndim == 3:
        return image @ np.array([0.2125, 0.7154, 0.0721])
    return image


def variation_explorer(photo, *, clutter, class_examples) -> widgets.Interactive:
    """Widget: pick a variation from the slide and its strength; see the photo change.

    Parameters
    ----------
    photo : ndarray, (H, W, 3) or (H, W)
        The photo to vary (keep it small, about 256 pixels, for fast updates).
    clutter : ndarray
        Texture for the "clutter" variation.
    class_examples : list of ndarray
        Other members of the photo's class for "intra-class".
    """
    import ipywidgets
    photo = widgets.to_uint8(validation.as_image(photo, "photo"))
    # Both are needed by one of the toggle buttons: checked now, not when a student clicks.
    if clutter is None:
        raise TypeError("clutter must be an image (a busy texture for the 'clutter' "
                        "variation), e.g. clutter=data.load_image('gravel'), but got None.")
    clutter = validation.as_image(clutter, "clutter")
    if not isinstance(class_examples, (list, tuple)) or not class_examples:
        raise TypeError(f"class_examples must be a non-empty list of images (other members of "
                        f"the photo's class, for 'intra-class'), but got "
                        f"{validation.describe(class_examples)}.")
    class_examples = [validation.as_image(example, f"class_examples[{index}]")
                      for index, example in enumerate(class_examples)]
    controls = {
        "variation": ipywidgets.ToggleButtons(options=list(VARIATIONS), description="variation"),
        "strength": ipywidgets.FloatSlider(0.5, min=0.0, max=1.0, step=0.05,
                                           description="strength"),
    }
    before, after = ipywidgets.Image(format="jpeg"), ipywidgets.Image(format="jpeg")
    before.value = widgets.encode(photo)
    report = ipywidgets.HTML()

    def render(values):
        varied = apply_variation(photo, values["variation"], values["strength"],
                                 clutter=clutter, class_examples=class_examples)
        after.value = widgets.encode(varied)
        distance = float(np.linalg.norm(varied.astype(float) - photo.astype(float)) / 255)
        report.value = (f"Pixel distance to the original: <b>{distance:.1f}</b> "
                        f"(the same object, yet the numbers change a lot)")
        return {"image": varied, "distance": distance}

    layout = ipywidgets.VBox([controls["variation"], controls["strength"], report,
                              ipywidgets.HBox([widgets.labelled(before, "original"),
                                               widgets.labelled(after, "varied")])])
    return widgets.Interactive(controls, render, layout)


# --------------------------------------------------------------------------------------------
# Measured: nearest neighbour in pixel space under shift, scale and occlusion
# --------------------------------------------------------------------------------------------

PERTURBATIONS = ("shift", "scale", "rotation", "occlusion", "noise")


def perturb(images, perturbation: str, strength: float, seed: int = 0) -> np.ndarray:
    """Perturb a batch of grayscale images, each in a random direction/position.

    Parameters
    ----------
    images : ndarray, shape (N, H, W), float in [0, 1]
    perturbation : str
        "shift" (strength = pixels), "scale" (strength = zoom factor, 1 = unchanged),
        "rotation" (degrees), "occlusion" (side of a black square as a fraction of the image
        side) or "noise" (standard deviation of Gaussian noise).
    seed : int
        Fixes the random directions and positions.

    Returns
    -------
    ndarray, shape (N, H, W), float32 in [0, 1]
    """
    from scipy import ndimage
    images = validation.as_array(images, "images")
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, height, width), but it has shape "
                         f"{images.shape}.")
    if not np.issubdtype(images.dtype, np.floating) or images.min() < 0 or images.max() > 1:
        raise ValueError("images must be floats in [0, 1]; divide gray levels by their "
                         "maximum first (digits: images / 16).")
    validation.one_of(perturbation, "perturbation", PERTURBATIONS)
    strength = validation.as_float(strength, "strength", minimum=0.0)
    if perturbation == "occlusion" and strength > 1:
        raise ValueError(f"an occlusion strength is the side of the black square as a fraction "
                         f"of the image side, in [0, 1], but got {strength:g}.")
    rng = np.random.default_rng(validation.as_seed(seed))
    count, height, width = images.shape
    out = np.empty(images.shape, dtype=np.float32)
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    for index, image in enumerate(images):
        if perturbation == "shift":
            angle = rng.uniform(0, 2 * np.pi)
            offset = strength * np.array([np.sin(angle), np.cos(angle)])
            out[index] = ndimage.shift(image, offset, order=1, cval=0.0)
        elif perturbation in ("scale", "rotation"):
            if perturbation == "scale":
                if strength == 0:
                    raise ValueError("a scale factor of 0 would shrink the image to nothing.")
                matrix = np.eye(2) / strength
            else:
                theta = np.deg2rad(strength * rng.choice([-1, 1]))
                matrix = np.array([[np.cos(theta), -np.sin(theta)],
                                   [np.sin(theta), np.cos(theta)]])
            out[index] = ndimage.affine_transform(image, matrix,
                                                  offset=centre - matrix @ centre,
                                                  order=1, cval=0.0)
        elif perturbation == "occlusion":
            side = int(round(strength * min(height, width)))
            top = rng.integers(0, height - side + 1)
            left = rng.integers(0, width - side + 1)
            out[index] = image
            out[index, top:top + side, left:left + side] = 0.0
        else:
            out[index] = image + rng.normal(0.0, strength, image.shape)
    return np.clip(out, 0.0, 1.0)


def nearest_neighbour_sweep(images, labels, strengths: dict, seed: int = 0) -> dict:
    """Accuracy of 1-nearest-neighbour in pixel space as test images are perturbed.

    The first half of the (shuffled) data is the reference set, kept clean; the second half
    is perturbed with each strength in turn and classified by its nearest reference image.

    Parameters
    ----------
    images : ndarray, (N, H, W), float in [0, 1]
    labels : ndarray, (N,)
    strengths : dict of perturbation name -> list of strengths

    Returns
    -------
    dict of perturbation name -> list of accuracies (fractions in [0, 1])
    """
    from sklearn.neighbors import KNeighborsClassifier
    images = validation.as_array(images, "images")
    labels = validation.as_array(labels, "labels")
    if not isinstance(strengths, dict) or not strengths:
        raise TypeError(f"strengths must be a dict of perturbation name -> list of strengths, "
                        f"e.g. {{'shift': [0, 1, 2]}}, but got {validation.describe(strengths)}.")
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ValueError(f"images must be (N, H, W) with one label each; got images "
                         f"{images.shape} and labels {labels.shape}.")
    if len(images) < 2:
        raise ValueError(f"nearest_neighbour_sweep needs at least 2 images (half are the "
                         f"references, half are perturbed), but got {len(images)}.")
    for perturbation, values in strengths.items():
        validation.one_of(perturbation, "a key of strengths", PERTURBATIONS)
        if not isinstance(values, (list, tuple, np.ndarray)) or len(values) == 0:
            raise TypeError(f"strengths[{perturbation!r}] must be a non-empty list of "
                            f"strengths, e.g. [0, 1, 2], but got {validation.describe(values)}.")
    seed = validation.as_seed(seed)
    order = np.random.default_rng(seed).permutation(len(images))   # seed checked above
    half = len(images) // 2
    train, test = order[:half], order[half:]
    classifier = KNeighborsClassifier(n_neighbors=1).fit(
        images[train].reshape(half, -1), labels[train])
    results = {}
    for perturbation, values in strengths.items():
        results[perturbation] = [
            float(classifier.score(perturb(images[test], perturbation, value, seed)
                                   .reshape(len(test), -1), labels[test]))
            for value in values]
    return results


# --------------------------------------------------------------------------------------------
# Exercise checks (each compares with a library function)
# --------------------------------------------------------------------------------------------

_GRAY_HINT = ("weight each colour plane (image[..., 0] is red, 1 green, 2 blue) by its "
              "luminance weight and add the three weighted planes: one value per pixel.")


@exercises.checker("to_grayscale", forbid=["skimage.color.rgb2gray"])
def check_to_grayscale(to_grayscale):
    """Check ``to_grayscale(image)`` against ``skimage.color.rgb2gray`` (luminance, Rec. 709)."""
    __tracebackhide__ = True
    from skimage import color
    rng = np.random.default_rng(1)
    cases = [rng.random((4, 5, 3)), rng.random((1, 1, 3)),
             np.linspace(0, 1, 2 * 3 * 3).reshape(2, 3, 3)]
    for image in cases:
        result = to_grayscale(image.copy(), name="to_grayscale(image)", hint=_GRAY_HINT)
        exercises.expect_array(
            result, color.rgb2gray(image), name=f"to_grayscale(image of shape {image.shape})",
            hint=_GRAY_HINT, known_mistakes=[
                (image.mean(axis=-1), "it is the plain average of R, G and B. The eye is "
                                      "most sensitive to green, so luminance weights the "
                                      "channels 0.2125, 0.7154, 0.0721."),
                (image[..., ::-1] @ np.array([0.2125, 0.7154, 0.0721]),
                 "the weights are applied in reverse order (blue got red's weight): the "
                 "channels are in R, G, B order."),
                (image @ np.array([0.299, 0.587, 0.114]),
                 "these are the older Rec. 601 (TV) weights 0.299, 0.587, 0.114; this lesson "
                 "uses Rec. 709, like skimage.color.rgb2gray.")])
    return len(cases)


_NORMALISE_HINT = ("convert to a float dtype before dividing, and ask which number must "
                   "become exactly 1.0.")


@exercises.checker("normalise", forbid=["skimage.util.img_as_float",
                                         "skimage.util.img_as_float64"])
def check_normalise(normalise):
    """Check ``normalise(image)`` (uint8 -> float in [0, 1]) against ``img_as_float``."""
    __tracebackhide__ = True
    from skimage import util
    rng = np.random.default_rng(2)
    cases = [rng.integers(0, 256, (3, 4), dtype=np.uint8),
             rng.integers(20, 200, (2, 3, 3), dtype=np.uint8),
             np.array([[0, 255]], dtype=np.uint8)]
    for image in cases:
        result = normalise(image.copy(), name="normalise(image)", hint=_NORMALISE_HINT)
        low, high = float(image.min()), float(image.max())
        mistakes = [(image / 256.0, "it divides by 256. The largest uint8 value is 255, "
                                    "which must become exactly 1.0.")]
        if high > low:
            mistakes.append(((image - low) / (high - low),
                             "it stretches each image from its own minimum to its maximum. "
                             "Divide by 255 so that the same number means the same "
                             "brightness in every image."))
        exercises.expect_array(result, util.img_as_float(image),
                               name=f"normalise(uint8 image of shape {image.shape})",
                               hint=_NORMALISE_HINT, known_mistakes=mistakes)
    return len(cases)


_DISTANCE_HINT = ("convert both images to a float dtype before subtracting (uint8 arithmetic "
                  "wraps around), then take the square root of the sum of squared differences.")


@exercises.checker("pixel_distance", forbid=["scipy.spatial.distance.euclidean"])
def check_pixel_distance(pixel_distance):
    """Check ``pixel_distance(a, b)`` against ``scipy.spatial.distance.euclidean``."""
    __tracebackhide__ = True
    from scipy.spatial import distance
    rng = np.random.default_rng(3)
    cases = [(np.array([[10, 200]], dtype=np.uint8), np.array([[20, 100]], dtype=np.uint8)),
             (rng.random((4, 4)), rng.random((4, 4))),
             (rng.integers(0, 256, (3, 3, 3), dtype=np.uint8),
              rng.integers(0, 256, (3, 3, 3), dtype=np.uint8))]
    for a, b in cases:
        result = pixel_distance(a.copy(), b.copy(), name="pixel_distance(a, b)",
                                hint=_DISTANCE_HINT)
        fa, fb = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
        expected = distance.euclidean(fa, fb)
        name = f"pixel_distance(a, b) for {a.dtype} images of shape {a.shape}"
        if validation.is_finite_number(result):
            if a.dtype == np.uint8:
                # Subtracting (and squaring) in uint8 wraps around modulo 256.
                wrapped = [float(np.sqrt(np.sum((a - b).astype(np.float64) ** 2))),
                           float(np.sqrt(np.sum((a - b) ** 2)))]
                if any(np.isclose(float(result), value) and not np.isclose(expected, value)
                       for value in wrapped):
                    exercises.fail(f"{name} is {float(result):.4g}, expected {expected:.4g}: "
                                   f"the arithmetic was done in uint8, where 10 - 20 wraps "
                                   f"around to 246.", _DISTANCE_HINT)
            elif float(result) == 0 and expected > 0:
                exercises.fail(f"{name} is 0 for two different float images: casting floats "
                               f"in [0, 1] to an integer type turns them into 0 or 1; cast "
                               f"to float instead.", _DISTANCE_HINT)
            if np.isclose(float(result), expected ** 2):
                exercises.fail(f"{name} is the squared distance; take its square root.",
                                _DISTANCE_HINT)
            if np.isclose(float(result), np.abs(fa - fb).sum()):
                exercises.fail(f"{name} is the sum of absolute differences (L1); this "
                                f"exercise asks for the Euclidean (L2) distance.",
                                _DISTANCE_HINT)
        exercises.expect_number(result, expected, name=name, hint=_DISTANCE_HINT)
    return len(cases)
