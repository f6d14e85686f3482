"""API tokens: revoked at once from the command line or the helper's page, listed there with
when they were made and last used (never the token), and every revocation audited."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta

from helpers import PEOPLE, Auth, stored_identity

from fieldvisit.access.tokens import create_token

OWNER = PEOPLE["owner"][0]
OTHER = PEOPLE["other"][0]
ADMIN = PEOPLE["admin"][0]
MONTH = date.today().isoformat()[:7]


def api_status(client, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return client.get("/api/v1/households", headers=headers).status_code


def revocations(store) -> list:
    return [e for e in store.audit_log.read_entries(MONTH) if e.action == "token.revoke"]


def test_the_command_revokes_an_accounts_tokens_at_once(runner, client, store, households):
    mine = [create_token(store, OWNER, actor="test") for _ in range(2)]
    theirs = create_token(store, OTHER, actor="test")
    assert all(api_status(client, t) == 200 for t in mine)
    result = runner.invoke(args=["revoke-tokens", "--phone", OWNER])
    assert result.exit_code == 0, result.output
    assert "已撤销 13900000001 的 2 个 API 令牌" in result.output
    assert [api_status(client, t) for t in mine] == [401, 401]
    assert api_status(client, theirs) == 200
    assert [t.phone for t in store.registry().tokens.values()] == [OTHER]
    (entry,) = revocations(store)
    assert (entry.who, entry.target, entry.after) == ("cli", OWNER, {"tokens": 2})
    # Again: nothing left to revoke, said so, and no entry for nothing.
    again = runner.invoke(args=["revoke-tokens", "--phone", OWNER])
    assert again.exit_code == 0 and "0 个 API 令牌" in again.output
    assert len(revocations(store)) == 1


def test_the_command_refuses_an_unknown_phone(runner, store, households):
    create_token(store, OWNER, actor="test")
    result = runner.invoke(args=["revoke-tokens", "--phone", "13111111111"])
    assert result.exit_code != 0
    assert "没有手机号为 13111111111 的账号" in result.output
    assert len(store.registry().tokens) == 1 and revocations(store) == []


def _tokens_section(html: str) -> str:
    start = html.index('id="tokens"')
    return html[start : html.index("返回帮扶责任人", start)]


def test_the_helper_page_lists_tokens_without_showing_them(client, auth, store, households):
    token = create_token(store, OWNER, actor="test")
    (stored,) = store.registry().tokens.values()
    auth.login("admin")
    section = _tokens_section(client.get(f"/office/helpers/{OWNER}").get_data(as_text=True))
    assert stored.created_at[:16].replace("T", " ") in section
    assert "未使用" in section
    assert token not in section and stored.digest not in section

    assert api_status(client, token) == 200
    used = store.registry().tokens[stored.digest].last_used
    assert used and datetime.fromisoformat(used) > datetime.now().astimezone() - timedelta(
        minutes=1
    )
    section = _tokens_section(client.get(f"/office/helpers/{OWNER}").get_data(as_text=True))
    assert used[:16].replace("T", " ") in section and "未使用" not in section


def test_using_a_token_writes_the_registry_at_most_once_an_hour(client, store, households):
    token = create_token(store, OWNER, actor="test")
    registry = store.root / "registry.json"
    assert api_status(client, token) == 200  # the first use is written down
    written = stored_identity(registry)
    for _ in range(5):
        assert api_status(client, token) == 200
    assert stored_identity(registry) == written
    (digest,) = store.registry().tokens
    two_hours_ago = (datetime.now().astimezone() - timedelta(hours=2)).isoformat(timespec="seconds")

    def age(reg):
        reg.tokens[digest].last_used = two_hours_ago

    store.update_registry(age)
    assert api_status(client, token) == 200
    assert store.registry().tokens[digest].last_used > two_hours_ago


def _token_ids(html: str) -> list[str]:
    return re.findall(r'name="token" value="([0-9a-f]+)"', html)


def test_the_office_revokes_one_token_or_all_from_the_helper_page(client, auth, store, households):
    first, second, third = (create_token(store, OWNER, actor="test") for _ in range(3))
    auth.login("admin")
    page = client.get(f"/office/helpers/{OWNER}").get_data(as_text=True)
    ids = _token_ids(page)
    assert len(ids) == 3
    first_digest = hashlib.sha256(first.encode()).hexdigest()
    one = next(i for i in ids if first_digest.startswith(i))
    url = f"/office/helpers/{OWNER}/tokens/revoke"

    # A forged form (no CSRF token) revokes nothing.
    assert client.post(url, data={"token": one}).status_code == 400
    assert api_status(client, first) == 200

    response = client.post(url, data={"token": one, "csrf_token": auth.csrf()})
    assert response.status_code == 302
    assert "已撤销 1 个 API 令牌" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert [api_status(client, t) for t in (first, second, third)] == [401, 200, 200]
    assert first_digest not in store.registry().tokens

    response = client.post(url, data={"csrf_token": auth.csrf()})
    assert response.status_code == 302
    assert [api_status(client, t) for t in (second, third)] == [401, 401]
    assert store.registry().tokens == {}
    assert [(e.who, e.target, e.after) for e in revocations(store)] == [
        (ADMIN, OWNER, {"tokens": 1}),
        (ADMIN, OWNER, {"tokens": 2}),
    ]
    assert "没有 API 令牌" in client.get(f"/office/helpers/{OWNER}").get_data(as_text=True)
    # The audit page names the action in words.
    assert "撤销 API 令牌" in client.get("/office/audit").get_data(as_text=True)


def test_a_made_up_token_id_is_refused(client, auth, store, households):
    create_token(store, OWNER, actor="test")
    auth.login("admin")
    url = f"/office/helpers/{OWNER}/tokens/revoke"
    for bad in ("x", "../../etc", "0" * 64 + "z"):
        assert client.post(url, data={"token": bad, "csrf_token": auth.csrf()}).status_code == 400
    assert len(store.registry().tokens) == 1 and revocations(store) == []


def test_only_the_office_revokes_tokens(app, client, auth, store, households):
    token = create_token(store, OWNER, actor="test")
    url = f"/office/helpers/{OWNER}/tokens/revoke"
    for who in ("supervisor", "owner"):
        browser = app.test_client()
        Auth(browser).login(who)
        csrf = Auth(browser).csrf()
        assert browser.post(url, data={"csrf_token": csrf}).status_code == 403
    # The supervisor sees the helper's page, without the revoke buttons.
    supervisor = app.test_client()
    Auth(supervisor).login("supervisor")
    page = supervisor.get(f"/office/helpers/{OWNER}").get_data(as_text=True)
    assert "tokens/revoke" not in page
    assert api_status(client, token) == 200 and revocations(store) == []
