"""The transfer form (转交全部帮扶户): its message names the receiving helper, and a name that
means no helper or more than one keeps what the clerk typed, with the error at the field."""

from __future__ import annotations

from datetime import date

import pytest
from helpers import PASSWORD, PEOPLE, make_household

from fieldvisit.access.passwords import hash_password
from fieldvisit.models import User

OWNER = PEOPLE["owner"][0]
OTHER = PEOPLE["other"][0]
H1, H7 = "4117210010001", "4117210010007"
TWIN = "13900000008"  # a second 李帮扶
MONTH = date.today().isoformat()[:7]


@pytest.fixture()
def office(store, households):
    """The owner's second household (王建国), and a second helper named 李帮扶."""

    def add(reg):
        h = make_household(id=H7, head="王建国", group="5组", id_number="")
        reg.households[h.id] = h
        reg.users[TWIN] = User(TWIN, "李帮扶", "helper", hash_password(PASSWORD))

    store.update_registry(add)
    return store


def _transfer(client, auth, to: str):
    auth.login("admin")
    return client.post(
        f"/office/helpers/{OWNER}/transfer", data={"csrf_token": auth.csrf(), "to": to}
    )


def _transfer_form(page: str) -> str:
    start = page.rindex("<form", 0, page.index(f'action="/office/helpers/{OWNER}/transfer"'))
    return page[start : page.index("</form>", start)]


def _unchanged(store) -> None:
    assert store.household(H1).helpers == [OWNER] and store.household(H7).helpers == [OWNER]
    assert not any(e.action == "helper.transfer" for e in store.audit_log.entries(MONTH))


@pytest.mark.parametrize("to", [OTHER, f"李帮扶 {OTHER}"], ids=["phone", "name and phone"])
def test_the_message_names_the_receiving_helper(client, auth, office, to):
    response = _transfer(client, auth, to)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert '<p class="flash" role="status">已将 2 户转交给 李帮扶（13900000002）' in page
    assert office.household(H1).helpers == [OTHER] == office.household(H7).helpers


def test_a_unique_name_is_enough(client, auth, office):
    office.update_registry(lambda reg: reg.users.pop(TWIN))
    response = _transfer(client, auth, "李帮扶")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已将 2 户转交给 李帮扶（13900000002）" in page


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("李帮扶", "有 2 位帮扶责任人叫“李帮扶”，请填手机号"),
        ("李帮忙", "没有叫“李帮忙”的帮扶责任人，请填手机号"),
    ],
    ids=["two helpers share the name", "no helper has the name"],
)
def test_a_name_that_is_not_one_helper_is_shown_at_the_field(client, auth, office, typed, message):
    response = _transfer(client, auth, typed)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    form = _transfer_form(page)
    assert f'<p class="error" id="to-error" role="alert">{message}</p>' in form
    assert f'value="{typed}"' in form
    assert 'aria-invalid="true" aria-describedby="to-error"' in form
    # Not above the page, and no message as if something had been done.
    assert page.count(message) == 1 and 'class="flash"' not in page
    _unchanged(office)


def test_the_helper_themself_is_refused_at_the_field(client, auth, office):
    response = _transfer(client, auth, OWNER)
    assert response.status_code == 400
    form = _transfer_form(response.get_data(as_text=True))
    assert "不能转给本人" in form and f'value="{OWNER}"' in form
    _unchanged(office)


def test_a_fresh_form_is_empty_and_unmarked(client, auth, office):
    auth.login("admin")
    form = _transfer_form(client.get(f"/office/helpers/{OWNER}").get_data(as_text=True))
    assert 'value=""' in form and "aria-invalid" not in form and 'class="error"' not in form
