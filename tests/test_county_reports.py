"""A county's monthly files: the county's summary counts by township and village and names
no household; every township's report comes zipped, one PDF each; door plates, booklets and
the visits export are made per township, and a township's office can make no other
township's file. Read back as the office reads them: pdftotext, and the zip opened."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, csrf_from, make_household
from openpyxl import load_workbook
from test_report_pages import _download, _finish, _job_id
from test_reports import read_pdf

from fieldvisit.access.passwords import hash_password
from fieldvisit.closing import close_month
from fieldvisit.documents.county import townships_zip_filename
from fieldvisit.documents.monthly import monthly_report_pdf, report_filename
from fieldvisit.models import Household, Need, User, Village, Visit
from fieldvisit.months import previous_month
from fieldvisit.storage import Registry, Store
from fieldvisit.vocab import DEFAULT_CHECKLIST

TOWNSHIPS = ("城关镇", "河口镇", "王集乡")  # in the order their names are read
OWN_VILLAGE = {"城关镇": "东关村", "河口镇": "河湾村", "王集乡": "集北村"}
MONTH = date.today().isoformat()[:7]
PREVIOUS = previous_month(MONTH)
COUNTY_ADMIN, TOWNSHIP_ADMIN, HELPER = "13600000009", "13600000008", "13900000001"
HEADS = ("马娟", "梁刚", "周敏", "吴强")
YARD, INDOORS = (key for key, _label in DEFAULT_CHECKLIST[:2])


def _households() -> list[Household]:
    """王庄村 in every township and a village of its own, two households each."""
    made = []
    for number, township in enumerate(TOWNSHIPS, start=1):
        for place, village in enumerate(("王庄村", OWN_VILLAGE[township]), start=1):
            for serial in (1, 2):
                made.append(
                    make_household(
                        id=f"41172100{number}{place}00{serial}",
                        village=village,
                        township=township,
                        head=f"{HEADS[(place - 1) * 2 + serial - 1]}{number}",
                        helpers=[HELPER],
                        id_number="",
                    )
                )
    return made


def _visit(h: Household, day: str, kind: str, **fields: object) -> Visit:
    return Visit(
        id=f"v-{h.id}-{day}",
        household=h.id,
        village=h.village_key,
        helper=HELPER,
        recorded_by=HELPER,
        date=day,
        kind=kind,
        created_at=f"{day}T09:00:00+08:00",
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture()
def county(store: Store) -> dict[str, Household]:
    """Three townships; in each month 城关镇's 王庄村 has a visit finding unsafe housing
    (and a need) and its own village an attempt, 河口镇's 王庄村 a visit, 王集乡 none."""
    households = _households()
    digest = hash_password(PASSWORD)

    def fill(reg: Registry) -> None:
        reg.users[COUNTY_ADMIN] = User(COUNTY_ADMIN, "县办", "admin", digest)
        reg.users[TOWNSHIP_ADMIN] = User(
            TOWNSHIP_ADMIN, "城关镇办", "admin", digest, township="城关镇"
        )
        reg.users[HELPER] = User(HELPER, "张帮扶", "helper", digest)
        reg.settings["township"] = "示范县"
        for h in households:
            reg.households[h.id] = h
            reg.villages[h.village_key] = Village(h.village, township=h.township)

    store.update_registry(fill)
    by_id = {h.id: h for h in households}
    visits, needs = [], []
    for month in (PREVIOUS, MONTH):
        day = f"{month}-01"
        unsafe = _visit(
            by_id["4117210011001"],
            day,
            "in_person",
            guarantees={"housing": False},
            environment={YARD: False, INDOORS: True},
        )
        visits += [
            unsafe,
            _visit(by_id["4117210012001"], day, "nobody_home"),
            _visit(by_id["4117210021001"], day, "in_person", satisfaction="satisfied"),
        ]
        needs.append(
            Need(f"n-{month}", unsafe.id, unsafe.household, unsafe.village, "housing",
                 "屋顶漏雨", False, HELPER, day)
        )  # fmt: skip
    store.import_visits(visits, needs)
    return by_id


