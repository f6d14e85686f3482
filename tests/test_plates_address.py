"""Door plates never encode a dead address, and plates naming the wrong helper are found.

The address: FIELDVISIT_BASE_URL, else the office's setting on the door-plates page (手机访问地址),
else none; the address a browser happened to use is shown but never printed, and this
computer's own (127.0.0.1, localhost, ::1) is refused everywhere. After a transfer the office
sees which plates name a helper no longer paired and prints just those.
"""

from __future__ import annotations

import subprocess

import pytest
from helpers import PEOPLE, make_household
from test_report_pages import _download, _finish, _job_id, _qr_codes

from fieldvisit.clock import now_iso
from fieldvisit.documents.jobs import get_runner
from fieldvisit.documents.plate_address import SETTING, address_state, is_loopback
from fieldvisit.models import Village
from fieldvisit.storage import Registry

ADMIN = PEOPLE["admin"][0]
OWNER = PEOPLE["owner"][0]
OTHER = PEOPLE["other"][0]
LAN = "http://192.168.1.10:5000"


@pytest.fixture()
def unset(app):
    """No FIELDVISIT_BASE_URL: the address comes from the page's setting or nowhere."""
    app.config["BASE_URL"] = None
    return app


@pytest.fixture()
def more(store, households):
    """Two more households: h3 with the owner (transferred below), h4 with the other."""
    extra = {
        "h3": make_household(id="4117210010002", head="陈国庆", helpers=[OWNER]),
        "h4": make_household(id="4117210020002", village="王寨村", head="黄秀兰", helpers=[OTHER]),
    }

    def fill(reg: Registry) -> None:
        for h in extra.values():
            reg.households[h.id] = h
            reg.villages.setdefault(h.village, Village(h.village))

    store.update_registry(fill)
    return {**households, **extra}


def _page(client) -> str:
    return client.get("/office/plates").get_data(as_text=True)


def _queue(client, auth, **form: str):
    return client.post("/office/plates", data={"csrf_token": auth.csrf(), **form})


def _set_address(client, auth, address: str):
    return client.post(
        "/office/plates/address", data={"csrf_token": auth.csrf(), "address": address}
    )


def _address_changes(store) -> list:
    entries = store.audit_log.entries(now_iso()[:7])
    return [e for e in entries if e.action == "settings.phone_address"]


def _text(pdf) -> str:
    return subprocess.run(
        ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


def _print(app, client, auth, tmp_path, name: str, **form: str) -> tuple[str, list[str]]:
    """Queue plates from the page, wait for them, and return the PDF's text and codes."""
    job = _finish(app, _job_id(_queue(client, auth, **form)))
    assert job.status == "done", job.error
    response = _download(client, f"/reports/jobs/{job.id}/download")
    assert response.status_code == 200
    pdf = tmp_path / f"{name}.pdf"
    pdf.write_bytes(response.data)
    return _text(pdf), _qr_codes(pdf)


# --- the address ------------------------------------------------------------------------------


def test_a_request_derived_address_is_shown_warned_about_and_refused(
    app, unset, client, auth, households
):
    auth.login("admin")
    page = _page(client)
    # The test client's own address is what the codes would have carried: shown, with why
    # it cannot be used, and the setting asked for.
    assert "http://localhost" in page
    assert "手机扫码打不开" in page and "还没有设置手机访问地址" in page
    assert 'action="/office/plates/address"' in page and "手机访问地址" in page
    assert "disabled" in page
    for form in ({"village": "王寨村"}, {}, {"household": households["h1"].id}):
        response = _queue(client, auth, **form)
        assert response.status_code == 400
        text = response.get_data(as_text=True)
        assert "还没有设置手机访问地址，不能生成户牌" in text and "FIELDVISIT_BASE_URL" in text
    assert get_runner(app).jobs_of(ADMIN) == []  # nothing queued
    # The household's page shows no link either, and where to set one.
    page = client.get(f"/h/{households['h1'].token}").get_data(as_text=True)
    assert f"localhost/h/{households['h1'].token}" not in page
    assert "还没有设置手机能打开的地址" in page and 'href="/office/plates"' in page


def test_a_lan_address_the_browser_used_is_still_not_printed(app, unset, store, households):
    with app.test_request_context(base_url="http://192.168.1.20:5000"):
        from flask import request

        state = address_state(store, request.host_url)
    assert state.url == "http://192.168.1.20:5000" and state.source == "request"
    assert not state.loopback and state.problem is not None


def test_setting_a_lan_address_on_the_page_prints_plates_leading_there(
    app, unset, client, auth, store, households, tmp_path
):
    auth.login("admin")
    response = _set_address(client, auth, f" {LAN}/ ")
    assert response.status_code == 303 and response.headers["Location"] == "/office/plates"
    assert store.setting(SETTING) == LAN
    page = _page(client)
    assert LAN in page and "手机扫码打不开" not in page and "disabled" not in page
    # Kept with the registry's settings and audited like any change of the office's.
    (entry,) = _address_changes(store)
    assert entry.who == ADMIN and entry.before == {SETTING: None} and entry.after == {SETTING: LAN}
    audit_page = client.get("/office/audit").get_data(as_text=True)
    assert "设置手机访问地址" in audit_page and LAN in audit_page

    h2 = households["h2"]
    text, codes = _print(app, client, auth, tmp_path, "village", village="王寨村")
    assert h2.id in text
    assert codes == [f"{LAN}/h/{h2.token}"]
    page = client.get(f"/h/{h2.token}").get_data(as_text=True)
    assert f"{LAN}/h/{h2.token}" in page


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("http://127.0.0.1:5000", "是本机地址"),
        ("http://localhost:5000", "是本机地址"),
        ("http://[::1]:5000", "是本机地址"),
        ("http://127.8.9.1", "是本机地址"),
        ("192.168.1.10:5000", "应写成"),
        ("ftp://192.168.1.10", "应写成"),
        ("http://192.168.1.10:5000/?x=1", "应写成"),
        ("http://192.168.1.10:port", "应写成"),
    ],
)
def test_an_address_phones_cannot_open_is_refused(
    unset, client, auth, store, households, address, message
):
    auth.login("admin")
    response = _set_address(client, auth, address)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert message in text and "http://192.168.1.10:5000" in text
    assert store.setting(SETTING) is None
    assert _address_changes(store) == []


