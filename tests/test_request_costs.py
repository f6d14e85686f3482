"""What the API's save leaves out to be cheap, and that leaving it out changes no answer:
a Bearer request has no cookie session, the limiter looks only at the login routes, and the
visit-id index finds ids by searching its shards' bytes (whole ids only)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import request
from flask.testing import FlaskClient
from helpers import PASSWORD, PEOPLE, csrf_from, visit_payload

from fieldvisit.access.tokens import create_token
from fieldvisit.extensions import limiter
from fieldvisit.models import Household
from fieldvisit.storage import Store
from fieldvisit.storage.visit_index import Placed, VisitIndex

OWNER = PEOPLE["owner"][0]


def _logged_in(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    client.post(
        "/login", data={"phone": OWNER, "password": PASSWORD, "csrf_token": csrf_from(page)}
    )


def test_a_bearer_request_neither_reads_nor_sets_the_cookie_session(
    client: FlaskClient, store: Store, households: dict[str, Household]
) -> None:
    _logged_in(client)  # the browser's cookie goes along with the token
    token = create_token(store, OWNER, actor="test")
    headers = {"Authorization": f"Bearer {token}"}
    answer = client.post("/api/v1/visits", json=visit_payload(households["h1"]), headers=headers)
    assert answer.status_code == 201
    assert "Set-Cookie" not in answer.headers
    # A wrong token is not saved by the cookie: the caller is the token's, or nobody.
    wrong = client.get("/api/v1/households", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert "Set-Cookie" not in wrong.headers
    # The same browser without a token is still logged in by its cookie.
    assert client.get("/api/v1/households").status_code == 200


def test_the_limiter_looks_only_at_the_login_routes(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked: list[str | None] = []
    real = limiter.identify_request

    def spy() -> str:
        looked.append(request.endpoint)
        return real()

    monkeypatch.setattr(limiter, "identify_request", spy)
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/").status_code in (200, 302)
    assert looked == []
    assert client.get("/login").status_code == 200
    assert looked and set(looked) == {"auth.login"}


def test_the_index_matches_whole_ids_only(tmp_path: Path) -> None:
    index = VisitIndex(tmp_path)
    assert index.add([("visit-abc-0001", "2026-11", "4117210010001")]) == 1
    # Ids that hold the stored one, or that it holds, are other ids.
    for other in ("visit-abc-00011", "isit-abc-0001", "visit-abc-000"):
        assert index.get(other) is None
    assert index.get("visit-abc-0001") == Placed("2026-11", "4117210010001")
    # An id written as another line's household is not that line's id.
    assert index.add([("4117210010001", "2026-10", "4117210010002")]) == 1
    assert index.get("4117210010001") == Placed("2026-10", "4117210010002")
    # The first line of an id holds; a second add of it writes nothing.
    assert index.add([("visit-abc-0001", "2026-12", "4117210010009")]) == 0
    assert index.get("visit-abc-0001") == Placed("2026-11", "4117210010001")


def test_the_index_skips_a_torn_line_and_reads_what_another_process_appended(
    tmp_path: Path,
) -> None:
    index = VisitIndex(tmp_path)
    index.add([("visit-torn-0001", "2026-11", "h1")])
    path = index.path("visit-torn-0002")
    path.parent.mkdir(parents=True, exist_ok=True)
    # A crash cut a line short; the next writer starts a line of its own after it.
    with path.open("ab") as fh:
        fh.write(b'{"id": "visit-torn-0002", "mon')
    assert index.get("visit-torn-0002") is None
    other = VisitIndex(tmp_path)  # another process's index over the same folder
    other.record("visit-torn-0002", "2026-11", "h2")
    assert index.get("visit-torn-0002") == Placed("2026-11", "h2")
    lines = [line for line in path.read_bytes().split(b"\n") if line]
    assert json.loads(lines[-1])["id"] == "visit-torn-0002"


def test_the_index_adds_many_ids_once_each(tmp_path: Path) -> None:
    index = VisitIndex(tmp_path)
    index.record("visit-many-0000", "2026-10", "h0")
    ids = [f"visit-many-{n:04d}" for n in range(2000)]
    # An import's thousands of ids (several per shard), one of them already stored, and an
    # id twice in the same batch: each is written once, the first time it is given.
    batch = [(i, "2026-11", "h1") for i in ids] + [(ids[5], "2026-12", "h9")]
    assert index.add(batch) == 1999
    assert index.get(ids[0]) == Placed("2026-10", "h0")
    assert index.get(ids[5]) == Placed("2026-11", "h1")
    assert all(index.get(i) is not None for i in ids[::97])
    assert index.add(batch) == 0


def test_functions_made_for_one_request_run_and_are_not_kept(tmp_path: Path) -> None:
    import gc
    import weakref

    from flask import after_this_request

    from fieldvisit import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": "x"})
    made: list[weakref.ref[Any]] = []

    @app.get("/made-per-request")
    def view() -> str:
        @after_this_request
        def passing(response: Any) -> Any:
            response.headers["X-Made"] = "yes"
            return response

        made.append(weakref.ref(passing))
        return "ok"

    client = app.test_client()
    for _ in range(3):
        assert client.get("/made-per-request").headers["X-Made"] == "yes"
    gc.collect()
    assert [ref() for ref in made] == [None, None, None]


def test_a_coroutine_hook_is_still_told_from_a_plain_one(tmp_path: Path) -> None:
    from fieldvisit import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": "x"})

    def plain() -> None:
        return None

    async def coroutine() -> None:
        return None

    assert app.ensure_sync(plain) is plain
    # Handed to Flask, which wraps it, or says what it needs to (asgiref is not installed).
    try:
        assert app.ensure_sync(coroutine) is not coroutine
    except RuntimeError as refused:
        assert "async" in str(refused)


def test_an_index_removed_by_hand_is_left_for_the_files_made_after_it(tmp_path: Path) -> None:
    # A process keeps its shards open; one removed under it must not swallow its ids.
    index = VisitIndex(tmp_path)
    first = "visit-gone-0000"
    same_shard = next(
        f"visit-gone-{n:04d}"
        for n in range(1, 10_000)
        if index.path(f"visit-gone-{n:04d}") == index.path(first)
    )
    index.record(first, "2026-11", "h1")
    shutil.rmtree(tmp_path / "index")
    index.record(same_shard, "2026-11", "h2")
    with index.claim("visit-gone-9999") as claim:
        assert claim.placed is None
    other = VisitIndex(tmp_path)  # another process, started after the removal
    assert other.get(same_shard) == Placed("2026-11", "h2")
    assert index.path(same_shard).read_bytes().count(b"\n") == 1


def test_answers_are_compact_json_in_their_documents_order(
    client: FlaskClient, store: Store, households: dict[str, Household]
) -> None:
    token = create_token(store, OWNER, actor="test")
    payload = {**visit_payload(households["h1"]), "notes": "院子已打扫 <b>&'"}
    answer = client.post(
        "/api/v1/visits", json=payload, headers={"Authorization": f"Bearer {token}"}
    )
    raw = answer.get_data()
    assert answer.status_code == 201 and answer.mimetype == "application/json"
    body = json.loads(raw)
    assert body["notes"] == payload["notes"] and body["household"] == households["h1"].id
    assert list(body)[:2] == ["id", "household"]  # the document's order, not sorted
    # Compact, and Chinese text as UTF-8, not \uXXXX escapes (decision 21).
    assert "院子已打扫 <b>&'".encode() in raw and b": " not in raw and b", " not in raw
    # Other uses of the app's JSON keep their arguments (an indented dump, the template filter).
    app = client.application
    assert app.json.dumps({"b": 1, "a": "村"}, indent=2) == '{\n  "b": 1,\n  "a": "\\u6751"\n}'
    with app.test_request_context():
        rendered = app.jinja_env.from_string("{{ v|tojson }}").render(v={"x": "<村>"})
    assert rendered == '{"x": "\\u003c\\u6751\\u003e"}'


def test_what_orjson_refuses_is_written_as_the_standard_library_writes_it(
    tmp_path: Path,
) -> None:
    """Stored documents and answers are encoded by orjson; an integer past 64 bits or a key
    that is not a string, which it refuses, still come out as they always did, and a date
    is refused in a data file and written as Flask writes it in an answer."""
    from datetime import date

    from fieldvisit.storage.durable import dumps

    odd = {"big": 2**70, 7: "村", "f": 1e16}
    assert dumps(odd) == json.dumps(odd, ensure_ascii=False, separators=(",", ":")).encode()
    plain = {"村": [1, 2.5, None, True], "n": '院子\n"已"扫'}
    assert json.loads(dumps(plain)) == plain and b"\\u" not in dumps(plain)
    with pytest.raises(TypeError):
        dumps({"when": date(2026, 12, 4)})

    from fieldvisit import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    with app.test_request_context():
        answer = app.json.response({"day": date(2026, 12, 4), 3: 2**70, "村": "王庄"})
    assert json.loads(answer.get_data()) == {
        "day": "Fri, 04 Dec 2026 00:00:00 GMT",
        "3": 2**70,
        "村": "王庄",
    }
    # Bodies are parsed by orjson, and what it refuses by the standard library, as before.
    assert app.json.loads(b'{"v":"\xe6\x9d\x91","n":[1,2.5]}') == {"v": "村", "n": [1, 2.5]}
    assert app.json.loads('{"notes":"\\ud800"}') == {"notes": "\ud800"}
    assert math.isnan(app.json.loads('{"lat": NaN}')["lat"])
    assert app.json.loads('{"a": 1}', object_hook=lambda d: sorted(d)) == ["a"]  # as asked
    with pytest.raises(RecursionError):
        app.json.loads("[" * 100_000 + "]" * 100_000)


def test_the_request_read_directly_is_the_one_the_proxy_names(client: FlaskClient) -> None:
    from fieldvisit.context import this_app, this_g, this_request

    app = client.application
    with app.test_request_context("/api/v1/visits?month=2026-12", method="POST"):
        assert this_request() is request._get_current_object()  # type: ignore[attr-defined]
        assert this_request().args["month"] == "2026-12" and this_app() is app
        this_g().user = "x"
        from flask import g

        assert g.user == "x"
    with pytest.raises(RuntimeError):
        this_request()  # outside a request, as the proxy


def test_the_body_limit_given_to_each_request_is_the_configured_one(
    client: FlaskClient, store: Store, households: dict[str, Household]
) -> None:
    token = create_token(store, OWNER, actor="test")
    headers = {"Authorization": f"Bearer {token}"}
    client.application.config["MAX_CONTENT_LENGTH"] = 2000  # as read when a request is made
    payload = {**visit_payload(households["h1"]), "notes": "扫" * 1000}
    assert client.post("/api/v1/visits", json=payload, headers=headers).status_code == 413
    assert store.visits(visit_payload(households["h1"])["date"][:7]) == []
