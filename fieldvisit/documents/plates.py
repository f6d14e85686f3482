"""Door plates (户牌): one printable plate per household with the QR code helpers scan.

A plate hangs on the household's door for everyone to read, so it carries only what the
township already posts publicly: place, head of household, the helpers and how to reach them,
the 户编号 and the code. Never the attribute, the cause of poverty or an ID number.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import gettext as _
from markupsafe import Markup

from ..collation import in_household_order
from ..households.lookup import township_name
from ..models import Household
from ..storage import Registry, Store
from .naming import scope_parts
from .pdf import render_template_pdf
from .plate_records import record_printed, stale_households
from .qr import household_url, qr_svg

# The code including its quiet zone. A level-H code of a plate's link is version 5 or larger
# (the token alone is 27 characters), so the symbol itself is at least 41 mm: above the 4 cm
# a phone reads reliably from arm's length.
QR_SIZE_MM = 50

TEMPLATE = "pdf/plates.html"
PLATES_PER_SHEET = 4  # A6 plates on an A4 sheet, as templates/pdf/plates.html lays them out
# Sheets per WeasyPrint document; the parts are joined with pypdf. Measured on the demo
# township (676 plates): parts of 25 sheets take the same time as one document, peak at
# about 230 MB instead of 400 MB, and let the office's progress bar move every few seconds.
# The joined file is about 7 % larger (each part embeds its own subset of the font).
SHEETS_PER_PART = 25

Progress = Callable[[int, int], None]  # (plates made, plates in all)


@dataclass(frozen=True)
class HelperLine:
    name: str
    phone: str


@dataclass(frozen=True)
class Plate:
    """What one door plate shows."""

    household_id: str
    village: str
    group: str  # as printed, e.g. "3组"; empty when the registry has no group
    head: str
    helpers: list[HelperLine]
    qr: Markup
    township: str = ""  # a county's household: its township, printed instead of the county


def group_label(group: str) -> str:
    """The group as people say it: "3" becomes "3组", "3组" stays."""
    group = group.strip()
    if not group or group.endswith("组"):
        return group
    return f"{group}组"


def _helper_lines(registry: Registry, household: Household) -> list[HelperLine]:
    lines = []
    for phone in dict.fromkeys(household.helpers):  # each helper once, in pairing order
        user = registry.users.get(phone)
        # A phone without a user still tells the household whom to call.
        lines.append(HelperLine(name=user.name if user else "", phone=phone))
    return lines


def make_plate(registry: Registry, household: Household, base_url: str) -> Plate:
    return Plate(
        household_id=household.id,
        village=household.village,
        group=group_label(household.group),
        head=household.head,
        helpers=_helper_lines(registry, household),
        # qr_svg builds the markup from numbers only, so it is safe to insert unescaped.
        qr=Markup(qr_svg(household_url(base_url, household.token), QR_SIZE_MM)),
        township=household.township,
    )


def households_for_plates(
    registry: Registry,
    village: str | None = None,
    household: str | None = None,
    *,
    stale: bool = False,
    township: str | None = None,
) -> list[Household]:
    """The households to print, in plate order: the registry's or one ``township``'s, one
    village's (by its key), or the one
    household whose 户编号 is ``household`` (a plate reprinted after a new QR code); with
    ``stale``, only those whose plate names other helpers than they have now. Raises
    LookupError with a message for the user when there are none."""
    if household is not None:
        if village is not None:
            # The callers resolve a form or command line that names both; guessing here
            # which one was meant would print the wrong plates without a word.
            raise ValueError("village and household are exclusive")
        found_one = registry.households.get(household.strip())
        if found_one is None:
            raise LookupError(_("没有户编号为 %(id)s 的户", id=household.strip()))
        return [found_one]
    chosen = stale_households(registry) if stale else registry.households.values()
    found = [
        h for h in chosen if village in (None, h.village_key) and township in (None, h.township)
    ]
    if not found:
        if stale:
            raise LookupError(_("没有需要重新打印的户牌"))
        if village is None:
            raise LookupError(_("还没有登记任何户，无法打印户牌"))
        raise LookupError(_("“%(village)s”没有登记户，无法打印户牌", village=village))
    return in_household_order(found)


def door_plates_pdf(
    store: Store,
    base_url: str,
    village: str | None = None,
    progress: Progress | None = None,
    sheets_per_part: int = SHEETS_PER_PART,
    *,
    household: str | None = None,
    stale: bool = False,
    township: str | None = None,
) -> bytes:
    """A4 sheets of door plates, four to a page with cut lines, for every household, one
    village's or one household (by 户编号), or those whose plate is ``stale`` (of one
    ``township``, when given). Needs an
    application context. Raises LookupError (with a message for the user) when there is
    nothing to print. ``progress(done, total)`` is called before the first part and after
    each one, in plates. The helpers each plate printed are remembered (plate_records).
    ``base_url`` comes from plate_address.require_plate_address."""
    registry = store.registry()
    households = households_for_plates(registry, village, household, stale=stale, township=township)
    name = township_name(store)
    report = progress or (lambda _done, _total: None)
    total = len(households)
    report(0, total)
    # Whole sheets per part, so that only the last sheet of the file has empty places.
    part_size = sheets_per_part * PLATES_PER_SHEET
    parts = []
    for start in range(0, total, part_size):
        chunk = households[start : start + part_size]
        plates = [make_plate(registry, h, base_url) for h in chunk]
        parts.append(render_template_pdf(TEMPLATE, plates=plates, township=name))
        report(start + len(chunk), total)
    pdf = parts[0] if len(parts) == 1 else _join(parts)
    record_printed(store, households)  # once the whole file is made, not plate by plate
    return pdf


def _join(parts: list[bytes]) -> bytes:
    """One PDF of the parts' pages in order, with the first part's title and metadata."""
    from pypdf import PdfReader, PdfWriter  # only a township's plates come in parts

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(parts[0])))
    for part in parts[1:]:
        writer.append(PdfReader(io.BytesIO(part)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def plates_filename(township: str, village: str | None, household: str | None = None) -> str:
    """The download's name, e.g. "示范镇-王寨村-户牌.pdf" or "示范镇-411523001-户牌.pdf"."""
    parts = [*scope_parts(township, village), *([household] if household else [])]
    return "-".join([*parts, "户牌"]) + ".pdf"
