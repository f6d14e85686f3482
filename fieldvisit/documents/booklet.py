"""The household booklet (一户一册): one or two A4 pages per household for one year.

Each household's pages carry its registry data (the ID number masked), its helpers, a
twelve-month overview, every visit of the year and its needs ledger (问题整改台账).

WeasyPrint keeps a whole laid-out document in memory (several hundred MB for the 676
households of the demo township), so a township's or a county's booklet is built in parts of
``PART_SIZE`` households and the parts are joined with pypdf: memory stays that of one part
whatever the number of households. The cover, with the contents and the PDF outline
(bookmarks to each village and household), is made last and put first.

Every body page's footer says "第 N 页 共 M 页", as the monthly summary's does, but M only
exists once every part is laid out, and a part's layout is too big to keep until then. So
the parts are made without a footer, and the footers are made afterwards as documents of
their own: pages of the same size and margins that hold nothing but the footer, laid by
pypdf on the body pages as form XObjects (measured on the demo township's 677 pages: about
3 s of WeasyPrint for the footers, 5 % of the booklet, and 0.1 s to lay them on; laying out
every part twice, once to count pages, would double the minute it takes). The footer stays
WeasyPrint's text in the embedded CJK font, so it reads and extracts as before, and it sits
in the bottom margin, which the body never enters.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, cast

from flask import render_template
from flask_babel import gettext as _

from ..collation import in_household_order
from ..figures.month import open_at
from ..households.lookup import township_name
from ..idcard import mask_id_number
from ..models import Household, Need, User, Visit
from ..months import EARLIEST_DATE, months_of_year
from ..storage import Store
from ..visits.fields import checklist
from ..vocab import GUARANTEES
from . import pdf
from .monthly import ReportError, formatting
from .naming import scope_names, scope_parts
from .plates import group_label

if TYPE_CHECKING:
    from pypdf import PageObject, PdfReader, PdfWriter

# Households per WeasyPrint document. Measured on the demo township (676 households):
# parts of 50 peak at about 300 MB for the whole process, parts of 150 at about 550 MB, in
# the same time; smaller parts also move the progress bar every few seconds.
PART_SIZE = 50
# Footer pages per WeasyPrint document. Each costs about 4 ms; a document of a few thousand
# pages costs several times more per page (3,000 pages: 9 ms each, 380 MB), so a county's
# footers are made in pieces too.
FOOTER_PAGES = 200
TEMPLATE = "pdf/booklet.html"
FIRST_YEAR = EARLIEST_DATE.year  # no visit is older

Progress = Callable[[int, int], None]  # (households done, households in all)


@dataclass
class MonthCell:
    label: str  # "1月"
    state: str  # visited | attempted | not_visited | "" (the month has not come yet)
    kind: str = ""  # for an attempt: nobody_home | phone


@dataclass
class VisitLine:
    """One visit as the booklet prints it."""

    visit: Visit
    helper: str  # name
    unmet: list[str]  # labels of the basic guarantees found not met
    environment: tuple[int, int] | None  # (passed, answered), in person only
    failed: list[str]  # labels of the checklist items that failed


@dataclass
class BookletEntry:
    """What one household's pages show."""

    household: Household
    helpers: list[User]
    masked_id: str
    months: list[MonthCell]
    visits: list[VisitLine]  # the year's, oldest first
    needs: list[Need]  # raised this year, or earlier and still open when it began

    @property
    def anchor(self) -> str:
        return f"h-{self.household.id}"


def check_year(year: int, today: date | None = None) -> int:
    today = today or date.today()
    if not FIRST_YEAR <= year <= today.year:
        raise ReportError(
            _(
                "年度应在 %(first)d 到 %(last)d 之间：%(year)s",
                first=FIRST_YEAR,
                last=today.year,
                year=year,
            )
        )
    return year


def booklet_households(
    store: Store,
    village: str | None = None,
    household: str | None = None,
    township: str | None = None,
) -> list[Household]:
    """The households to print, in plate order (village, group, 户编号): the registry's,
    one ``township``'s, one village's (by its key) or one household's. Raises ReportError
    when there are none."""
    reg = store.registry()
    if household:
        found = reg.households.get(household.strip())
        if found is None:
            raise ReportError(_("没有户编号为 %(id)s 的户", id=household))
        return [found]
    chosen = [
        h
        for h in reg.households.values()
        if village in (None, h.village_key) and township in (None, h.township)
    ]
    if not chosen:
        if village:
            raise ReportError(_("没有名为“%(village)s”的村，或该村没有登记户", village=village))
        raise ReportError(_("还没有登记任何户"))
    return in_household_order(chosen)