def test_loopback_addresses_are_recognised():
    for url in ("http://127.0.0.1", "http://localhost:5000", "http://[::1]/", "http://0.0.0.0"):
        assert is_loopback(url), url
    assert is_loopback("http://[::ffff:127.0.0.1]:5000")
    for url in ("http://192.168.1.10:5000", "https://fv.example.cn", "http://10.0.0.127"):
        assert not is_loopback(url), url


def test_with_base_url_configured_the_address_is_read_only(app, client, auth, store, households):
    auth.login("admin")
    page = _page(client)
    assert "http://fieldvisit.test" in page and "readonly" in page
    assert "FIELDVISIT_BASE_URL" in page and "服务器的配置" in page
    assert 'action="/office/plates/address"' not in page
    response = _set_address(client, auth, LAN)
    assert response.status_code == 400
    assert "由服务器配置 FIELDVISIT_BASE_URL 决定" in response.get_data(as_text=True)
    assert store.setting(SETTING) is None


def test_the_configured_address_wins_over_the_setting(
    app, client, auth, store, households, tmp_path
):
    store.update_registry(lambda reg: reg.settings.update({SETTING: LAN}))
    auth.login("admin")
    h2 = households["h2"]
    codes = _print(app, client, auth, tmp_path, "v", village="王寨村")[1]
    assert codes == [f"http://fieldvisit.test/h/{h2.token}"]


def test_a_loopback_base_url_is_refused_too(app, client, auth, households):
    app.config["BASE_URL"] = "http://127.0.0.1:5000"
    auth.login("admin")
    page = _page(client)
    assert "http://127.0.0.1:5000" in page and "手机扫码打不开" in page and "readonly" in page
    response = _queue(client, auth, village="王寨村")
    assert response.status_code == 400
    assert "FIELDVISIT_BASE_URL 是本机地址" in response.get_data(as_text=True)
    assert get_runner(app).jobs_of(ADMIN) == []