def _pdf_text(pdf: bytes, tmp_path: Path, name: str = "r.pdf") -> str:
    return read_pdf(pdf, tmp_path / name).text


def _login(client: FlaskClient, phone: str) -> str:
    page = client.get("/login").get_data(as_text=True)
    data = {"phone": phone, "password": PASSWORD, "csrf_token": csrf_from(page)}
    assert client.post("/login", data=data).status_code == 302
    return csrf_from(client.get("/password").get_data(as_text=True))


def _row(text: str, *cells: str) -> bool:
    return re.search(r"\s+".join(re.escape(c) for c in cells), text) is not None


# --- the county's summary -------------------------------------------------------------


def test_the_county_summary_counts_by_township_then_village_and_names_no_household(
    app: Flask, store: Store, county: dict[str, Household], tmp_path: Path
) -> None:
    with app.app_context():
        text = _pdf_text(monthly_report_pdf(store, MONTH), tmp_path)
    assert "示范县" in text and "各乡镇完成情况" in text and "八、各村完成情况" in text
    # 城关镇: 4 households, 1 visited, 1 attempted, 2 not visited, 25.0 %.
    assert _row(text, "城关镇", "2", "4", "8", "1", "1", "3", "25.0%")
    assert _row(text, "王集乡", "2", "4", "8", "0", "0", "4", "0.0%")
    assert _row(text, "合计", "6", "12", "24", "2", "1", "10", "16.7%")
    # The unmet guarantee, the need and the checklist are counted where they were found.
    gaps = text[text.index("三、两不愁三保障") : text.index("四、人居环境整治")]
    assert re.search(r"城关镇\s+0\s+0\s+0\s+0\s+1\s+0\s+▲\s*1\n", gaps)
    checked = text[text.index("四、人居环境整治") : text.index("五、群众诉求")]
    assert _row(checked, "城关镇", "0.0%", "100.0%", *["—"] * 6) and _row(checked, "王集乡", "—")
    needs = text[text.index("五、群众诉求") : text.index("全县诉求")]
    # Open: this month's need and last month's, still waiting.
    assert _row(needs, "城关镇", "1", "0", "2") and _row(needs, "河口镇", "0", "0", "0")
    # Villages by township: the three 王庄村 stay apart.
    villages = text[text.index("八、各村完成情况") :]
    for township in TOWNSHIPS:
        assert _row(villages, township, "王庄村")
        assert _row(villages, township, OWN_VILLAGE[township])
        assert _row(villages, township, "小计")
    assert re.search(r"城关镇\s+王庄村\s+否\s+2\s+1\s+0\s+1\s+50.0%\s+▲\s*1\s+1\s+50.0%", villages)
    # A summary, not a list: no household, head of household or helper.
    for h in county.values():
        assert h.id not in text and h.head not in text
    assert "张帮扶" not in text and HELPER not in text
    assert re.search(r"第\s*1\s*页\s*共\s*\d+\s*页", text)


def test_a_single_township_keeps_its_summary(
    app: Flask, store: Store, households: dict[str, Household], tmp_path: Path
) -> None:
    with app.app_context():
        text = _pdf_text(monthly_report_pdf(store, MONTH), tmp_path)
    assert "分村完成情况" in text and "各乡镇完成情况" not in text
    assert households["h1"].id in text  # the township's list of households not visited


