"""Photos of visits: re-encoded without metadata, limited, and shown only to those who may
see the household."""

from __future__ import annotations

import io
from datetime import date

import pytest
from helpers import visit_payload
from PIL import Image

from fieldvisit.visits import photos

MONTH = date.today().isoformat()[:7]
PHOTO_ID = "p1111111-0000-4000-8000-000000000001"


def jpeg_with_gps(size: tuple[int, int] = (2400, 1800)) -> bytes:
    """A JPEG a phone might take: EXIF with a GPS position and a camera model."""
    image = Image.new("RGB", size, (120, 160, 90))
    exif = Image.Exif()
    exif[0x0110] = "PhoneCam X1"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (32.0, 59.0, 13.5)
    gps[3], gps[4] = "E", (112.0, 31.0, 42.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=95)
    return out.getvalue()


@pytest.fixture()
def visit(client, auth, households, store):
    """An in-person visit of h1 stored by its helper, who stays logged in."""
    auth.login("owner")
    response = client.post(
        "/api/v1/visits", json=visit_payload(households["h1"]), headers=headers(client)
    )
    assert response.status_code == 201
    return response.get_json()


def headers(client) -> dict[str, str]:
    return {"X-CSRFToken": client.get("/api/v1/csrf").get_json()["csrf_token"]}


def upload(client, visit_id: str, data: bytes, photo_id: str = PHOTO_ID, name: str = "a.jpg"):
    return client.post(
        f"/api/v1/visits/{visit_id}/photos",
        data={"id": photo_id, "file": (io.BytesIO(data), name)},
        headers=headers(client),
        content_type="multipart/form-data",
    )


def test_reencoding_strips_gps_and_camera_data_and_bounds_the_size():
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    encoded = photos.reencode(original)
    stored = Image.open(io.BytesIO(encoded.full))
    assert stored.format == "JPEG"
    assert max(stored.size) == photos.MAX_SIDE
    assert not stored.getexif()
    assert b"PhoneCam" not in encoded.full
    assert max(Image.open(io.BytesIO(encoded.thumb)).size) == photos.THUMB_SIDE


def test_a_photo_is_stored_with_the_visit_under_the_data_folder(client, visit, store):
    response = upload(client, visit["id"], jpeg_with_gps())
    assert response.status_code == 201
    assert response.get_json()["photos"] == [PHOTO_ID]
    folder = store.root / "photos" / MONTH / visit["id"]
    assert sorted(p.name for p in folder.iterdir()) == [f"{PHOTO_ID}.jpg", f"{PHOTO_ID}.thumb.jpg"]
    with Image.open(folder / f"{PHOTO_ID}.jpg") as stored:
        assert not stored.getexif()
    # Sent again after a cut connection: stored once.
    again = upload(client, visit["id"], jpeg_with_gps())
    assert again.status_code == 200
    assert store.find_visit(MONTH, "聂河村", visit["id"]).photos == [PHOTO_ID]


def test_a_file_that_is_not_an_image_is_refused_with_a_message(client, visit, store):
    response = upload(client, visit["id"], b"%PDF-1.4 not a photo", name="x.jpg")
    assert response.status_code == 400
    assert response.get_json()["errors"]["file"] == "这不是照片文件，只能上传图片"
    assert not (store.root / "photos").exists()


def test_a_file_over_the_limit_is_refused_as_too_large(client, visit, monkeypatch):
    # A smaller limit for the test: the test client spools a 2 MB body to a file it
    # never closes.
    monkeypatch.setattr(photos, "MAX_BYTES", 4096)
    response = upload(client, visit["id"], jpeg_with_gps((800, 600)))
    assert response.status_code == 413
    assert "2 MB" in response.get_json()["error"]


def test_at_most_three_photos_a_visit(client, visit, store):
    small = jpeg_with_gps((64, 48))
    for i in range(3):
        assert upload(client, visit["id"], small, photo_id=f"photo-000{i}").status_code == 201
    response = upload(client, visit["id"], small, photo_id="photo-0003")
    assert response.status_code == 409
    assert len(store.find_visit(MONTH, "聂河村", visit["id"]).photos) == 3


def test_a_bad_photo_id_is_refused(client, visit):
    response = upload(client, visit["id"], jpeg_with_gps((64, 48)), photo_id="../../x")
    assert response.status_code == 400


def test_another_helper_cannot_add_photos(client, auth, visit):
    auth.login("other")
    response = upload(client, visit["id"], jpeg_with_gps((64, 48)))
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("who", "status"), [("owner", 200), ("supervisor", 200), ("admin", 200), ("other", 403)]
)
def test_photos_are_shown_only_to_those_who_may_see_the_household(client, auth, visit, who, status):
    assert upload(client, visit["id"], jpeg_with_gps((640, 480))).status_code == 201
    auth.login(who)
    for query in ("", "?thumb=1"):
        response = client.get(f"/photos/{visit['id']}/{PHOTO_ID}{query}")
        response.close()
        assert response.status_code == status
        if status == 200:
            assert response.mimetype == "image/jpeg"
            assert response.headers["Cache-Control"].startswith("private")


def test_nobody_is_sent_to_log_in(client, visit):
    assert upload(client, visit["id"], jpeg_with_gps((64, 48))).status_code == 201
    client.post("/logout", data={"csrf_token": client.get("/api/v1/csrf").get_json()["csrf_token"]})
    response = client.get(f"/photos/{visit['id']}/{PHOTO_ID}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_the_household_page_shows_thumbnails(client, auth, visit, households):
    assert upload(client, visit["id"], jpeg_with_gps((64, 48))).status_code == 201
    html = client.get(f"/h/{households['h1'].token}").get_data(as_text=True)
    assert f'src="/photos/{visit["id"]}/{PHOTO_ID}?thumb=1"' in html


def test_an_api_client_reads_the_photos_its_visits_list(client, visit, store):
    """The API lists photo ids with their address: a Bearer token opens them (GET only)."""
    from fieldvisit.access.tokens import create_token

    assert upload(client, visit["id"], jpeg_with_gps((64, 48))).status_code == 201
    anonymous = client.application.test_client()
    token = create_token(store, "13900000001", actor="test")
    bearer = {"Authorization": f"Bearer {token}"}
    response = anonymous.get(f"/photos/{visit['id']}/{PHOTO_ID}", headers=bearer)
    response.close()  # a file response
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    other = create_token(store, "13900000002", actor="test")
    refused = anonymous.get(
        f"/photos/{visit['id']}/{PHOTO_ID}", headers={"Authorization": f"Bearer {other}"}
    )
    assert refused.status_code == 403
    wrong = anonymous.get(
        f"/photos/{visit['id']}/{PHOTO_ID}", headers={"Authorization": "Bearer nonsense"}
    )
    assert wrong.status_code == 401  # a program is told, not sent to the login page
