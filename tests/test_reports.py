"""The monthly summary PDF (月度帮扶走访汇总), read back as the township office would read it:
its text with pdftotext, its fonts with pdffonts, its pages with pypdf.

The demo township is built once for the module (two months of visits, the current one half
done), and each PDF is made once.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from helpers import demo_app
from openpyxl import load_workbook
from pypdf import PdfReader

from fieldvisit.cli.reports import commands
from fieldvisit.demo import ATTRIBUTE_TABLE, CAUSE_TABLE, STATUS_TABLE
from fieldvisit.documents.exports import SUMMARY_SHEET, export_visits_bytes
from fieldvisit.documents.monthly import ReportError, build_monthly_report, monthly_report_pdf
from fieldvisit.figures.month import household_lines, month_figures
from fieldvisit.storage import Store
from fieldvisit.vocab import ATTRIBUTES, CAUSES, STATUSES

TODAY = date(2026, 11, 20)
MONTH = "2026-11"
VILLAGE = "聂河村"
A4 = (595.3, 841.9)  # points
HOUSEHOLD_ID = re.compile(r"\b411721\d{7}\b")


@dataclass
class Printed:
    path: Path
    text: str  # pdftotext -layout: a table row stays on one line

    def section(self, start: str, end: str) -> str:
        return self.text[self.text.index(start) : self.text.index(end)]


def read_pdf(pdf: bytes, path: Path) -> Printed:
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return Printed(path, text)


def embedded_fonts(path: Path) -> list[tuple[str, str, str]]:
    """(name, embedded, subset) of every font in the PDF, as pdffonts lists them."""
    listing = subprocess.run(
        ["pdffonts", str(path)], check=True, capture_output=True, text=True
    ).stdout
    fonts = []
    for line in listing.splitlines()[2:]:
        match = re.match(r"^(\S+)\s.*?\s(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+$", line)
        assert match, line
        fonts.append((match.group(1), match.group(2), match.group(3)))
    return fonts


def assert_cjk_fonts_only(path: Path) -> None:
    # WeasyPrint draws a missing glyph as an empty box and pdftotext still "reads" the
    # character, so text alone proves nothing: every font must be the embedded CJK face.
    fonts = embedded_fonts(path)
    assert fonts
    for name, embedded, subset in fonts:
        assert "WenQuanYi" in name or "NotoSansCJK" in name, fonts
        assert (embedded, subset) == ("yes", "yes"), fonts


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Flask, Store]:
    return demo_app(tmp_path_factory.mktemp("demo"), today=TODAY)


@pytest.fixture(scope="module")
def township(demo, tmp_path_factory) -> Printed:
    app, store = demo
    with app.app_context():
        pdf = monthly_report_pdf(store, MONTH, today=TODAY)
    return read_pdf(pdf, tmp_path_factory.mktemp("township") / "summary.pdf")


@pytest.fixture(scope="module")
def village(demo, tmp_path_factory) -> Printed:
    app, store = demo
    with app.app_context():
        pdf = monthly_report_pdf(store, MONTH, VILLAGE, today=TODAY)
    return read_pdf(pdf, tmp_path_factory.mktemp("village") / "village.pdf")


def _row(label: str, households: int, people: int) -> re.Pattern[str]:
    # The tables stand side by side, so a printed line may hold a row of each.
    return re.compile(rf"(?:^|\s){re.escape(label)}\s+{households:,}\s+{people:,}(?:\s|$)", re.M)


def test_it_reproduces_the_registry_tables_of_the_design(township):
    text = township.section("九、帮扶户结构", "制表人")
    for vocabulary, table in (
        (ATTRIBUTES, ATTRIBUTE_TABLE),
        (CAUSES, CAUSE_TABLE),
        (STATUSES, STATUS_TABLE),
    ):
        for code, (households, people) in table.items():
            assert _row(vocabulary[code], households, people).search(text), (code, text)
    assert len(_row("合计", 676, 1721).findall(text)) == 3
    assert "1,178" in text  # counts written as the township writes them


def test_it_lists_exactly_the_households_without_an_in_person_visit(township, demo):
    _app, store = demo
    in_person = {v.household for v in store.visits(MONTH) if v.kind == "in_person"}
    expected = set(store.registry().households) - in_person
    listed = HOUSEHOLD_ID.findall(township.section("五、本月未入户走访的户", "六、人居环境整治"))
    assert len(listed) == len(set(listed))  # each once
    assert set(listed) == expected
    assert f"共 {len(expected)} 户" in township.text


def test_the_headline_gives_the_months_figures(township, demo):
    _app, store = demo
    figures = month_figures(store, MONTH, today=TODAY)
    head = township.section("一、总体情况", "二、两不愁三保障")
    for value in (
        "676",
        "1,721",
        str(figures.visited),
        f"{figures.rate * 100:.1f}%",
        str(figures.households - figures.visited),
        str(figures.attempted),
        f"{figures.compared_rate * 100:.1f}%",
    ):
        assert value in head, value
    assert "较上月同期" in head  # mid-month: compared with last month up to the same day
    assert "统计截至 2026年11月20日" in township.text  # the month is not over


def test_parts_come_in_order_with_the_guarantees_right_after_the_headline(township):
    parts = [
        "一、总体情况",
        "二、两不愁三保障",
        "三、分村完成情况",
        "四、帮扶责任人完成情况",
        "五、本月未入户走访的户",
        "六、人居环境整治",
        "七、群众诉求",
        "八、群众满意度",
        "九、帮扶户结构",
        "制表人：",
        "审核人：",
        "日期：",
    ]
    positions = [township.text.index(part) for part in parts]
    assert positions == sorted(positions)


def test_villages_below_target_are_marked_in_words(township, demo):
    _app, store = demo
    figures = month_figures(store, MONTH, today=TODAY)
    table = township.section("三、分村完成情况", "四、帮扶责任人完成情况")
    for row in figures.by_village:
        line = next(line for line in table.splitlines() if line.strip().startswith(row.village))
        assert f"{row.visited}" in line and f"{row.rate * 100:.1f}%" in line
        assert ("▲未完成" in line) == (row.visited < row.households)
        # The chart prints every village's figures as text too (no meaning in colour).
        assert f"{row.visited}/{row.households}" in table


def test_helpers_behind_come_first_with_their_phones(township, demo):
    _app, store = demo
    figures = month_figures(store, MONTH, today=TODAY)
    table = township.section("四、帮扶责任人完成情况", "五、本月未入户走访的户")
    first, last = figures.by_helper[0], figures.by_helper[-1]
    assert first.missing and not last.missing
    assert table.index(first.phone) < table.index(last.phone)
    assert all(row.phone in table for row in figures.by_helper)


def test_every_page_has_the_running_header_and_numbered_footer(township):
    pages = PdfReader(township.path).pages
    texts = township.text.split("\f")[:-1]  # pdftotext ends every page with a form feed
    count = len(pages)
    assert count == len(texts) > 5
    for number, (page, text) in enumerate(zip(pages, texts, strict=True), start=1):
        assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(
            A4, abs=0.5
        )
        assert re.match(r"\s*示范镇 月度帮扶走访汇总\s+2026年11月\n", text), text[:80]
        assert re.search(rf"第 {number} 页 共 {count} 页\s*$", text), text[-60:]


def test_chinese_is_drawn_with_an_embedded_cjk_font_and_the_file_is_small(township):
    assert_cjk_fonts_only(township.path)
    assert township.path.stat().st_size < 1_000_000


def test_the_village_report_has_a_line_for_every_household(village, demo):
    _app, store = demo
    ids = {h.id for h in store.registry().households.values() if h.village == VILLAGE}
    lines = village.section("十、各户本月走访情况", "制表人")
    assert set(HOUSEHOLD_ID.findall(lines)) == ids
    missing = set(HOUSEHOLD_ID.findall(village.section("五、本月未入户走访的户", "六、")))
    in_person = {v.household for v in store.visits(MONTH, VILLAGE) if v.kind == "in_person"}
    assert missing == ids - in_person
    assert "三、分组完成情况" in village.text
    assert f"示范镇{VILLAGE}2026年11月帮扶走访汇总" in village.text
    assert_cjk_fonts_only(village.path)


def test_pdf_and_workbook_give_the_same_figures(township, demo):
    app, store = demo
    with app.app_context():
        data, count = export_visits_bytes(store, MONTH, "xlsx", today=TODAY)
    assert count == len(store.visits(MONTH))
    from io import BytesIO

    book = load_workbook(BytesIO(data), read_only=True)
    rows = list(book[SUMMARY_SHEET].iter_rows(values_only=True))
    summary = {row[0]: row[1] for row in rows if len(row) > 1}
    head = township.section("一、总体情况", "二、两不愁三保障")
    assert f"{summary['登记户数']:,}" in head and f"{summary['登记人数']:,}" in head
    assert str(summary["本月已入户走访户数"]) in head
    assert f"{summary['入户走访完成率'] * 100:.1f}%" in head
    needs = township.section("七、群众诉求", "八、群众满意度")
    assert re.search(rf"本月销号（已解决）诉求：{summary['本月销号诉求']} 件", needs)
    by_village = township.section("三、分村完成情况", "四、帮扶责任人完成情况")
    villages = [row for row in rows if len(row) > 2 and isinstance(row[1], int)]
    assert len(villages) == 14
    for name, households, people, visited, attempted, not_visited, share in villages:
        figures = rf"{households}\s+{people}\s+{visited}\s+{attempted}\s+{not_visited}"
        assert re.search(rf"{name}\s+\S+\s+{figures}\s+{share * 100:.1f}%", by_village), name


def test_it_refuses_a_bad_month_or_an_unknown_village(demo):
    app, store = demo
    with app.app_context():
        with pytest.raises(ReportError, match="月份"):
            build_monthly_report(store, "2026-13", today=TODAY)
        with pytest.raises(ReportError, match="没有名为“东村”的村"):
            build_monthly_report(store, MONTH, "东村", today=TODAY)


@pytest.fixture()
def cli(demo):
    app, _store = demo
    assert {c.name for c in commands} <= set(app.cli.commands)
    return app.test_cli_runner()


def test_the_command_writes_a_village_report(cli, tmp_path):
    out = tmp_path / "village.pdf"
    result = cli.invoke(
        args=["monthly-report", "--month", "2026-10", "--village", VILLAGE, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    printed = read_pdf(out.read_bytes(), tmp_path / "again.pdf")
    assert "示范镇聂河村2026年10月帮扶走访汇总" in printed.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026/11"], "月份应写成 年-月"),
        (["--month", "2099-01"], "2099-01 还没有到"),
        (["--month", MONTH, "--village", "东村"], "没有名为“东村”的村"),
        (["--month", MONTH, "--out", "report.docx"], "--out 须为 .pdf 文件"),
    ],
)
def test_the_command_explains_what_is_wrong(cli, tmp_path, args, message):
    out = ["--out", str(tmp_path / "report.pdf")] if "--out" not in args else []
    result = cli.invoke(args=["monthly-report", *args, *out])
    assert result.exit_code != 0
    assert message in result.output
    assert list(tmp_path.iterdir()) == []


def test_household_lines_show_the_visit_that_decided_each_state(demo):
    _app, store = demo
    figures = month_figures(store, MONTH, VILLAGE, today=TODAY)
    lines = {line.household.id: line for line in household_lines(store, figures)}
    assert set(lines) == set(figures.states)
    for hid, line in lines.items():
        assert line.state == figures.states[hid]
        if line.state == "visited":
            assert line.visit is not None and line.visit.kind == "in_person"
            passed, answered = line.environment
            assert 0 <= passed <= answered <= 8
        elif line.state == "attempted":
            assert line.visit is not None and line.visit.kind != "in_person"
            assert line.environment is None
        else:
            assert line.visit is None and line.visitor == ""
    raised = store.needs(MONTH, VILLAGE)
    assert sum(len(line.needs) for line in lines.values()) == len(raised)
