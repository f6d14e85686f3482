"""What the tests share: the named people, logins, builders with defaults and the
sample spreadsheets. Tests import these; ``conftest.py`` holds only fixtures.

People (as in the access rules):
  * ``owner``    – helper paired with the household ``h1`` (13900000001)
  * ``other``    – helper paired with ``h2`` only (13900000002)
  * ``supervisor`` (13700000001), ``admin`` (13600000001), and nobody (no login).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldvisit import create_app, registry
from fieldvisit.access import passwords
from fieldvisit.access.passwords import hash_password
from fieldvisit.households.lookup import new_token
from fieldvisit.models import Household, User, Village
from fieldvisit.registry import RegistryError, import_registry
from fieldvisit.storage import Registry, Store

PASSWORD = "secret123"


PEOPLE = {
    "owner": ("13900000001", "helper", "张帮扶"),
    "other": ("13900000002", "helper", "李帮扶"),
    "supervisor": ("13700000001", "supervisor", "王督查"),
    "admin": ("13600000001", "admin", "赵扶贫办"),
}


SAMPLES = Path(__file__).resolve().parent / "samples"


# scrypt costs ~50 ms a login; the tests log in hundreds of times. Hashes made during the
# tests use a cheap method (the app's own default stays scrypt, tested in test_passwords).
passwords.METHOD = "pbkdf2:sha256:1000"


def _share_url_builders() -> None:
    """Every app the tests create (about a thousand) compiles each of its ~75 URL rules into
    two builder functions through ``ast`` and ``compile``: two thirds of ``create_app``. A
    builder is a function of the rule's parsed parts, its defaults and whether it appends
    unknown arguments, and reads the rule's converters from the rule it is bound to at call
    time, so rules with the same parts can share it. The tests' apps compile each once."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    builders: dict[tuple[Any, ...], Any] = {}

    def shared(self: Rule, append_unknown: bool = True) -> Any:
        defaults = tuple(sorted((k, repr(v)) for k, v in (self.defaults or {}).items()))
        key = (self.rule, tuple(self._trace), defaults, append_unknown)
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    Rule._compile_builder = shared  # type: ignore[method-assign]


_share_url_builders()


def _share_compiled_templates() -> None:
    """Each app has its own Jinja environment, which lexes, parses and compiles every
    template it renders: about 70 ms of a test's first page. The tests' apps share the
    compiled code (Jinja checks each template's source against it before use)."""
    from jinja2 import BytecodeCache
    from jinja2.bccache import Bucket

    class Shared(BytecodeCache):
        def __init__(self) -> None:
            self.codes: dict[str, bytes] = {}

        def load_bytecode(self, bucket: Bucket) -> None:
            code = self.codes.get(bucket.key)
            if code is not None:
                bucket.bytecode_from_string(code)

        def dump_bytecode(self, bucket: Bucket) -> None:
            self.codes[bucket.key] = bucket.bytecode_to_string()

    shared = Shared()
    create_environment = Flask.create_jinja_environment

    def with_shared_code(self: Flask) -> Any:
        env = create_environment(self)
        env.bytecode_cache = shared
        return env

    Flask.create_jinja_environment = with_shared_code  # type: ignore[method-assign]


_share_compiled_templates()


_HASH = hash_password(PASSWORD)


DEMO_TODAY = date(2026, 11, 20)  # mid-month: the current month of the demo is under way


def demo_app(folder: Path, months: int = 2, today: date = DEMO_TODAY) -> tuple[Flask, Store]:
    """An app over a fresh demo township in ``folder`` (for module-scoped fixtures: the
    township takes a second or two to build)."""
    from fieldvisit.demo import build_demo

    app = create_app({"TESTING": True, "DATA_DIR": str(folder), "SECRET_KEY": "x"})
    store = app.extensions["fieldvisit.store"]
    with app.app_context():
        build_demo(store, months=months, today=today)
    return app, store


def make_household(**overrides: Any) -> Household:
    """A valid household; override any field."""
    fields: dict[str, Any] = {
        "id": "4117210010001",
        "village": "聂河村",
        "group": "3组",
        "head": "马娟",
        "members": 2,
        "attribute": "dibao",
        "cause": "illness",
        "status": "not_exited",
        "token": new_token(),
        "phone": "15391085858",
        "id_number": "411721193701024373",
        "helpers": [PEOPLE["owner"][0]],
    }
    fields.update(overrides)
    return Household(**fields)


def seed(store: Store) -> dict[str, Household]:
    """Two households and the named people."""
    households = {
        "h1": make_household(),
        "h2": make_household(
            id="4117210020001",
            village="王寨村",
            head="梁刚",
            helpers=[PEOPLE["other"][0]],
            id_number="41172119810905367X",
        ),
    }

    def fill(reg: Registry) -> None:
        for phone, role, name in PEOPLE.values():
            reg.users[phone] = User(phone=phone, name=name, role=role, password_hash=_HASH)
        for h in households.values():
            reg.households[h.id] = h
            reg.villages.setdefault(h.village, Village(h.village))

    store.update_registry(fill)
    return households


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


