"""The English catalogue: complete, faithful to its placeholders, clean, and really used.

Message ids are the Chinese texts (docs/decisions/0003-chinese-message-ids.md), so a string
missing from ``messages.po`` shows up in Chinese on an English page. When a test here fails
after you added or changed a message, update the catalogue from the repository root:

    .venv/bin/pybabel extract -F babel.cfg -k _l -o /tmp/messages.pot --no-location \\
        --omit-header .
    .venv/bin/pybabel update -i /tmp/messages.pot -d fieldvisit/translations -l en \\
        --no-fuzzy-matching --ignore-obsolete

then write the English for every empty ``msgstr``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from helpers import PEOPLE, Auth

from fieldvisit.models import Household
from fieldvisit.registry import COLUMNS

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "babel.cfg"
PO_PATH = ROOT / "fieldvisit" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
# The keywords of the documented extract command: Babel's defaults plus ``-k _l``.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}

# %(name)s, %(n)d, %(x)05.2f …: a named placeholder and its conversion.
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[hlL]?([a-zA-Z%])")
HAN = re.compile(r"[\u4e00-\u9fff]")
# Chinese may stay in an English text only where the spreadsheet needs it verbatim: a column
# header the importer looks for, or the 是/否 it reads, each followed by its English gloss,
# as in "户编号 (household no.)".
SPREADSHEET_TERMS = frozenset({*COLUMNS, "是", "否"})
GLOSSED_TERM = re.compile(r"([\u4e00-\u9fff]+) \([^()\u4e00-\u9fff]*[A-Za-z][^()\u4e00-\u9fff]*\)")
# The link that switches back to Chinese is Chinese on purpose.
LANGUAGE_SWITCH = "中文"


@dataclass(frozen=True)
class Extracted:
    msgid: str
    context: str | None
    where: str  # "path:line" of the first use

    @property
    def key(self) -> tuple[str, str | None]:
        return self.msgid, self.context


@functools.cache
def extracted() -> dict[tuple[str, str | None], Extracted]:
    """Every message the code and templates use, as the extract command finds them."""
    with MAPPING.open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(MAPPING))
    found: dict[tuple[str, str | None], Extracted] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        entry = Extracted(msgid, context, f"{filename}:{lineno}")
        found.setdefault(entry.key, entry)
    return found


@functools.cache
def catalogue() -> Catalog:
    with PO_PATH.open("rb") as fh:
        return read_po(fh)


def translations() -> list[tuple[str, str]]:
    """(msgid, msgstr) of every entry in the catalogue; plural forms each count."""
    pairs = []
    for message in catalogue():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        pairs.extend((ids[min(i, len(ids) - 1)], s) for i, s in enumerate(strings))
    return pairs


def placeholders(text: str) -> set[str]:
    return {f"%({name}){kind}" for name, kind in PLACEHOLDER.findall(text) if kind != "%"}


def dummy_values(text: str) -> dict[str, object]:
    return {
        name: 1 if kind in "diouxXeEfFgGc" else "x"
        for name, kind in PLACEHOLDER.findall(text)
        if kind != "%"
    }


def formats(text: str, values: dict[str, object]) -> bool:
    # Flask-Babel (and Jinja's new-style gettext) apply ``%`` to the translated text.
    try:
        text % values
    except (KeyError, TypeError, ValueError):
        return False
    return True


def po_entry(msgid: str) -> str:
    escaped = msgid.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'msgid "{escaped}"\nmsgstr ""'


def test_the_source_has_messages() -> None:
    # Guards the tests below against a mapping that silently matches nothing.
    places = {e.where.split(":")[0] for e in extracted().values()}
    assert any(p.startswith("fieldvisit/") for p in places), places
    assert any(p.startswith("templates/") for p in places), places
    assert ("登录", None) in extracted()


def test_every_message_has_an_english_translation() -> None:
    missing = []
    for key, entry in sorted(extracted().items(), key=lambda kv: kv[1].where):
        message = catalogue().get(*key)
        strings = message.string if message is not None else ""
        strings = strings if isinstance(strings, tuple) else (strings,)
        if message is None or message.fuzzy or not all(s.strip() for s in strings):
            state = "fuzzy" if message is not None and message.fuzzy else "untranslated"
            missing.append(f"# {entry.where} ({state})\n{po_entry(entry.msgid)}")
    assert not missing, (
        f"{len(missing)} message(s) have no English in {PO_PATH.relative_to(ROOT)} "
        "(see this file's docstring for the commands):\n\n" + "\n\n".join(missing)
    )


def test_the_catalogue_has_no_obsolete_entries() -> None:
    used = extracted()
    # A plural entry's id is (singular, plural); the extracted key is its singular.
    singular = {m.id: m.id[0] if isinstance(m.id, tuple) else m.id for m in catalogue() if m.id}
    stale = [m.id for m in catalogue() if m.id and (singular[m.id], m.context) not in used]
    stale += [f"#~ {m.id}" for m in catalogue().obsolete.values()]
    assert not stale, (
        "these entries of messages.po are no longer used by the code or templates; "
        "remove them:\n" + "\n".join(map(str, stale))
    )


def test_translations_keep_their_placeholders() -> None:
    wrong = []
    for msgid, msgstr in translations():
        if not msgstr:
            continue
        if placeholders(msgid) != placeholders(msgstr):
            wrong.append(
                f"{msgid}\n  -> {msgstr}\n  placeholders {sorted(placeholders(msgid))} "
                f"!= {sorted(placeholders(msgstr))}"
            )
            continue
        values = dummy_values(msgid)
        if formats(msgid, values) and not formats(msgstr, values):
            wrong.append(f"{msgid}\n  -> {msgstr}\n  cannot be formatted (a lone %? write %%)")
    assert not wrong, "\n".join(wrong)


def test_translations_are_english() -> None:
    chinese = []
    for msgid, msgstr in translations():
        rest = GLOSSED_TERM.sub(
            lambda m: "" if m.group(1) in SPREADSHEET_TERMS else m.group(0), msgstr
        )
        if HAN.search(rest):
            chinese.append(f"{msgid}\n  -> {msgstr}")
    assert not chinese, (
        "these translations still contain Chinese (only spreadsheet headers and 是/否 may stay, "
        'each followed by its English, e.g. "户编号 (household no.)"):\n' + "\n".join(chinese)
    )


def test_the_catalogue_header() -> None:
    assert str(catalogue().locale) == "en"
    assert catalogue().plural_forms == "nplurals=2; plural=(n != 1);"
    assert catalogue().charset.lower() == "utf-8"


def chinese_runs(html: str, allowed: set[str]) -> list[str]:
    """The runs of Chinese in a page (text and attributes) once ``allowed`` texts are gone."""
    for text in sorted(allowed, key=len, reverse=True):
        html = html.replace(text, "")
    return re.findall(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+", html)


def english(client: FlaskClient) -> FlaskClient:
    response = client.get("/lang/en")
    assert response.status_code == 302
    return client


def test_login_page_in_english(client: FlaskClient) -> None:
    html = english(client).get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Log in" in html
    assert "Mobile number" in html
    assert chinese_runs(html, {LANGUAGE_SWITCH}) == []


def test_login_page_is_chinese_by_default(client: FlaskClient) -> None:
    html = client.get("/login").get_data(as_text=True)
    assert "登录" in html
    assert "Log in" not in html


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_field_pages_in_english(
    client: FlaskClient, auth: Auth, households: dict[str, Household], who: str
) -> None:
    english(client)
    auth.login(who)
    # Data stays as entered: names, villages, groups.
    data = {LANGUAGE_SWITCH} | {name for _phone, _role, name in PEOPLE.values()}
    for h in households.values():
        data |= {h.head, h.village, h.group}
    token = households["h1"].token
    pages = {
        "/": "Field visits",
        f"/h/{token}": "Household no.",
        f"/h/{token}/visit": "Basic guarantees",
        "/password": "Change password",
    }
    for url, expected in pages.items():
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert expected in html, url
        assert chinese_runs(html, data) == [], url


def test_visit_form_errors_in_english(
    client: FlaskClient, auth: Auth, households: dict[str, Household]
) -> None:
    english(client)
    auth.login("owner")
    url = f"/h/{households['h1'].token}/visit"
    response = client.post(url, data={"csrf_token": auth.csrf()})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Please choose the visit type" in html
    data = {LANGUAGE_SWITCH, "马娟", "聂河村", "3组", PEOPLE["owner"][2]}
    assert chinese_runs(html, data) == []


def test_counts_agree_with_their_number_in_english(app) -> None:  # type: ignore[no-untyped-def]
    from flask_babel import force_locale, ngettext

    with app.test_request_context("/"), force_locale("en"):
        assert ngettext("%(num)d 户", "%(num)d 户", 1) == "1 household"
        assert ngettext("%(num)d 户", "%(num)d 户", 2) == "2 households"
        assert ngettext("%(num)d 条意见", "%(num)d 条意见", 1) == "1 comment"
    with app.test_request_context("/"), force_locale("zh"):
        assert ngettext("%(num)d 户", "%(num)d 户", 2) == "2 户"
