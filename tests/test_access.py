"""Every route answers every role (and nobody) as the access rules say.

Helpers see only their own households; supervisors see everything and change nothing;
admins change; nobody gets a login page (or 401 from the API).
"""

from __future__ import annotations

import pytest
from helpers import visit_payload

from fieldvisit.documents.jobs import get_runner
from fieldvisit.visits.recording import record_visit

ROLES = ("nobody", "owner", "other", "supervisor", "admin")
LOGIN = 302  # a redirect to /login
STALE = 400  # a form posted without a session fails its CSRF check before anything else

# (method, path template, expected status per role in ROLES order)
RULES = [
    ("GET", "/", (LOGIN, 200, 200, 200, 200)),
    ("GET", "/password", (LOGIN, 200, 200, 200, 200)),
    ("GET", "/h/{token}", (200, 200, 403, 200, 200)),
    ("GET", "/h/{token}/visit", (LOGIN, 200, 403, 403, 200)),
    ("POST", "/h/{token}/visit", (STALE, 400, 403, 403, 400)),
    ("GET", "/h/{token}/visits/{visit}/edit", (LOGIN, 200, 403, 403, 200)),
    ("POST", "/h/{token}/token", (STALE, 403, 403, 403, 302)),
    ("GET", "/office/import", (LOGIN, 403, 403, 403, 200)),
    ("POST", "/office/import", (STALE, 403, 403, 403, 400)),
    ("GET", "/office/plates", (LOGIN, 403, 403, 403, 200)),
    ("POST", "/office/plates", (STALE, 403, 403, 403, 303)),  # queues the township's plates
    ("GET", "/api/v1/households", (401, 200, 200, 200, 200)),
    ("GET", "/api/v1/checklist", (401, 200, 200, 200, 200)),
    ("GET", "/api/v1/visits", (401, 200, 200, 200, 200)),
    ("POST", "/api/v1/visits", (401, 201, 403, 403, 201)),
    ("GET", "/api/v1/openapi.json", (200, 200, 200, 200, 200)),
]


@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
@pytest.mark.parametrize(
    ("method", "path", "expected"), RULES, ids=[f"{m} {p}" for m, p, _ in RULES]
)
def test_route_answers_role(client, auth, store, households, method, path, expected, role_index):
    from helpers import PEOPLE

    role = ROLES[role_index]
    h = households["h1"]
    existing, _created = record_visit(
        store,
        visit_payload(h, id="e0000000-0000-4000-8000-00000000000e"),
        store.user(PEOPLE["owner"][0]),
    )
    headers = {}
    data: dict[str, str] = {}
    if role != "nobody":
        auth.login(role)
        token = auth.csrf()
        headers["X-CSRFToken"] = token
        data["csrf_token"] = token
    url = path.format(token=h.token, visit=existing.id)
    if method == "GET":
        response = client.get(url)
    elif url == "/api/v1/visits":
        response = client.post(url, json=visit_payload(h), headers=headers)
    else:
        response = client.post(url, data=data, headers=headers)
    assert response.status_code == expected[role_index], response.get_data(as_text=True)[:300]
    if response.status_code == 303 and "/reports/jobs/" in response.headers["Location"]:
        # A queued file: let it finish before this test's data folder goes away.
        get_runner(client.application).wait(response.headers["Location"].rsplit("/", 1)[1])
    if expected[role_index] == LOGIN and role == "nobody":
        assert response.headers["Location"].startswith("/login")
