"""Errors of the radiometric frame readers: each names the file and what is missing.

``ReaderError`` is a ``ValueError`` (bad input, not a bug) and an :class:`~gongzhi.errors.InvalidInput`, so an
upload endpoint that lets it through answers 400 problem+json with the message, never a 500.
"""

from __future__ import annotations

from gongzhi.errors import InvalidInput


class ReaderError(InvalidInput, ValueError):
    """A thermal frame file that cannot be read as temperatures."""

    code, title = "unreadable-thermal-frame", "Unreadable thermal frame"
    reason = "unreadable"
    """What kind of error it is, as a flight's skipped frames name it (each subclass has its own)."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}", source=source)
        self.source = source
        self.problem = problem


class UnknownFormatError(ReaderError):
    """Neither a JPEG nor a TIFF: the reader does not know the format."""

    reason = "unknown_format"


class TruncatedFileError(ReaderError):
    """The file ends before a segment, record or raster it announces."""

    reason = "truncated"


class NotRadiometricError(ReaderError):
    """A picture without temperature data, e.g. a plain photo or a colour-mapped thermal preview."""

    reason = "not_radiometric"


class TemperatureUnavailableError(ReaderError):
    """The file holds radiometric data that this project cannot honestly convert to temperatures."""

    reason = "temperature_unavailable"


class MissingMetadataError(ReaderError):
    """The raster is there but a field needed for temperatures (scale, unit, Planck constants) is not."""

    reason = "missing_metadata"


MAX_PIXELS = 4096 * 4096
"""Largest raster accepted: well above any thermal detector (the H30T's interpolated mode is 2560×2048), so a
damaged header cannot make a reader allocate gigabytes."""


def check_raster_size(width: int, height: int, source: str) -> None:
    """Refuse an empty raster or one larger than :data:`MAX_PIXELS`."""
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise NotRadiometricError(
            source, f"raster of {width}×{height} px is not a thermal frame (limit {MAX_PIXELS:,} px)"
        )
