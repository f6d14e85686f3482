"""A visit's photos on its correction page: shown, removed and added by the helper who may
correct the visit (the office any time, supervisors never), with plain HTML forms."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from helpers import PEOPLE, visit_payload
from PIL import Image

from fieldvisit.models import Visit
from fieldvisit.visits import photos

MONTH = date.today().isoformat()[:7]
VISIT_ID = "a1b2c3d4-0000-4000-8000-000000000001"
FIRST, SECOND = "p1111111-0000-4000-8000-000000000001", "p2222222-0000-4000-8000-000000000002"


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (120, 160, 90)).save(out, "JPEG")
    return out.getvalue()


def stored(store) -> Visit:
    visit = store.find_visit(MONTH, "聂河村", VISIT_ID)
    assert visit is not None
    return visit


@pytest.fixture()
def visit(client, auth, store, households) -> Visit:
    """This month's visit of h1 by its helper, with two photos; the helper stays logged in."""
    auth.login("owner")
    csrf = {"X-CSRFToken": client.get("/api/v1/csrf").get_json()["csrf_token"]}
    assert (
        client.post(
            "/api/v1/visits", json=visit_payload(households["h1"]), headers=csrf
        ).status_code
        == 201
    )
    for photo_id in (FIRST, SECOND):
        response = client.post(
            f"/api/v1/visits/{VISIT_ID}/photos",
            data={"id": photo_id, "file": (io.BytesIO(jpeg()), "a.jpg")},
            headers=csrf,
            content_type="multipart/form-data",
        )
        assert response.status_code == 201
    return stored(store)


def edit_url(households) -> str:
    return f"/h/{households['h1'].token}/visits/{VISIT_ID}/edit"


def photo_file(store, photo_id: str, thumb: bool = False):
    name = f"{photo_id}.thumb.jpg" if thumb else f"{photo_id}.jpg"
    return store.root / "photos" / MONTH / VISIT_ID / name


def remove(client, households, photo_id: str, csrf: str):
    return client.post(
        f"/h/{households['h1'].token}/visits/{VISIT_ID}/photos/{photo_id}/remove",
        data={"csrf_token": csrf},
    )


def add(client, households, page: str, data: bytes | None = None):
    """The correction page's add form, sent as a browser without scripts sends it."""
    form = page[page.index('class="fv-add-photo"') :]
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))
    return client.post(
        f"/h/{households['h1'].token}/visits/{VISIT_ID}/photos",
        data={**hidden, "file": (io.BytesIO(data or jpeg()), "photo.jpg")},
        content_type="multipart/form-data",
    )


def add_without_page(client, households, csrf: str):
    """A photo sent to the add route with a new id, as from a page opened earlier."""
    return client.post(
        f"/h/{households['h1'].token}/visits/{VISIT_ID}/photos",
        data={
            "csrf_token": csrf,
            "id": "p4444444-0000-4000-8000-000000000004",
            "file": (io.BytesIO(jpeg()), "x.jpg"),
        },
        content_type="multipart/form-data",
    )