class Auth:
    """Logs the test client in as one of the named people, through the real login form."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, who: str) -> None:
        phone = PEOPLE[who][0]
        page = self.client.get("/login").get_data(as_text=True)
        response = self.client.post(
            "/login", data={"phone": phone, "password": PASSWORD, "csrf_token": csrf_from(page)}
        )
        assert response.status_code == 302, response.get_data(as_text=True)

    def csrf(self) -> str:
        """A CSRF token of the current session (from any page with a form)."""
        return csrf_from(self.client.get("/password").get_data(as_text=True))


def visit_payload(target: Household, **overrides: Any) -> dict[str, Any]:
    """A complete in-person visit as the API takes it."""
    payload: dict[str, Any] = {
        "id": "a1b2c3d4-0000-4000-8000-000000000001",
        "household": target.id,
        "date": date.today().isoformat(),
        "kind": "in_person",
        "guarantees": dict.fromkeys(
            ("food", "clothing", "education", "medical", "housing", "water"), True
        ),
        "environment": {
            "yard": True,
            "indoor": True,
            "tidy": False,
            "bedding": True,
            "kitchen": True,
            "toilet": None,
            "personal": True,
            "clutter": True,
        },
        "helped_clean": True,
        "needs": [{"category": "medical", "description": "慢性病用药报销", "urgent": True}],
        "satisfaction": "satisfied",
        "notes": "院子已打扫",
    }
    payload.update(overrides)
    return payload


# --- registry files ----------------------------------------------------------------------
SAMPLE_CSV = SAMPLES / "registry-sample.csv"
SAMPLE_XLSX = SAMPLES / "registry-sample.xlsx"
ERRORS_CSV = SAMPLES / "registry-errors.csv"
ACTOR = "13600000001"


def sample_rows() -> list[list[str]]:
    """The sample registry's rows, header first."""
    return list(csv.reader(io.StringIO(SAMPLE_CSV.read_text(encoding="utf-8-sig"))))


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_changes(changes: dict[str, str], row: int = 1) -> bytes:
    """The sample CSV with some cells of one data row changed (by column header)."""
    rows = sample_rows()
    for column, value in changes.items():
        rows[row][rows[0].index(column)] = value
    return csv_bytes(rows)


def content(store: Store) -> dict[str, dict[str, Any]]:
    """The stored households without what an import makes up (token, time stamp)."""
    out = {}
    for h in store.registry().households.values():
        doc = h.to_doc()
        del doc["token"], doc["updated_at"]
        out[h.id] = doc
    return out


def people(store: Store) -> dict[str, tuple[str, str, str]]:
    return {u.phone: (u.name, u.role, u.unit) for u in store.registry().users.values()}


def import_errors(store: Store, data: bytes, name: str = "registry.csv") -> list[registry.RowError]:
    with pytest.raises(RegistryError) as caught:
        import_registry(store, data, name, ACTOR)
    return caught.value.errors


MESSY_HEADER = [
    "序号",
    "村",
    "户编号",
    " 户主姓名\u3000",
    "家庭人口",
    "身份证号",
    "贫困户属性",
    "主要致贫原因",
    "脱贫状态",
    "脱贫年度",
    "帮扶责任人电话",
    "帮扶责任人",
    "帮扶单位",
    "组",
    "联系电话",
    "长期不在家",
]
MESSY_ROWS: list[list[Any]] = [
    ["师灵镇建档立卡贫困户花名册"],
    ["填报单位：师灵镇扶贫办", None, None, "2018年5月"],
    MESSY_HEADER,
    [
        1,
        "\u3000聂河村\u00a0",
        4117210010001.0,  # Excel made the number a float
        "马\u3000娟",  # padded to line up with three-character names
        "2.0",
        "41172119810905367x",
        "低保贫困户 ",
        "因病",
        "未脱贫",
        None,
        13900000001.0,
        " 蒋海国",
        "县供电公司",
        "9组",
        15391085858,
        None,
    ],
    [
        2,
        "王寨村",
        "4117210020001",
        "梁刚",
        3.0,
        " 411721193701024373 ",
        "一般贫困户",
        "因残",
        "已脱贫",
        "2016.0",
        "13900000002，13900000003",
        "郑金芝、苏春军",
        "县扶贫办",
        "1组",
        "",
        "是",
    ],
    [None] * 16,
    [3],  # a numbered row with nothing else in it
    [],
    ["", "\u3000", None],
]


# --- the browser -------------------------------------------------------------------------
# Debian's Chromium, driven by Playwright (which downloads no browser of its own). Without
# the background-networking flags it tries to reach hosts this network does not have.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium(ignore_default_args: Sequence[str] = ()) -> Iterator[Any]:
    """A headless Chromium for a module's browser tests; skips them when it is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            ignore_default_args=list(ignore_default_args),
        )
        try:
            yield browser
        finally:
            browser.close()


def stored_bytes(path: Path) -> bytes:
    """A data file as stored: its content, then its journal's (a change lands in either:
    the journal takes each change, a fold moves them into the file)."""
    return b"".join(
        p.read_bytes() for p in (path, path.with_name(path.name + ".log")) if p.exists()
    )


def stored_identity(path: Path) -> list[tuple[int, int, int] | None]:
    """The (inode, mtime, size) of a data file and of its journal: equal while nothing was
    written to either."""
    out: list[tuple[int, int, int] | None] = []
    for p in (path, path.with_name(path.name + ".log")):
        st = p.stat() if p.exists() else None
        out.append((st.st_ino, st.st_mtime_ns, st.st_size) if st else None)
    return out
