"""Imports within scope: a township's office imports only its own township's households and
their members; the county's office (and a single township's) imports anything; the command
line is the county's unless given --township."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from fieldvisit.models import Member, User, Village
from fieldvisit.registry import RegistryError, import_registry
from fieldvisit.storage import Registry, Store
from tests.helpers import PASSWORD, csrf_from, csv_bytes, make_household, xlsx_bytes

OWN, OTHER = "城关镇", "河口镇"
COUNTY_ADMIN, TOWNSHIP_ADMIN = "13600000009", "13600000008"
SHARED_HELPER = "13900000005"  # helps one household in each township
OWN_ID, OTHER_ID, NEW_ID = "4100000010001", "4100000020001", "4100000010002"
OTHER_PERSON = "110101199003070011"  # a member of the other township's household
HEADER = [
    "户编号", "村", "组", "户主姓名", "家庭人口", "贫困户属性", "主要致贫原因", "脱贫状态",
    "脱贫年度", "联系电话", "身份证号", "长期不在家", "帮扶责任人", "帮扶责任人电话", "帮扶单位",
]  # fmt: skip


def row(hid: str, head: str, helper: str = "王帮扶", phone: str = "13900000007") -> list[str]:
    cells = [hid, "王庄村", "1组", head, "2", "低保贫困户", "因病", "未脱贫", "", "", "", "否"]
    return [*cells, helper, phone, "县局"]


def registry_file(*rows: list[str], townships: list[str] | None = None) -> bytes:
    """A registry CSV of ``rows``; with ``townships``, a 乡镇 column holding them."""
    if townships is None:
        return csv_bytes([HEADER, *rows])
    return csv_bytes([[*HEADER, "乡镇"], *([*r, t] for r, t in zip(rows, townships, strict=True))])


@pytest.fixture()
def county(store: Store) -> None:
    """王庄村 in two townships, one household each sharing a helper; the county's admin and
    a township's."""
    from fieldvisit.access.passwords import hash_password

    own = make_household(
        id=OWN_ID, village="王庄村", township=OWN, head="马娟", helpers=[SHARED_HELPER]
    )
    other = make_household(
        id=OTHER_ID, village="王庄村", township=OTHER, head="梁刚", helpers=[SHARED_HELPER]
    )

    def fill(reg: Registry) -> None:
        digest = hash_password(PASSWORD)
        reg.users[COUNTY_ADMIN] = User(COUNTY_ADMIN, "县办", "admin", digest)
        reg.users[TOWNSHIP_ADMIN] = User(TOWNSHIP_ADMIN, "镇办", "admin", digest, township=OWN)
        reg.users[SHARED_HELPER] = User(SHARED_HELPER, "张帮扶", "helper", unit="县局")
        for h in (own, other):
            reg.households[h.id] = h
            reg.villages[h.village_key] = Village(h.village, township=h.township)
        reg.members[OTHER_PERSON] = Member(OTHER_PERSON, OTHER_ID, "梁小刚", "之子")

    store.update_registry(fill)


def _login(client: FlaskClient, phone: str) -> str:
    page = client.get("/login").get_data(as_text=True)
    data = {"phone": phone, "password": PASSWORD, "csrf_token": csrf_from(page)}
    assert client.post("/login", data=data).status_code == 302
    return csrf_from(client.get("/office/import").get_data(as_text=True))


def _upload(client: FlaskClient, csrf: str, data: bytes, url: str = "/office/import") -> str:
    form = {"csrf_token": csrf, "file": (io.BytesIO(data), "花名册.csv")}
    response = client.post(url, data=form, content_type="multipart/form-data")
    return f"{response.status_code} {response.get_data(as_text=True)}"


def test_it_gives_a_township_offices_rows_its_own_township(
    client: FlaskClient, store: Store, county: None
) -> None:
    csrf = _login(client, TOWNSHIP_ADMIN)
    answer = _upload(client, csrf, registry_file(row(NEW_ID, "袁淑"), row(OWN_ID, "马娟娟")))
    assert answer.startswith("200") and "导入完成" in answer
    reg = store.registry()
    assert reg.households[NEW_ID].township == OWN
    assert reg.households[OWN_ID].head == "马娟娟"
    assert f"{OWN}/王庄村" in reg.villages


def test_it_refuses_a_row_naming_another_township_and_imports_nothing(
    client: FlaskClient, store: Store, county: None
) -> None:
    csrf = _login(client, TOWNSHIP_ADMIN)
    data = registry_file(row(NEW_ID, "袁淑"), row("4100000020002", "沈文"), townships=["", OTHER])
    answer = _upload(client, csrf, data)
    assert answer.startswith("400")
    assert "<td>3</td><td>乡镇</td>" in answer and f"“{OTHER}”的帮扶户" in answer
    assert NEW_ID not in store.registry().households