def test_a_closed_months_county_summary_stays_as_closed(
    app: Flask, store: Store, county: dict[str, Household], tmp_path: Path
) -> None:
    with app.app_context():
        closed = close_month(store, PREVIOUS, COUNTY_ADMIN)
        archived = store.closed.read(PREVIOUS, closed.record["pdf"])

        def move(reg: Registry) -> None:  # a household of 王集乡 moves to 城关镇 afterwards
            reg.households["4117210031001"].township = "城关镇"

        store.update_registry(move)
        text = _pdf_text(monthly_report_pdf(store, PREVIOUS), tmp_path)
    issued = _pdf_text(archived, tmp_path, "issued.pdf")
    for printed in (issued, text):
        assert "各乡镇完成情况" in printed  # the county's summary is what a close archives
        assert _row(printed, "城关镇", "2", "4", "8", "1", "1", "3", "25.0%")
        assert _row(printed, "王集乡", "2", "4", "8", "0", "0", "4", "0.0%")
    assert "本月已于" in text  # and it says it is the closed month's


# --- every township's report, zipped --------------------------------------------------


def test_all_townships_come_zipped_one_report_each(
    runner, store: Store, county: dict[str, Household], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "county.zip"
    result = runner.invoke(
        args=["monthly-report", "--month", MONTH, "--all-townships", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "3 / 3" in result.output  # progress, township by township
    with zipfile.ZipFile(out) as bundle:
        names = bundle.namelist()
        assert names == [report_filename(t, MONTH, None) for t in TOWNSHIPS]
        text = _pdf_text(bundle.read(report_filename("河口镇", MONTH, None)), tmp_path)
    # The township's detailed report: its households by number, no other township's.
    assert "河口镇" in text and "4117210022002" in text
    assert "4117210011001" not in text and "4117210031001" not in text


@pytest.mark.parametrize(
    "extra",
    [["--township", "城关镇", "--out", "x.zip"], ["--out", "x.pdf"]],
)
def test_all_townships_refuses_a_township_or_a_pdf(
    runner, county: dict[str, Household], tmp_path: Path, extra: list[str]
) -> None:  # type: ignore[no-untyped-def]
    extra = [*extra[:-1], str(tmp_path / extra[-1])]
    result = runner.invoke(args=["monthly-report", "--month", MONTH, "--all-townships", *extra])
    assert result.exit_code != 0 and "--" in result.output
    assert not (tmp_path / "x.zip").exists()


def test_the_county_office_queues_the_summary_and_the_zip_from_the_reports_page(
    app: Flask, client: FlaskClient, county: dict[str, Household], tmp_path: Path
) -> None:
    csrf = _login(client, COUNTY_ADMIN)
    page = client.get("/reports").get_data(as_text=True)
    assert '<select id="summary-township" name="township">' in page
    assert 'value="townships"' in page and '<option value="河口镇">' in page
    asked = {"csrf_token": csrf, "kind": "summary", "month": MONTH}
    job_id = _job_id(client.post("/reports", data=asked))
    assert _finish(app, job_id).status == "done"
    pdf = _download(client, f"/reports/jobs/{job_id}/download").data
    assert "各乡镇完成情况" in _pdf_text(pdf, tmp_path)
    job_id = _job_id(client.post("/reports", data={**asked, "kind": "townships"}))
    job = _finish(app, job_id)
    assert job.status == "done", job.error
    assert (job.done, job.total) == (3, 3)
    response = _download(client, f"/reports/jobs/{job_id}/download")
    assert response.mimetype == "application/zip"
    assert job.filename == townships_zip_filename("示范县", MONTH)
    with zipfile.ZipFile(io.BytesIO(response.data)) as bundle:
        assert len(bundle.namelist()) == 3


# --- a township's office, and files per township --------------------------------------


def test_a_township_office_makes_its_own_townships_files_only(
    app: Flask, client: FlaskClient, county: dict[str, Household], tmp_path: Path
) -> None:
    csrf = _login(client, TOWNSHIP_ADMIN)
    page = client.get("/reports").get_data(as_text=True)
    assert 'name="township"' not in page and 'value="townships"' not in page
    assert "城关镇/王庄村" in page and "河口镇/" not in page  # its own villages only
    refused = [
        {"kind": "summary", "month": MONTH, "township": "河口镇"},
        {"kind": "visits", "month": MONTH, "township": "河口镇", "format": "csv"},
        {"kind": "booklet", "year": MONTH[:4], "township": "河口镇"},
        {"kind": "townships", "month": MONTH},
    ]
    for form in refused:
        response = client.post("/reports", data={"csrf_token": csrf, **form})
        assert response.status_code == 400, form
        shown = response.get_data(as_text=True)
        assert "城关镇" in shown and 'role="alert"' in shown, form
    # Another township's village or household is none of its business.
    for form in (
        {"kind": "visits", "month": MONTH, "village": "河口镇/王庄村", "format": "csv"},
        {"kind": "booklet", "year": MONTH[:4], "household": "4117210021001"},
    ):
        assert client.post("/reports", data={"csrf_token": csrf, **form}).status_code == 400
    plates = client.post("/office/plates", data={"csrf_token": csrf, "township": "河口镇"})
    assert plates.status_code == 400 and "城关镇" in plates.get_data(as_text=True)
    # Its own township as a whole: no village to name any more.
    job_id = _job_id(
        client.post("/reports", data={"csrf_token": csrf, "kind": "visits", "month": MONTH,
                                      "format": "csv"})
    )  # fmt: skip
    job = _finish(app, job_id)
    assert job.filename == f"走访记录-{MONTH}-城关镇.csv"
    exported = _download(client, f"/reports/jobs/{job_id}/download").data.decode("utf-8-sig")
    assert "4117210011001" in exported and "4117210021001" not in exported


def test_the_county_office_prints_one_townships_plates(
    app: Flask, client: FlaskClient, county: dict[str, Household], tmp_path: Path
) -> None:
    csrf = _login(client, COUNTY_ADMIN)
    assert '<select id="plates-township"' in client.get("/office/plates").get_data(as_text=True)
    response = client.post("/office/plates", data={"csrf_token": csrf, "township": "河口镇"})
    job = _finish(app, _job_id(response))
    assert job.status == "done", job.error
    assert job.filename == "河口镇-户牌.pdf"
    text = _pdf_text(_download(client, f"/reports/jobs/{job.id}/download").data, tmp_path)
    ids = set(re.findall(r"41172100\d{5}", text))
    assert ids == {h for h in county if h[8] == "2"}
    assert "河口镇" in text and "示范县" not in text  # each plate names its township


def test_commands_take_a_township(runner, county: dict[str, Household], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    visits = tmp_path / "visits.xlsx"
    result = runner.invoke(
        args=["export-visits", "--month", MONTH, "--township", "城关镇", "--out", str(visits)]
    )
    assert result.exit_code == 0, result.output
    sheet = load_workbook(visits)["走访记录"]
    assert {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)} == {
        "4117210011001",
        "4117210012001",
    }
    booklet = tmp_path / "booklet.pdf"
    args = ["booklet", "--year", MONTH[:4], "--township", "王集乡", "--village", "王庄村"]
    result = runner.invoke(args=[*args, "--out", str(booklet)])
    assert result.exit_code == 0, result.output
    text = read_pdf(booklet.read_bytes(), tmp_path / "b.pdf").text
    assert set(re.findall(r"41172100\d{5}", text)) == {"4117210031001", "4117210031002"}
    plates = tmp_path / "plates.pdf"
    result = runner.invoke(args=["door-plates", "--township", "王集乡", "--out", str(plates)])
    assert result.exit_code == 0, result.output
    text = read_pdf(plates.read_bytes(), tmp_path / "p.pdf").text
    assert set(re.findall(r"41172100\d{5}", text)) == {h for h in county if h[8] == "3"}
    unknown = runner.invoke(args=["door-plates", "--township", "无此镇", "--out", str(plates)])
    assert unknown.exit_code != 0 and "无此镇" in unknown.output