def booklet_entries(
    store: Store, year: int, households: list[Household], today: date | None = None
) -> list[BookletEntry]:
    """Each household's year, gathered in one pass over the year's visit files."""
    today = today or date.today()
    reg = store.registry()
    wanted = {h.id for h in households}
    villages = {h.village_key for h in households}
    village = villages.pop() if len(villages) == 1 else None
    months = months_of_year(year, today)
    visits: dict[str, list[Visit]] = {hid: [] for hid in wanted}
    for month in months:
        for visit in store.visits(month, village):
            if visit.household in wanted:
                visits[visit.household].append(visit)
    needs = _ledgers(store, year, village, wanted, today)
    labels = {item.key: item.label for item in checklist(store)}
    names = {phone: user.name for phone, user in reg.users.items()}
    entries = []
    for h in households:
        mine = sorted(visits[h.id], key=lambda v: (v.date, v.created_at))
        entries.append(
            BookletEntry(
                household=h,
                helpers=[reg.users[p] for p in dict.fromkeys(h.helpers) if p in reg.users],
                masked_id=mask_id_number(h.id_number) if h.id_number else "",
                months=_month_cells(year, mine, today),
                visits=[_visit_line(v, names, labels) for v in mine],
                needs=needs.get(h.id, []),
            )
        )
    return entries


def _visit_line(visit: Visit, names: dict[str, str], labels: dict[str, str]) -> VisitLine:
    answers = [a for a in visit.environment.values() if a is not None]
    return VisitLine(
        visit=visit,
        helper=names.get(visit.helper, visit.helper),
        unmet=[GUARANTEES.get(k, k) for k in GUARANTEES if visit.guarantees.get(k) is False],
        environment=(sum(answers), len(answers)) if visit.kind == "in_person" and answers else None,
        failed=[labels.get(k, k) for k, ok in visit.environment.items() if ok is False],
    )


def _month_cells(year: int, visits: list[Visit], today: date) -> list[MonthCell]:
    cells = []
    for m in range(1, 13):
        month = f"{year:04d}-{m:02d}"
        if (year, m) > (today.year, today.month):
            cells.append(MonthCell(f"{m}月", ""))
            continue
        of_month = [v for v in visits if v.month == month]
        if any(v.kind == "in_person" for v in of_month):
            cells.append(MonthCell(f"{m}月", "visited"))
        elif of_month:
            cells.append(MonthCell(f"{m}月", "attempted", of_month[-1].kind))
        else:
            cells.append(MonthCell(f"{m}月", "not_visited"))
    return cells


def _ledgers(
    store: Store, year: int, village: str | None, wanted: set[str], today: date
) -> dict[str, list[Need]]:
    """Needs raised in ``year``, and older ones still open when it began (a ledger carries
    its open entries over into the new year)."""
    eve = date(year, 1, 1) - timedelta(days=1)
    out: dict[str, list[Need]] = {}
    for month in store.months():
        if month > f"{year:04d}-12":
            break
        for need in store.needs(month, village):
            if need.household not in wanted:
                continue
            if month >= f"{year:04d}-01" or open_at(need, eve):
                out.setdefault(need.household, []).append(need)
    for ledger in out.values():
        ledger.sort(key=lambda n: (n.raised_at, n.category))
    return out


# --- rendering in parts ------------------------------------------------------------------


@dataclass
class Contents:
    """Where each household's pages start, once every part is laid out."""

    starts: dict[str, int] = field(default_factory=dict)  # 户编号 -> first page (from 1)
    pages: int = 0


def _part_html(entries: list[BookletEntry], year: int, township: str) -> str:
    return render_template(
        TEMPLATE,
        kind="part",
        entries=entries,
        year=year,
        township=township,
        **formatting(),
        **pdf.pdf_context(),
    )


def _footers_html(year: int, township: str, first_page: int, count: int, total: int) -> str:
    return render_template(
        TEMPLATE,
        kind="footers",
        year=year,
        township=township,
        first_page=first_page,
        count=count,
        total=total,
        **pdf.pdf_context(),
    )


def _cover_html(
    entries: list[BookletEntry], year: int, township: str, scope: str, contents: Contents
) -> str:
    sections: dict[str, list[BookletEntry]] = {}
    by_group = len({e.household.village for e in entries}) == 1
    for entry in entries:
        key = group_label(entry.household.group) if by_group else entry.household.village
        sections.setdefault(key or "—", []).append(entry)
    rows = [
        (
            name,
            len(items),
            sum(e.household.members for e in items),
            contents.starts[items[0].household.id],
        )
        for name, items in sections.items()
    ]
    return render_template(
        TEMPLATE,
        kind="cover",
        year=year,
        township=township,
        scope=scope,
        by_group=by_group,
        rows=rows,
        households=len(entries),
        people=sum(e.household.members for e in entries),
        pages=contents.pages,
        **formatting(),
        **pdf.pdf_context(),
    )