def test_it_refuses_updating_another_townships_household(
    client: FlaskClient, store: Store, county: None
) -> None:
    csrf = _login(client, TOWNSHIP_ADMIN)
    answer = _upload(client, csrf, registry_file(row(OWN_ID, "马娟娟"), row(OTHER_ID, "改名")))
    assert (
        answer.startswith("400")
        and "<td>3</td><td>户编号</td>" in answer
        and "已登记在其他乡镇" in answer
    )
    reg = store.registry()
    assert reg.households[OTHER_ID].head == "梁刚" and reg.households[OTHER_ID].township == OTHER
    assert reg.households[OWN_ID].head == "马娟"  # all or nothing


def test_it_refuses_renaming_a_helper_of_another_township(store: Store, county: None) -> None:
    data = registry_file(row(OWN_ID, "马娟", helper="张改名", phone=SHARED_HELPER))
    with pytest.raises(RegistryError) as caught:
        import_registry(store, data, "花名册.csv", TOWNSHIP_ADMIN, township=OWN)
    assert [(e.row, e.column) for e in caught.value.errors] == [(2, "帮扶责任人")]
    assert store.user(SHARED_HELPER).name == "张帮扶"  # type: ignore[union-attr]
    # Pairing with them, unchanged, is the township's business.
    same = registry_file(row(NEW_ID, "袁淑", helper="张帮扶", phone=SHARED_HELPER))
    import_registry(store, same, "花名册.csv", TOWNSHIP_ADMIN, township=OWN)
    assert store.household(NEW_ID).helpers == [SHARED_HELPER]  # type: ignore[union-attr]


def test_the_households_left_out_are_the_townships_own_only(store: Store, county: None) -> None:
    data = registry_file(row(NEW_ID, "袁淑"))
    report = import_registry(store, data, "花名册.csv", TOWNSHIP_ADMIN, township=OWN)
    assert report.missing_ids == [OWN_ID]
    county_wide = import_registry(store, data, "花名册.csv", COUNTY_ADMIN)
    assert sorted(county_wide.missing_ids) == [OWN_ID, OTHER_ID]


def test_the_county_imports_every_township(client: FlaskClient, store: Store, county: None) -> None:
    csrf = _login(client, COUNTY_ADMIN)
    data = registry_file(row(OWN_ID, "马娟娟"), row(OTHER_ID, "梁刚刚"), townships=[OWN, OTHER])
    assert _upload(client, csrf, data).startswith("200")
    reg = store.registry()
    assert (reg.households[OWN_ID].head, reg.households[OTHER_ID].head) == ("马娟娟", "梁刚刚")
    assert reg.households[OTHER_ID].township == OTHER


def test_a_single_townships_office_imports_as_before(
    client: FlaskClient, store: Store, auth, households
) -> None:  # type: ignore[no-untyped-def]
    auth.login("admin")
    answer = _upload(client, auth.csrf(), registry_file(row(NEW_ID, "袁淑")))
    assert answer.startswith("200")
    assert store.household(NEW_ID).township == ""  # type: ignore[union-attr]


def test_the_command_line_imports_anything_unless_given_a_township(
    runner, store: Store, county: None, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "花名册.csv"
    path.write_bytes(registry_file(row(OTHER_ID, "梁刚刚")))
    refused = runner.invoke(args=["import-registry", "--township", OWN, str(path)])
    assert refused.exit_code != 0 and "第 2 行，户编号" in refused.output
    assert store.household(OTHER_ID).head == "梁刚"  # type: ignore[union-attr]
    done = runner.invoke(args=["import-registry", str(path)])
    assert done.exit_code == 0, done.output
    assert store.household(OTHER_ID).head == "梁刚刚"  # type: ignore[union-attr]
    path.write_bytes(registry_file(row(NEW_ID, "袁淑")))
    assert runner.invoke(args=["import-registry", "--township", OWN, str(path)]).exit_code == 0
    assert store.household(NEW_ID).township == OWN  # type: ignore[union-attr]


MEMBERS = ["户编号", "姓名", "与户主关系", "身份证号"]


def test_a_township_office_imports_only_its_own_households_members(
    client: FlaskClient, store: Store, county: None
) -> None:
    csrf = _login(client, TOWNSHIP_ADMIN)
    url = "/office/import-members"
    other = xlsx_bytes([MEMBERS, [OWN_ID, "马小娟", "之女", "110101199003070038"],
                        [OTHER_ID, "梁二", "之子", "110101199003070054"]])  # fmt: skip
    form = {"csrf_token": csrf, "file": (io.BytesIO(other), "成员.xlsx")}
    answer = client.post(url, data=form, content_type="multipart/form-data")
    assert answer.status_code == 400
    assert "<td>3</td><td>户编号</td>" in answer.get_data(as_text=True)
    moved = xlsx_bytes([MEMBERS, [OWN_ID, "梁小刚", "之子", OTHER_PERSON]])
    form = {"csrf_token": csrf, "file": (io.BytesIO(moved), "成员.xlsx")}
    answer = client.post(url, data=form, content_type="multipart/form-data")
    assert answer.status_code == 400 and "其他乡镇的户" in answer.get_data(as_text=True)
    reg = store.registry()
    assert list(reg.members) == [OTHER_PERSON] and reg.members[OTHER_PERSON].household == OTHER_ID
