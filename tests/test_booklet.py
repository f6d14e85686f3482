"""The household booklet (一户一册): every household of the village on pages of its own,
each page's footer saying "第 N 页 共 M 页" across the parts it is built in, with every visit
and need of the year.

The demo township's smallest village, built in parts of 10 households and its footers in
documents of 8 pages, so that the joining is exercised on a small booklet.
"""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

import pytest
from helpers import demo_app
from pypdf import PdfReader
from test_reports import assert_cjk_fonts_only, read_pdf

from fieldvisit.collation import in_household_order
from fieldvisit.documents import booklet, pdf
from fieldvisit.documents.booklet import booklet_pdf
from fieldvisit.documents.monthly import ReportError
from fieldvisit.documents.plates import group_label
from fieldvisit.idcard import mask_id_number

TODAY = date(2026, 11, 20)
VILLAGE = "前营村"  # the smallest village: 27 households
PART = 10
FOOTERS = 8  # footer pages per WeasyPrint document (200 in use), so several of them
BOTTOM_MARGIN = 17 / 25.4 * 72  # points, from templates/pdf/base.html


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_app(tmp_path_factory.mktemp("demo"), today=TODAY)


@pytest.fixture(scope="module")
def made(demo, tmp_path_factory):
    """The village's booklet, how it was rendered (households and footer pages of each
    WeasyPrint document, in order), and the progress it reported."""
    app, store = demo
    calls: list[tuple[int, int]] = []
    progress: list[tuple[int, int]] = []
    real = pdf.render_document

    def counting(html: str) -> pdf.RenderedPdf:
        calls.append((html.count('class="household"'), html.count('class="blank"')))
        return real(html)

    with app.app_context(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(pdf, "render_document", counting)
        patch.setattr(booklet, "FOOTER_PAGES", FOOTERS)
        data = booklet_pdf(
            store,
            2026,
            village=VILLAGE,
            progress=lambda done, total: progress.append((done, total)),
            part_size=PART,
            today=TODAY,
        )
    printed = read_pdf(data, tmp_path_factory.mktemp("booklet") / "booklet.pdf")
    households = in_household_order(
        [h for h in store.registry().households.values() if h.village == VILLAGE]
    )
    return printed, households, calls, progress


def _pages(printed) -> list[str]:
    return printed.text.split("\f")[:-1]


def _ends_with_footer(text: str, number: int, total: int) -> bool:
    # pdftotext keeps or drops the spaces around a short number as the line's widths suggest.
    return re.search(rf"第\s*{number}\s*页\s*共\s*{total}\s*页\s*$", text) is not None


def test_every_household_starts_on_a_page_of_its_own(made):
    printed, households, _calls, _progress = made
    pages = _pages(printed)
    starts = [i for i, text in enumerate(pages) if "户帮扶档案" in text]
    assert len(starts) == len(households)
    for index, household in zip(starts, households, strict=True):
        page = pages[index]
        assert f"{household.head}户帮扶档案" in page
        assert household.id in page.splitlines()[0]  # named in the running header


def test_it_is_built_in_parts_and_every_page_says_which_of_how_many(made):
    printed, households, calls, progress = made
    pages = _pages(printed)
    body = len(pages) - 1
    parts = [PART, PART, len(households) - 2 * PART]
    assert calls[:4] == [(n, 0) for n in [*parts, 0]]  # the parts, then the cover
    footers = [min(FOOTERS, body - first) for first in range(0, body, FOOTERS)]
    assert len(footers) > len(parts)  # cut by pages, not by households
    assert calls[4:] == [(0, n) for n in footers]
    assert progress[0] == (0, len(households))
    assert progress[-1] == (len(households), len(households))
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert pages[0].rstrip().endswith("目录")
    for number, text in enumerate(pages[1:], start=1):
        assert _ends_with_footer(text, number, body), text[-40:]
    assert f"正文共 {body} 页" in pages[0]
    reader = PdfReader(printed.path)
    assert len(reader.pages) == len(pages)
    # pypdf reads the footer too, last on the page, as a reader copying the page would.
    assert reader.pages[-1].extract_text().endswith(f"第 {body} 页 共 {body} 页")


def _words(path: Path) -> list[list[tuple[float, float, str]]]:
    """Each page's words as (top, bottom, text), in points from the top of the page."""
    html = subprocess.run(
        ["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return [
        [
            (float(top), float(bottom), text)
            for top, bottom, text in re.findall(
                r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>', page
            )
        ]
        for page in html.split("<page ")[1:]
    ]


def test_the_footer_sits_in_the_bottom_margin_below_everything_else(made):
    printed, _households, _calls, _progress = made
    pages = _words(printed.path)
    height = float(PdfReader(printed.path).pages[0].mediabox.height)
    bottom = height - BOTTOM_MARGIN  # where the body's area ends
    for number, words in enumerate(pages):
        footer = "".join(text for top, _bottom, text in words if top >= bottom)
        assert footer == (f"第{number}页共{len(pages) - 1}页" if number else "目录")
        assert all(end <= bottom for top, end, _text in words if top < bottom), number


def test_the_contents_and_bookmarks_lead_to_each_household(made):
    printed, households, _calls, _progress = made
    pages = _pages(printed)
    reader = PdfReader(printed.path)
    [village, children] = reader.outline
    assert village.title == VILLAGE
    assert [item.title for item in children] == [
        f"{group_label(h.group)} {h.head}（{h.id}）" for h in households
    ]
    for item, household in zip(children, households, strict=True):
        assert f"{household.head}户帮扶档案" in pages[reader.get_destination_page_number(item)]
    # The cover's contents: each group's first page is where its first household starts.
    for group in dict.fromkeys(group_label(h.group) for h in households):
        first = next(h for h in households if group_label(h.group) == group)
        found = re.search(rf"^\s*{group}\s+\d+\s+\d+\s+(\d+)\s*$", pages[0], re.MULTILINE)
        assert found, group
        assert f"{first.head}户帮扶档案" in pages[int(found.group(1))]


def test_it_shows_every_visit_and_need_of_the_year_and_hides_the_id_number(made, demo):
    printed, households, _calls, _progress = made
    _app, store = demo
    visits = [v for m in ("2026-10", "2026-11") for v in store.visits(m, VILLAGE)]
    needs = [n for m in ("2026-10", "2026-11") for n in store.needs(m, VILLAGE)]
    pages = _pages(printed)
    starts = [i for i, text in enumerate(pages) if "户帮扶档案" in text] + [len(pages)]
    for household, begin, end in zip(households, starts, starts[1:], strict=False):
        text = "".join(pages[begin:end])
        mine = [v for v in visits if v.household == household.id]
        assert f"走访记录（{len(mine)} 次）" in text
        for visit in mine:
            assert f"{int(visit.date[5:7])}月{int(visit.date[8:])}日" in text
        for need in (n for n in needs if n.household == household.id):
            assert need.raised_at in text
        assert household.id_number not in printed.text
        assert mask_id_number(household.id_number) in text
    assert_cjk_fonts_only(printed.path)


def test_one_household_gets_its_pages_without_a_cover(demo, tmp_path):
    app, store = demo
    household = next(iter(store.registry().households.values()))
    with app.app_context():
        data = booklet_pdf(store, 2026, household=household.id, today=TODAY)
    printed = read_pdf(data, tmp_path / "one.pdf")
    pages = _pages(printed)
    assert 1 <= len(pages) <= 2
    assert "目录" not in printed.text
    assert f"{household.head}户帮扶档案" in pages[0]
    for number, text in enumerate(pages, start=1):
        assert _ends_with_footer(text, number, len(pages)), text[-40:]


def test_it_refuses_what_it_cannot_print(demo):
    app, store = demo
    with app.app_context():
        with pytest.raises(ReportError, match="没有户编号为 999 的户"):
            booklet_pdf(store, 2026, household="999", today=TODAY)
        with pytest.raises(ReportError, match="没有名为“东村”的村"):
            booklet_pdf(store, 2026, village="东村", today=TODAY)
        with pytest.raises(ReportError, match="年度应在"):
            booklet_pdf(store, 2027, today=TODAY)


def test_the_command_prints_one_household_with_a_progress_bar(demo, tmp_path):
    app, store = demo
    household = next(iter(store.registry().households.values()))
    out = tmp_path / "one.pdf"
    result = app.test_cli_runner().invoke(
        args=["booklet", "--year", "2026", "--household", household.id, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    # Not a terminal here: click prints the bar's label once instead of drawing it.
    assert result.output.startswith("一户一册")
    assert f"{household.head}户帮扶档案" in read_pdf(out.read_bytes(), tmp_path / "x.pdf").text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--year", "26"], "年度应写成四位数字"),
        (["--year", "2026", "--household", "999"], "没有户编号为 999 的户"),
        (["--year", "2026", "--village", VILLAGE, "--household", "1"], "只能选一个"),
        (["--year", "2026", "--out", "booklet.xlsx"], "--out 须为 .pdf 文件"),
    ],
)
def test_the_command_explains_what_is_wrong(demo, tmp_path, args, message):
    app, _store = demo
    out = ["--out", str(tmp_path / "booklet.pdf")] if "--out" not in args else []
    result = app.test_cli_runner().invoke(args=["booklet", *args, *out])
    assert result.exit_code != 0
    assert message in result.output
    assert list(tmp_path.iterdir()) == []
