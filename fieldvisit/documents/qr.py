"""QR codes for door plates: the link a plate carries and the code drawn as inline SVG.

The SVG is vector, so it prints sharp at any size, and inline, so a PDF template needs no
image files. Error correction is level H (about 30% of the symbol can be lost): door plates
hang outdoors for years, fade, get dirty and get torn at the corners.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import qrcode
from qrcode.constants import ERROR_CORRECT_H

# The quiet zone the QR standard asks for. Scanners find the code by its white margin, and a
# plate may be nailed next to a patterned door, so the full four modules are kept.
QUIET_ZONE = 4


def household_url(base_url: str, token: str) -> str:
    """The address a household's door plate links to."""
    return f"{base_url.rstrip('/')}/h/{token}"


def qr_matrix(data: str) -> list[list[bool]]:
    """The modules of the smallest level-H QR code holding ``data``, quiet zone included
    (True is dark)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_H, border=QUIET_ZONE, box_size=1)
    code.add_data(data)
    code.make(fit=True)
    return [[bool(module) for module in row] for row in code.get_matrix()]


def _dark_runs(row: Sequence[bool]) -> Iterator[tuple[int, int]]:
    """(start, length) of each horizontal run of dark modules in one row."""
    start = None
    for x, dark in enumerate([*row, False]):
        if dark and start is None:
            start = x
        elif not dark and start is not None:
            yield start, x - start
            start = None


def _row_path(y: int, row: Sequence[bool]) -> str:
    # The first run of a row moves there absolutely, the next ones relative to the end of
    # the previous run: shorter text for the PDF engine's HTML parser to read.
    parts = []
    end = None
    for x, n in _dark_runs(row):
        parts.append(f"M{x} {y}.5h{n}" if end is None else f"m{x - end} 0h{n}")
        end = x + n
    return "".join(parts)


def _path_data(matrix: list[list[bool]]) -> str:
    # Each horizontal run of dark modules is one line, stroked one module wide along the
    # row's middle: two path commands a run where a filled rectangle takes five, and parsing
    # this path is most of the cost of drawing a sheet of plates.
    return "".join(_row_path(y, row) for y, row in enumerate(matrix))


def qr_svg(data: str, size_mm: float) -> str:
    """An inline SVG of a level-H QR code of ``data``, ``size_mm`` wide and high including the
    quiet zone, black on white. The viewBox counts modules. No XML declaration: the result is
    meant to be placed inside an HTML document."""
    matrix = qr_matrix(data)
    n = len(matrix)
    size = f"{size_mm:g}mm"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" '
        f'width="{size}" height="{size}">'
        f'<rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path fill="none" stroke="#000" stroke-width="1" d="{_path_data(matrix)}"/>'
        "</svg>"
    )
