"""Door plates: every printed QR code scans to its own household, the plate is big enough to
scan and survives dirt, and the text is the right text in an embedded Chinese font.

The PDF is checked the way a person would check a print: rasterized with pdftoppm and
scanned with zbar, read back with pdftotext and pdffonts.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image, ImageDraw
from pypdf import PdfReader
from pyzbar.pyzbar import Decoded, ZBarSymbol, decode

from fieldvisit import STORE_KEY, create_app
from fieldvisit.collation import in_household_order
from fieldvisit.documents.plates import (
    door_plates_pdf,
    group_label,
    households_for_plates,
    make_plate,
    plates_filename,
)
from fieldvisit.documents.qr import household_url, qr_matrix, qr_svg
from fieldvisit.households.lookup import new_token, township_name
from fieldvisit.models import Household, User, Village
from fieldvisit.storage import Registry, Store

BASE_URL = "http://fieldvisit.example:5000/"  # the trailing slash must not double up
TOWNSHIP = "示范镇"
DPI = 150
MIN_QR_PX = 4 / 2.54 * DPI  # 4 cm at the raster's resolution
QUIET_ZONE = 4  # modules of light margin on every side, as the QR standard asks

HELPERS = {
    "13800000001": "周建国",
    "13800000002": "吴秀英",
    "13800000003": "郑志强",
}

# (户编号, village, group, head, helper phones)
HOUSEHOLDS = [
    ("411523001", "聂河村", "1", "王德明", ["13800000001"]),
    ("411523002", "聂河村", "1", "李桂兰", ["13800000001"]),
    ("411523003", "聂河村", "2", "张玉华", ["13800000002"]),
    ("411523004", "聂河村", "10", "刘春花", ["13800000002", "13800000003"]),
    ("411523005", "聂河村", "3组", "陈国庆", ["13800000003"]),
    ("411523006", "聂河村", "2", "杨红梅", []),
    ("411523101", "王寨村", "1", "赵志强", ["13800000003"]),
    ("411523102", "王寨村", "1", "黄秀兰", ["13800000001"]),
    ("411523103", "王寨村", "4", "孙建华", ["13800000002"]),
    ("411523104", "王寨村", "4", "朱玉英", ["13800000003"]),
]
SECRET_ID_NUMBER = "410000199001010011"


def _fill(reg: Registry) -> None:
    reg.settings["township"] = TOWNSHIP
    reg.villages["聂河村"] = Village("聂河村", poor_village=True, exit_year=2016)
    reg.villages["王寨村"] = Village("王寨村", poor_village=True, exit_year=2018)
    for phone, name in HELPERS.items():
        reg.users[phone] = User(phone=phone, name=name, role="helper")
    for hid, village, group, head, helpers in HOUSEHOLDS:
        reg.households[hid] = Household(
            id=hid,
            village=village,
            group=group,
            head=head,
            members=3,
            attribute="dibao",
            cause="illness",
            status="not_exited",
            token=new_token(),
            helpers=helpers,
            id_number=SECRET_ID_NUMBER,
        )


@pytest.fixture(scope="module")
def module_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The real app on a throwaway data folder, shared by this module's tests (rendering and
    rasterizing is the slow part), inside an app context as the CLI command runs."""
    config = {
        "TESTING": True,
        "DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "SECRET_KEY": "test-secret",
        "TOWNSHIP": None,  # the stored setting names the township
    }
    app = create_app(config)
    with app.app_context():
        yield app


@pytest.fixture(scope="module")
def module_store(module_app: Flask) -> Store:
    store: Store = module_app.extensions[STORE_KEY]
    store.update_registry(_fill)
    return store


def _urls(store: Store, village: str | None = None) -> set[str]:
    return {
        household_url(BASE_URL, h.token)
        for h in store.registry().households.values()
        if village is None or h.village == village
    }


class Printed:
    """A rendered plates PDF, with its pages rasterized and its text extracted."""

    def __init__(self, pdf: bytes, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "plates.pdf"
        self.path.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", str(DPI), "-png", str(self.path), str(folder / "page")],
            check=True,
        )
        self.pages = sorted(folder.glob("page-*.png"))
        self.text = _run("pdftotext", str(self.path), "-")

    def symbols(self) -> list[Decoded]:
        found: list[Decoded] = []
        for page in self.pages:
            with Image.open(page) as image:
                found.extend(decode(image, symbols=[ZBarSymbol.QRCODE]))
        return found


