"""The household booklet (一户一册): every household of the village on pages of its own,
numbered on across the parts it is built in, with every visit and need of the year.

One village of the demo township, built in parts of 20 households so that the joining is
exercised on a small booklet.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from conftest import demo_app
from pypdf import PdfReader
from test_reports import assert_cjk_fonts_only, read_pdf

from fieldvisit import pdf
from fieldvisit.booklet import booklet_pdf
from fieldvisit.idcard import mask_id_number
from fieldvisit.plates import group_label, in_plate_order
from fieldvisit.reports import ReportError

TODAY = date(2026, 11, 20)
VILLAGE = "聂河村"
PART = 20


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_app(tmp_path_factory.mktemp("demo"), today=TODAY)


@pytest.fixture(scope="module")
def made(demo, tmp_path_factory):
    """The village's booklet, how it was rendered, and the progress it reported."""
    app, store = demo
    calls: list[int] = []
    progress: list[tuple[int, int]] = []
    real = pdf.render_document

    def counting(html: str) -> pdf.RenderedPdf:
        calls.append(html.count('class="household"'))
        return real(html)

    with app.app_context(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(pdf, "render_document", counting)
        data = booklet_pdf(
            store,
            2026,
            village=VILLAGE,
            progress=lambda done, total: progress.append((done, total)),
            part_size=PART,
            today=TODAY,
        )
    printed = read_pdf(data, tmp_path_factory.mktemp("booklet") / "booklet.pdf")
    households = in_plate_order(
        [h for h in store.registry().households.values() if h.village == VILLAGE]
    )
    return printed, households, calls, progress


def _pages(printed) -> list[str]:
    return printed.text.split("\f")[:-1]


def test_every_household_starts_on_a_page_of_its_own(made):
    printed, households, _calls, _progress = made
    pages = _pages(printed)
    starts = [i for i, text in enumerate(pages) if "户帮扶档案" in text]
    assert len(starts) == len(households)
    for index, household in zip(starts, households, strict=True):
        page = pages[index]
        assert f"{household.head}户帮扶档案" in page
        assert household.id in page.splitlines()[0]  # named in the running header


def test_it_is_built_in_parts_and_the_page_numbers_run_on(made):
    printed, households, calls, progress = made
    assert calls[:-1] == [PART, PART, len(households) - 2 * PART]
    assert calls[-1] == 0  # the cover, made last
    assert progress[0] == (0, len(households))
    assert progress[-1] == (len(households), len(households))
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    pages = _pages(printed)
    assert pages[0].rstrip().endswith("目录")
    body = pages[1:]
    for number, text in enumerate(body, start=1):
        assert re.search(rf"第\s*{number}\s*页\s*$", text), text[-40:]
    assert f"正文共 {len(body)} 页" in pages[0]
    assert len(PdfReader(printed.path).pages) == len(pages)


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
    assert re.search(r"第\s*1\s*页\s*$", pages[0])


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
