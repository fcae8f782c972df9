"""Errors of the radiometric frame readers: each names the file and what is missing.

``ReaderError`` is a ``ValueError`` (bad input, not a bug) and an :class:`~gongzhi.errors.InvalidInput`, so an
upload endpoint that lets it through answers 400 problem+json with the message, never a 500.
"""

from __future__ import annotations

from gongzhi.errors import InvalidInput


class ReaderError(InvalidInput, ValueError):
    """A thermal frame file that cannot be read as temperatures."""

    code, title = "unreadable-thermal-frame", "Unreadable thermal frame"

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}", source=source)
        self.source = source
        self.problem = problem


class UnknownFormatError(ReaderError):
    """Neither a JPEG nor a TIFF: the reader does not know the format."""


class TruncatedFileError(ReaderError):
    """The file ends before a segment, record or raster it announces."""


class NotRadiometricError(ReaderError):
    """A picture without temperature data, e.g. a plain photo or a colour-mapped thermal preview."""


class TemperatureUnavailableError(ReaderError):
    """The file holds radiometric data that this project cannot honestly convert to temperatures."""


class MissingMetadataError(ReaderError):
    """The raster is there but a field needed for temperatures (scale, unit, Planck constants) is not."""