def test_the_helper_sees_removes_and_adds_photos(client, auth, store, households, visit):
    page = client.get(edit_url(households)).get_data(as_text=True)
    for photo_id in (FIRST, SECOND):
        assert f'src="/photos/{VISIT_ID}/{photo_id}?thumb=1"' in page
        assert (
            f'action="/h/{households["h1"].token}/visits/{VISIT_ID}/photos/{photo_id}/remove"'
            in page
        )
    assert 'enctype="multipart/form-data"' in page and 'name="file"' in page

    response = remove(
        client, households, FIRST, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"{edit_url(households)}#photos"
    assert stored(store).photos == [SECOND]
    assert not photo_file(store, FIRST).exists() and not photo_file(store, FIRST, True).exists()
    assert photo_file(store, SECOND).exists()
    [entry] = [e for e in store.audit_log.entries(MONTH) if e.action == "visit.photo_remove"]
    assert entry.who == PEOPLE["owner"][0] and entry.target == VISIT_ID
    assert entry.before == {"photos": [FIRST, SECOND], "photo": FIRST}
    assert entry.after == {"photos": [SECOND]}
    page = client.get(edit_url(households)).get_data(as_text=True)
    assert "照片已删除" in page and FIRST not in page

    response = add(client, households, page)
    assert response.status_code == 302
    [kept, new] = stored(store).photos
    assert kept == SECOND and photo_file(store, new).exists()
    assert "照片已添加" in client.get(edit_url(households)).get_data(as_text=True)
    # The visit's content and version are untouched: photos are not a correction.
    assert stored(store).version == 1


def test_the_audit_log_names_the_removal(client, auth, store, households, visit):
    remove(client, households, FIRST, auth.csrf())
    auth.login("admin")
    page = client.get("/office/audit").get_data(as_text=True)
    assert "删除照片" in page


def test_a_second_tap_on_remove_changes_nothing(client, auth, store, households, visit):
    csrf = auth.csrf()
    assert remove(client, households, FIRST, csrf).status_code == 302
    assert remove(client, households, FIRST, csrf).status_code == 302
    assert stored(store).photos == [SECOND]
    removals = [e for e in store.audit_log.entries(MONTH) if e.action == "visit.photo_remove"]
    assert len(removals) == 1


def test_removing_needs_the_csrf_token(client, households, store, visit):
    assert remove(client, households, FIRST, "forged").status_code == 400
    assert stored(store).photos == [FIRST, SECOND]


def test_at_most_three_photos_still(client, auth, store, households, visit):
    page = client.get(edit_url(households)).get_data(as_text=True)
    assert add(client, households, page).status_code == 302
    page = client.get(edit_url(households)).get_data(as_text=True)
    assert 'class="fv-add-photo"' not in page and "每次走访最多 3 张照片" in page
    # A page opened before the third photo was added still offers the form: refused.
    third = stored(store).photos
    response = add_without_page(client, households, auth.csrf())
    assert response.status_code == 409
    assert "每次走访最多 3 张照片" in response.get_data(as_text=True)
    assert stored(store).photos == third


def test_a_file_that_is_not_a_photo_is_refused_on_the_page(client, households, store, visit):
    page = client.get(edit_url(households)).get_data(as_text=True)
    response = add(client, households, page, b"%PDF-1.4 not a photo")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "这不是照片文件，只能上传图片" in html and 'id="photos"' in html
    assert stored(store).photos == [FIRST, SECOND]


@pytest.mark.parametrize(
    ("who", "message"),
    [("other", "只能在当月修改自己的走访记录"), ("supervisor", "督查账号不能修改走访记录")],
)
def test_who_may_not_correct_may_not_change_photos(
    client, auth, store, households, visit, who, message
):
    page = client.get(edit_url(households)).get_data(as_text=True)
    auth.login(who)
    csrf = auth.csrf()
    response = remove(client, households, FIRST, csrf)
    assert response.status_code == 403 and message in response.get_data(as_text=True)
    form = page[page.index('class="fv-add-photo"') :]
    photo_id = re.search(r'name="id" value="([^"]+)"', form).group(1)
    response = client.post(
        f"/h/{households['h1'].token}/visits/{VISIT_ID}/photos",
        data={"csrf_token": csrf, "id": photo_id, "file": (io.BytesIO(jpeg()), "x.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403 and message in response.get_data(as_text=True)
    assert stored(store).photos == [FIRST, SECOND]
    assert photo_file(store, FIRST).exists()
    assert not [e for e in store.audit_log.entries(MONTH) if e.action == "visit.photo_remove"]


def test_a_visit_past_the_correction_window_is_refused(
    client, auth, store, households, visit, monkeypatch
):
    """Next month the helper's visit is closed: its photos stay as they are."""
    from fieldvisit.views import photos as view

    later = date.today().replace(day=28)
    next_month = date(later.year + later.month // 12, later.month % 12 + 1, 5)

    class NextMonth(date):
        @classmethod
        def today(cls) -> date:
            return next_month

    monkeypatch.setattr(view, "date", NextMonth)
    response = remove(client, households, FIRST, auth.csrf())
    assert response.status_code == 403
    assert "只能在当月修改自己的走访记录" in response.get_data(as_text=True)
    response = add_without_page(client, households, auth.csrf())
    assert response.status_code == 403
    assert stored(store).photos == [FIRST, SECOND] and photo_file(store, FIRST).exists()
    # The domain rule says the same, whoever asks it.
    with pytest.raises(photos.PhotoError) as refused:
        photos.remove_photo(store, stored(store), FIRST, store.user(PEOPLE["owner"][0]), next_month)
    assert refused.value.status == 403


def test_the_office_removes_a_photo_of_any_month(client, auth, store, households, visit):
    auth.login("admin")
    page = client.get(edit_url(households)).get_data(as_text=True)
    assert f"/photos/{FIRST}/remove" in page
    assert remove(client, households, FIRST, auth.csrf()).status_code == 302
    assert stored(store).photos == [SECOND]
    later = date(date.today().year + 1, 1, 15)
    photos.remove_photo(store, stored(store), SECOND, store.user(PEOPLE["admin"][0]), later)
    assert stored(store).photos == [] and not photo_file(store, SECOND).exists()
