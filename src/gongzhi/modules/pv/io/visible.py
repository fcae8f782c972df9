"""A drone's visible-light photo registered onto the thermal frame taken with it.

A DJI thermal payload (M30T, M3T, M4T, H20T, H30T) carries its wide camera in the same gimbal as the
thermal one, looking the same way, and saves the wide photo (``…_W.JPG``) with each thermal frame
(``…_T.JPG``). The two lenses sit a few centimetres apart: at inspection heights (20–60 m) that parallax
is a fraction of a centimetre on the modules, far under one thermal pixel (3–8 cm). So the thermal frame's
view is the middle of the wide photo, as wide as the thermal field of view is, and registering the two is
a centred crop and a resampling onto the thermal raster. The two cameras turn together, so this holds
for an oblique frame as for a straight-down one (the analysis then resamples the photo onto the module
plane with the temperatures, :func:`.analytics.oblique.nadir_view`):

- the wide camera's field of view comes from the photo's EXIF ``FocalLengthIn35mmFilm`` (DJI writes 24 mm
  for every wide camera above), the 35 mm equivalent on the diagonal of a 36 × 24 mm frame
  (half-diagonal 21.63 mm), split over the photo's width and height;
- the thermal camera's from its detector and lens (:class:`.analytics.cameras.ThermalCamera`);
- the crop is resampled onto the thermal raster (Pillow's box filter), the JPEG decoded at the least
  scale (1/2, 1/4, 1/8) that still gives half a photo pixel per thermal pixel (:data:`DETAIL`).

What is not done: lens distortion (a wide camera's barrel distortion shifts the crop's corners by a few
thermal pixels; the module crops the analysis takes are trimmed to their inner part), and the boresight
misalignment of a particular aircraft (no public figure).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from gongzhi.modules.pv.analytics.cameras import CAMERAS, HALF_DIAGONAL_35MM_MM, ThermalCamera
from gongzhi.modules.pv.analytics.frames import ThermalFrame

EXIF_IFD = 0x8769
FOCAL_35MM_TAG = 0xA405
"""EXIF ``FocalLengthIn35mmFilm``, in the Exif sub-IFD."""

DETAIL = 0.5
"""Photo pixels kept per thermal pixel across the crop when the JPEG is decoded at a reduced scale [-]. The
visible index samples a module twice per cell (about one sample per 2.5 thermal pixels at the IEC
screening resolution), so half a photo pixel per thermal pixel keeps more detail than it uses; a 4000 px
photo is then decoded at a quarter of its size, about four times faster than at half."""

FIELD_TOLERANCE = 1.02
"""How much narrower than the thermal field of view a photo's may be (rounding of the 35 mm figure)
before it is refused: a zoom photo (``…_Z.JPG``) usually sees less than the thermal frame."""


class VisibleError(ValueError):
    """A visible-light photo that cannot be registered onto its thermal frame; the thermal frame is analysed
    without it. ``reason`` says which kind of problem it is."""

    def __init__(self, source: str, reason: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source, self.reason, self.problem = source, reason, problem


def read_visible(
    path: Path, thermal: ThermalFrame, scale: int = 1, camera: ThermalCamera | None = None
) -> npt.NDArray[np.uint8]:
    """The part of a visible-light photo the thermal frame sees, as RGB on the thermal raster (or one
    ``scale`` times finer, for a picture a person looks at).

    Parameters
    ----------
    path : Path
        The drone's visible-light photo taken with ``thermal`` (a JPEG with EXIF).
    thermal : ThermalFrame
        The thermal frame; its camera must be known (``camera``, else ``meta.camera``). Straight down or
        oblique alike: the two cameras share the gimbal and look along one axis, so the photo's centre
        is the frame's and a ratio of focal lengths maps one onto the other, whatever the pitch (an
        oblique frame's nadir view then resamples the photo with the temperatures,
        :func:`.analytics.oblique.nadir_view`).
    scale : int
        Output pixels per thermal pixel, each way [-].
    camera : ThermalCamera, optional
        The thermal camera when the flight names it (a TIFF export often does not), as the analysis takes
        it (:func:`.analytics.georef.camera_and_height`).

    Returns
    -------
    ndarray of uint8, shape (rows · scale, cols · scale, 3)
        The rows and columns of ``thermal.temperature_c`` (times ``scale``).

    Raises
    ------
    VisibleError
        ``unreadable`` (not an image, or cut off), ``no_focal_length`` (no 35 mm equivalent in EXIF),
        ``unknown_camera`` (the thermal camera is not one of :data:`.CAMERAS`), ``narrower`` (the photo
        sees less than the thermal frame) or ``too_large``
        (more pixels than Pillow's decompression-bomb limit, ``Image.MAX_IMAGE_PIXELS`` × 2).
    """
    source = path.name
    meta = thermal.meta
    camera = camera or (CAMERAS.get(meta.camera) if meta.camera else None)
    if camera is None:
        raise VisibleError(
            source, "unknown_camera", "the thermal camera is not known, so neither is its view"
        )
    if scale < 1:
        raise ValueError(f"scale must be at least 1, not {scale}")
    rows, cols = (n * scale for n in thermal.temperature_c.shape[:2])
    try:
        with Image.open(io.BytesIO(path.read_bytes())) as image:
            focal = _focal_35mm(image)
            if focal is None:
                raise VisibleError(source, "no_focal_length", "the photo's EXIF gives no 35 mm focal length")
            width, height = _oriented_size(image)
            diagonal = math.hypot(width, height)
            tan_d = HALF_DIAGONAL_35MM_MM / focal
            sensor_w, sensor_h = camera.sensor_size_mm
            share_w = (sensor_w / (2 * camera.focal_length_mm)) / (tan_d * width / diagonal)
            share_h = (sensor_h / (2 * camera.focal_length_mm)) / (tan_d * height / diagonal)
            if max(share_w, share_h) > FIELD_TOLERANCE:
                raise VisibleError(
                    source, "narrower",
                    f"the photo sees {2 * math.degrees(math.atan(tan_d * width / diagonal)):.1f}° across, "
                    f"less than the thermal camera's {camera.hfov_deg:.1f}°",
                )  # fmt: skip
            share_w, share_h = min(share_w, 1.0), min(share_h, 1.0)
            # decode at the least DCT scale that keeps DETAIL photo pixels per thermal pixel across the crop
            need = (math.ceil(DETAIL * cols / share_w), math.ceil(DETAIL * rows / share_h))
            image.draft("RGB", need)
            oriented = ImageOps.exif_transpose(image).convert("RGB")
    except VisibleError:
        raise
    except Image.DecompressionBombError as exc:  # more pixels than a drone's photo: not decoded at all
        raise VisibleError(source, "too_large", f"the photo is too large to decode ({exc})") from exc
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise VisibleError(source, "unreadable", f"not a readable image ({exc})") from exc
    w, h = oriented.size
    box = (w * (1 - share_w) / 2, h * (1 - share_h) / 2, w * (1 + share_w) / 2, h * (1 + share_h) / 2)
    crop = oriented.resize((cols, rows), Image.Resampling.BOX, box=box)
    return np.asarray(crop, dtype=np.uint8)


def _focal_35mm(image: Image.Image) -> float | None:
    value = image.getexif().get_ifd(EXIF_IFD).get(FOCAL_35MM_TAG)
    try:
        focal = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return focal if focal is not None and focal > 0 else None


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    """The photo's width and height as it is meant to be seen (EXIF orientations 5–8 turn it a quarter)."""
    width, height = image.size
    return (height, width) if image.getexif().get(0x0112, 1) in (5, 6, 7, 8) else (width, height)


def visible_jpeg(rgb: npt.NDArray[np.uint8], focal_35mm: float, quality: int = 90) -> bytes:
    """A JPEG of ``rgb`` that says its 35 mm equivalent focal length as a drone camera's does (the
    synthetic flights' wide photos, and tests)."""
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[FOCAL_35MM_TAG] = round(focal_35mm)
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(
        out, "JPEG", quality=quality, exif=exif.tobytes()
    )
    return out.getvalue()