def _run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def progress() -> list[tuple[int, int]]:
    """The progress the township's plates reported, as (plates made, plates in all)."""
    return []


@pytest.fixture(scope="module")
def printed(
    module_store: Store, progress: list[tuple[int, int]], tmp_path_factory: pytest.TempPathFactory
) -> Printed:
    # Made in parts of one sheet and joined, as a township's are: every check of this PDF
    # holds for the joined file. (One village's, below, is a single part.)
    pdf = door_plates_pdf(
        module_store,
        BASE_URL,
        progress=lambda done, total: progress.append((done, total)),
        sheets_per_part=1,
    )
    return Printed(pdf, tmp_path_factory.mktemp("all"))


@pytest.fixture(scope="module")
def printed_village(module_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Printed:
    pdf = door_plates_pdf(module_store, BASE_URL, village="王寨村")
    return Printed(pdf, tmp_path_factory.mktemp("village"))


def test_it_prints_four_plates_to_an_a4_page(printed: Printed) -> None:
    pages = PdfReader(printed.path).pages
    assert len(pages) == 3  # 10 plates
    for page in pages:
        # A4 portrait, in points
        assert float(page.mediabox.width) == pytest.approx(210 / 25.4 * 72, abs=0.5)
        assert float(page.mediabox.height) == pytest.approx(297 / 25.4 * 72, abs=0.5)
    assert len(printed.pages) == 3


def test_it_reports_progress_after_each_part(
    printed: Printed, progress: list[tuple[int, int]]
) -> None:
    assert progress == [(0, 10), (4, 10), (8, 10), (10, 10)]


def test_the_joined_parts_keep_the_title(printed: Printed) -> None:
    metadata = PdfReader(printed.path).metadata
    assert metadata is not None and metadata.title == f"扶贫帮扶户牌 · {TOWNSHIP}"


def test_it_gives_every_household_a_code_that_leads_to_it(
    printed: Printed, module_store: Store
) -> None:
    urls = [symbol.data.decode("utf-8") for symbol in printed.symbols()]
    assert len(urls) == len(HOUSEHOLDS)
    assert set(urls) == _urls(module_store)
    for url in urls:
        household = module_store.household_by_token(url.rsplit("/h/", 1)[1])
        assert household is not None
        assert url == f"http://fieldvisit.example:5000/h/{household.token}"


def test_it_prints_codes_at_least_4_cm_wide(printed: Printed) -> None:
    symbols = printed.symbols()
    assert symbols
    for symbol in symbols:
        assert symbol.rect.width >= MIN_QR_PX
        assert symbol.rect.height >= MIN_QR_PX


def test_a_stained_code_still_scans(printed: Printed) -> None:
    # Plates hang outdoors and get dirty or peel. Blank out a square in the middle of each
    # symbol, 40% of its side (16% of its area): a level-H code still reads; with this scanner
    # levels L, M and Q do not.
    with Image.open(printed.pages[0]) as page:
        image = page.convert("L")
    symbols = decode(image, symbols=[ZBarSymbol.QRCODE])
    draw = ImageDraw.Draw(image)
    for symbol in symbols:
        left, top, width, height = symbol.rect
        middle_x, middle_y = left + width / 2, top + height / 2
        half_w, half_h = width * 0.2, height * 0.2
        draw.rectangle(
            (middle_x - half_w, middle_y - half_h, middle_x + half_w, middle_y + half_h),
            fill=255,
        )
    stained = decode(image, symbols=[ZBarSymbol.QRCODE])
    assert len(symbols) == 4
    assert sorted(s.data for s in stained) == sorted(s.data for s in symbols)


def test_it_embeds_a_chinese_font(printed: Printed) -> None:
    fonts = _run("pdffonts", str(printed.path))
    embedded = re.findall(
        r"^(\S*(?:WenQuanYi|Noto)\S*).*?\s(yes|no)\s+(?:yes|no)\s+(?:yes|no)\s+\d+\s+\d+$",
        fonts,
        re.MULTILINE,
    )
    assert embedded, fonts
    assert all(emb == "yes" for _, emb in embedded), fonts


def test_it_shows_who_lives_there_and_who_helps(printed: Printed) -> None:
    text = printed.text
    assert TOWNSHIP in text
    for hid, village, _group, head, _helpers in HOUSEHOLDS:
        assert hid in text
        assert head in text
        assert village in text
    for phone, name in HELPERS.items():
        assert phone in text
        assert name in text
    assert "10组" in text and "3组" in text and "3组组" not in text
    assert "待结对" in text  # the household without a helper yet
    assert "帮扶责任人扫码登记走访" in text


def test_it_keeps_sensitive_facts_off_the_plate(printed: Printed) -> None:
    for secret in (SECRET_ID_NUMBER, "低保", "因病", "未脱贫"):
        assert secret not in printed.text


def test_it_prints_one_village_on_request(printed_village: Printed, module_store: Store) -> None:
    urls = {symbol.data.decode("utf-8") for symbol in printed_village.symbols()}
    assert urls == _urls(module_store, "王寨村")
    assert len(printed_village.pages) == 1
    assert "411523101" in printed_village.text
    assert "411523001" not in printed_village.text
    assert "聂河村" not in printed_village.text


def test_it_prints_one_household_on_request(
    module_store: Store, tmp_path_factory: pytest.TempPathFactory
) -> None:
    progress: list[tuple[int, int]] = []
    pdf = door_plates_pdf(
        module_store,
        BASE_URL,
        household="411523004",
        progress=lambda done, total: progress.append((done, total)),
    )
    printed = Printed(pdf, tmp_path_factory.mktemp("household"))
    token = module_store.household("411523004").token
    assert [s.data.decode("utf-8") for s in printed.symbols()] == [household_url(BASE_URL, token)]
    assert len(printed.pages) == 1
    assert "411523004" in printed.text and "刘春花" in printed.text
    assert "411523001" not in printed.text and "王德明" not in printed.text
    assert progress == [(0, 1), (1, 1)]


def test_households_for_plates_chooses_one_household_by_its_number(module_store: Store) -> None:
    registry = module_store.registry()
    assert [h.id for h in households_for_plates(registry, household=" 411523101 ")] == ["411523101"]
    with pytest.raises(LookupError, match="没有户编号为 411529999 的户"):
        households_for_plates(registry, household="411529999")
    with pytest.raises(ValueError, match="exclusive"):
        households_for_plates(registry, village="王寨村", household="411523101")


def test_it_refuses_a_village_without_households(module_store: Store) -> None:
    with pytest.raises(LookupError, match="没有登记户"):
        door_plates_pdf(module_store, BASE_URL, village="没有这个村")


def test_it_refuses_an_empty_registry(module_app: Flask, tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="还没有登记"):
        door_plates_pdf(Store(tmp_path), BASE_URL)


def test_it_orders_plates_by_village_group_and_number(module_store: Store) -> None:
    order = [h.id for h in households_for_plates(module_store.registry())]
    assert order == [
        # 聂河村 (nie) before 王寨村 (wang); groups 1, 2, 3组, 10 as numbers
        "411523001",
        "411523002",
        "411523003",
        "411523006",
        "411523005",
        "411523004",
        "411523101",
        "411523102",
        "411523103",
        "411523104",
    ]


def test_it_orders_groups_written_in_chinese_numerals_as_numbers() -> None:
    def household(hid: str, group: str) -> Household:
        return Household(hid, "王寨村", "某", 1, "dibao", "illness", "not_exited", "t", group)

    households = [household("1", "十一组"), household("2", "二组"), household("3", "十组")]
    households.append(household("4", "一组"))
    assert [h.group for h in in_household_order(households)] == ["一组", "二组", "十组", "十一组"]


def test_a_configured_township_name_wins_over_the_stored_one(
    module_app: Flask, module_store: Store
) -> None:
    assert township_name(module_store) == TOWNSHIP
    module_app.config["TOWNSHIP"] = "另一镇"
    try:
        assert township_name(module_store) == "另一镇"
    finally:
        module_app.config["TOWNSHIP"] = None


def test_group_label_adds_zu_once() -> None:
    assert group_label("3") == "3组"
    assert group_label("三组") == "三组"
    assert group_label("") == ""


def test_household_url_joins_without_double_slash() -> None:
    assert household_url("http://a.example/", "t0k") == "http://a.example/h/t0k"
    assert household_url("http://a.example", "t0k") == "http://a.example/h/t0k"


# --- the QR symbol itself ---------------------------------------------------------------

_RUN_RE = re.compile(r"([Mm])(-?\d+) (-?\d+(?:\.5)?)h(\d+)")


def _svg_modules(svg: str) -> set[tuple[int, int]]:
    """The dark modules (x, y) drawn by qr_svg's path: runs of M/m moves and h lines."""
    path = re.search(r'<path [^>]*d="([^"]*)"', svg)
    assert path is not None
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    for command, dx, dy, n in _RUN_RE.findall(path.group(1)):
        if command == "M":
            x, y = float(dx), float(dy)
        else:
            x, y = x + float(dx), y + float(dy)
        dark.update((int(x) + i, int(y)) for i in range(int(n)))
        x += int(n)
    return dark


_FORMAT_MASK = 0b101010000010010
_EC_LEVELS = {0b01: "L", 0b00: "M", 0b11: "Q", 0b10: "H"}


def _format_word(dark: set[tuple[int, int]], n: int, copy: int) -> int:
    """One of the two 15-bit format information copies (ISO/IEC 18004), as (row, column)
    positions in a symbol of n modules."""
    if copy == 1:  # around the top-left finder pattern
        cells = [(r, 8) for r in (0, 1, 2, 3, 4, 5, 7, 8)] + [(8, c) for c in (7, 5, 4, 3, 2, 1, 0)]
    else:  # split between the top-right and the bottom-left finder patterns
        cells = [(8, n - 1 - i) for i in range(8)] + [(n - 7 + i, 8) for i in range(7)]
    offset = QUIET_ZONE
    return sum(1 << bit for bit, (r, c) in enumerate(cells) if (c + offset, r + offset) in dark)


def _error_correction(dark: set[tuple[int, int]], n: int) -> str:
    word = _format_word(dark, n, 1)
    assert word == _format_word(dark, n, 2)
    data = (word ^ _FORMAT_MASK) >> 10
    # A valid word carries the BCH(15,5) code of its five data bits.
    remainder = data << 10
    for bit in range(14, 9, -1):
        if remainder & (1 << bit):
            remainder ^= 0b10100110111 << (bit - 10)
    assert ((data << 10) | remainder) ^ _FORMAT_MASK == word
    return _EC_LEVELS[data >> 3]


def test_qr_svg_draws_a_level_h_code_with_a_full_quiet_zone() -> None:
    data = household_url(BASE_URL, new_token())
    svg = qr_svg(data, 50)
    matrix = qr_matrix(data)
    size = len(matrix)
    dark = _svg_modules(svg)
    assert dark == {(x, y) for y, row in enumerate(matrix) for x, d in enumerate(row) if d}
    assert _error_correction(dark, size - 2 * QUIET_ZONE) == "H"
    # Four light modules on every side.
    assert all(QUIET_ZONE <= x < size - QUIET_ZONE for x, _ in dark)
    assert all(QUIET_ZONE <= y < size - QUIET_ZONE for _, y in dark)
    assert f'viewBox="0 0 {size} {size}"' in svg
    assert 'width="50mm" height="50mm"' in svg
    assert f'<rect width="{size}" height="{size}" fill="#fff"/>' in svg
    assert svg.startswith("<svg") and "<?xml" not in svg
    assert svg.count("<path") == 1


def test_a_plate_names_each_helper_once_and_keeps_unknown_phones(module_store: Store) -> None:
    registry = module_store.registry()
    household = Household.from_doc(
        registry.households["411523001"].to_doc()
        | {"helpers": ["13800000001", "13900000009", "13800000001"]}
    )
    plate = make_plate(registry, household, BASE_URL)
    assert [(h.name, h.phone) for h in plate.helpers] == [
        ("周建国", "13800000001"),
        ("", "13900000009"),
    ]


def test_the_download_is_named_after_the_township_and_village() -> None:
    assert plates_filename(TOWNSHIP, "王寨村") == "示范镇-王寨村-户牌.pdf"
    assert plates_filename(TOWNSHIP, None) == "示范镇-户牌.pdf"
    assert plates_filename("", None) == "户牌.pdf"
    assert plates_filename(TOWNSHIP, None, "411523001") == "示范镇-411523001-户牌.pdf"