def test_the_command_refuses_without_an_address_phones_reach(
    app, unset, runner, store, households, tmp_path
):
    out = tmp_path / "plates.pdf"
    missing = runner.invoke(args=["door-plates", "--out", str(out)])
    assert missing.exit_code != 0
    assert "FIELDVISIT_BASE_URL" in missing.output and "手机访问地址" in missing.output
    # A loopback value stored by hand (the page refuses one) is refused all the same.
    store.update_registry(lambda reg: reg.settings.update({SETTING: "http://127.0.0.1:5000"}))
    stored = runner.invoke(args=["door-plates", "--out", str(out)])
    assert stored.exit_code != 0
    assert "FIELDVISIT_BASE_URL" in stored.output and "手机访问地址" in stored.output
    app.config["BASE_URL"] = "http://localhost:5000"
    configured = runner.invoke(args=["door-plates", "--out", str(out)])
    assert configured.exit_code != 0
    assert "FIELDVISIT_BASE_URL" in configured.output and "手机访问地址" in configured.output
    assert not out.exists()
    # The page's setting is what the command prints when the variable is not set.
    app.config["BASE_URL"] = None
    store.update_registry(lambda reg: reg.settings.update({SETTING: LAN}))
    h1 = households["h1"]
    done = runner.invoke(args=["door-plates", "--out", str(out), "--household", h1.id])
    assert done.exit_code == 0, done.output
    assert _qr_codes(out) == [f"{LAN}/h/{h1.token}"]


# --- plates naming the wrong helper ------------------------------------------------------------


def test_after_a_transfer_the_office_reprints_just_the_plates_naming_the_old_helper(
    app, client, auth, store, more, tmp_path
):
    auth.login("admin")
    text, codes = _print(app, client, auth, tmp_path, "all")
    assert len(codes) == 4
    assert "需要重新打印的户牌" not in _page(client)

    response = client.post(
        f"/office/helpers/{OWNER}/transfer",
        data={"csrf_token": auth.csrf(), "to": OTHER},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "已将 2 户转交给 李帮扶（13900000002）" in page
    assert "2 户门上的户牌印的还是原来的帮扶责任人" in page
    assert 'href="/office/plates#stale-plates"' in page  # the confirmation points to them

    page = _page(client)
    assert "需要重新打印的户牌：2 户" in page
    listed = page[page.index('id="stale-plates"') :]
    listed = listed[: listed.index("</section>")]
    assert more["h1"].id in listed and more["h3"].id in listed
    assert more["h2"].id not in listed and more["h4"].id not in listed
    assert "张帮扶 13900000001" in listed and "李帮扶 13900000002" in listed
    assert "只打印这 2 户的户牌" in listed

    job_id = _job_id(_queue(client, auth, stale="1"))
    assert "户牌：需要重新打印，2 户" in client.get(f"/reports/jobs/{job_id}").get_data(
        as_text=True
    )
    text, codes = _print(app, client, auth, tmp_path, "stale", stale="1")
    assert more["h1"].id in text and more["h3"].id in text
    assert more["h2"].id not in text and more["h4"].id not in text
    assert "李帮扶" in text and "张帮扶" not in text
    assert sorted(codes) == sorted(
        f"http://fieldvisit.test/h/{more[k].token}" for k in ("h1", "h3")
    )
    assert "需要重新打印的户牌" not in _page(client)
    response = _queue(client, auth, stale="1")
    assert response.status_code == 400
    assert "没有需要重新打印的户牌" in response.get_data(as_text=True)


def test_the_command_prints_only_stale_plates(app, client, auth, runner, store, more, tmp_path):
    out = tmp_path / "all.pdf"
    assert runner.invoke(args=["door-plates", "--out", str(out)]).exit_code == 0
    nothing = runner.invoke(args=["door-plates", "--stale", "--out", str(out)])
    assert nothing.exit_code != 0 and "没有需要重新打印的户牌" in nothing.output
    # One household's helpers changed on its edit page: its confirmation points there too.
    h2 = more["h2"]
    auth.login("admin")
    response = client.post(
        f"/office/households/{h2.id}/helpers",
        data={"csrf_token": auth.csrf(), "helpers": OWNER},
        follow_redirects=True,
    )
    assert "1 户门上的户牌印的还是原来的帮扶责任人" in response.get_data(as_text=True)
    stale = tmp_path / "stale.pdf"
    done = runner.invoke(args=["door-plates", "--stale", "--out", str(stale)])
    assert done.exit_code == 0, done.output
    text = _text(stale)
    assert h2.id in text and "张帮扶" in text
    assert not any(more[k].id in text for k in ("h1", "h3", "h4"))
    assert _qr_codes(stale) == [f"http://fieldvisit.test/h/{h2.token}"]
    again = runner.invoke(args=["door-plates", "--stale", "--out", str(stale)])
    assert again.exit_code != 0 and "没有需要重新打印的户牌" in again.output
    both = runner.invoke(args=["door-plates", "--stale", "--household", h2.id, "--out", str(stale)])
    assert both.exit_code != 0