def booklet_pdf(
    store: Store,
    year: int,
    village: str | None = None,
    household: str | None = None,
    progress: Progress | None = None,
    part_size: int = PART_SIZE,
    today: date | None = None,
    township: str | None = None,
) -> bytes:
    """The booklet for the registry, one township, one village or one household, as one PDF.

    Needs an application context. Raises ReportError for a bad year, village or household.
    ``progress(done, total)`` is called after each part, in households.
    """
    from pypdf import PdfReader, PdfWriter

    today = today or date.today()
    check_year(year, today)
    households = booklet_households(store, village, household, township)
    entries = booklet_entries(store, year, households, today)
    township, scope = scope_names(township or township_name(store), village)
    report = progress or (lambda _done, _total: None)
    report(0, len(entries))

    contents = Contents()
    parts: list[bytes] = []
    for start in range(0, len(entries), part_size):
        chunk = entries[start : start + part_size]
        rendered = pdf.render_document(_part_html(chunk, year, township))
        for index, anchors in enumerate(rendered.anchors):
            for anchor in anchors:
                if anchor.startswith("h-"):
                    contents.starts.setdefault(anchor[2:], contents.pages + index + 1)
        contents.pages += rendered.pages
        # Only the written part is kept: its layout (the memory) is gone once it is written.
        parts.append(rendered.data)
        report(min(start + part_size, len(entries)), len(entries))

    writer = PdfWriter()
    cover_pages = 0
    if len(entries) > 1:
        cover = pdf.render_document(_cover_html(entries, year, township, scope, contents))
        writer.append(PdfReader(io.BytesIO(cover.data)), import_outline=False)
        cover_pages = cover.pages
    for part in parts:
        writer.append(PdfReader(io.BytesIO(part)), import_outline=False)
    footers_per_document = FOOTER_PAGES  # read here, so that a test can make it small
    for first in range(1, contents.pages + 1, footers_per_document):
        count = min(footers_per_document, contents.pages - first + 1)
        html = _footers_html(year, township, first, count, contents.pages)
        footers = PdfReader(io.BytesIO(pdf.render_document(html).data))
        start = cover_pages + first - 1
        _lay_footers(writer, writer.pages[start : start + count], footers)
    _outline(writer, entries, contents, cover_pages)
    writer.add_metadata({"/Title": f"{township}{scope}{year}年度一户一册"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _lay_footers(writer: PdfWriter, pages: Sequence[PageObject], footers: PdfReader) -> None:
    """Draw each page of ``footers`` (WeasyPrint's, the same size as ``pages``) over the
    matching page of ``pages``.

    Each footer becomes a form XObject with its own resources (its font), so nothing of the
    body page is renamed, decoded or re-compressed: pypdf's ``merge_page`` does all three,
    taking a second for a township, and adds an alias of the footer's font to each part's
    shared font dictionary for every page of the part.
    """
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject

    # WeasyPrint's page content starts by flipping the y axis and never undoes it, so the
    # body is wrapped in q … Q before the footer is drawn in the page's own coordinates.
    # One pair of streams serves every page: each page maps the name to its own footer.
    # pypdf has no public way to add a new object; _add_object is what its own code uses.
    save, restore_and_draw = DecodedStreamObject(), DecodedStreamObject()
    save.set_data(b"q\n")
    restore_and_draw.set_data(b"\nQ\n/FvFooter Do\n")
    before, after = writer._add_object(save), writer._add_object(restore_and_draw)
    for page, footer in zip(pages, footers.pages, strict=True):
        # The footer's content stream, still compressed, becomes the form's.
        # pypdf types get_object() loosely; WeasyPrint writes /Contents as one stream.
        form = cast(DictionaryObject, footer[NameObject("/Contents")].get_object())
        form.update(
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Form"),
                NameObject("/BBox"): footer.mediabox,
                NameObject("/Resources"): footer[NameObject("/Resources")],
            }
        )
        # Copies, page by page: WeasyPrint's pages may share these dictionaries.
        resources = DictionaryObject(cast(DictionaryObject, page[NameObject("/Resources")]))
        xobjects = DictionaryObject(resources.get("/XObject", DictionaryObject()))
        # clone() copies the form and what it uses (the font: once per footer document).
        xobjects[NameObject("/FvFooter")] = form.clone(writer).indirect_reference
        resources[NameObject("/XObject")] = xobjects
        page[NameObject("/Resources")] = resources
        body = page.raw_get("/Contents")
        streams = list(body.get_object()) if isinstance(body.get_object(), ArrayObject) else [body]
        page[NameObject("/Contents")] = ArrayObject([before, *streams, after])


def _outline(
    writer: PdfWriter, entries: list[BookletEntry], contents: Contents, offset: int
) -> None:
    """Bookmarks: one per village, under it one per household (the PDF reader's sidebar is
    how the office finds a household in a 700-page file)."""
    village_item = None
    current = None
    for entry in entries:
        h = entry.household
        page = offset + contents.starts[h.id] - 1
        if len(entries) > 1 and h.village != current:
            current = h.village
            # Closed: the sidebar opens on the villages, each unfolding to its households.
            village_item = writer.add_outline_item(title=h.village, page_number=page, is_open=False)
        title = f"{group_label(h.group)} {h.head}（{h.id}）".strip()
        writer.add_outline_item(title=title, page_number=page, parent=village_item)


def booklet_filename(township: str, year: int, village: str | None, household: str | None) -> str:
    parts = [*scope_parts(township, village), *([household] if household else [])]
    return "-".join([*parts, f"{year}年度一户一册"]) + ".pdf"
