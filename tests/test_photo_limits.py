"""What a photo upload may cost the server: only JPEG, PNG and WebP are decoded (never
PostScript through Ghostscript), huge canvases are refused from their header, at most two
decodes run at once, and a helper adds photos only to visits they may still correct."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import zlib
from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers import PEOPLE, visit_payload
from PIL import EpsImagePlugin, Image, JpegImagePlugin
from test_photos import PHOTO_ID, headers, upload

from fieldvisit.models import Visit
from fieldvisit.visits import photos
from fieldvisit.visits.recording import record_visit

TODAY = date.today()
MONTH = TODAY.isoformat()[:7]
OWNER = PEOPLE["owner"][0]
ROOT = Path(__file__).resolve().parents[1]
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n%%EOF\n"


def png(width: int, height: int, colour: int = 2) -> bytes:
    """A mostly uniform PNG of any size, written row by row: a 6300 x 6300 one takes
    ~170 KB and never exists as pixels in this process. ``colour``: 2 RGB, 6 RGBA."""
    bands = {2: 3, 6: 4}[colour]
    plain = b"\x00" + bytes([200, 180, 120, 255][:bands]) * width
    stripe = b"\x00" + bytes(range(256)) * (width * bands // 256) + bytes(width * bands % 256)
    packer = zlib.compressobj(6)
    body = b"".join(packer.compress(stripe if row % 500 == 0 else plain) for row in range(height))
    body += packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def encoded(fmt: str, size: tuple[int, int] = (64, 48), **options: object) -> bytes:
    out = io.BytesIO()
    mode = "RGB" if fmt not in ("GIF", "ICO") else "P" if fmt == "GIF" else "RGBA"
    Image.new(mode, size, 90).save(out, fmt, **options)
    return out.getvalue()


@pytest.fixture()
def visit(client, auth, households):
    """A visit of h1 today, stored by its helper, who stays logged in."""
    auth.login("owner")
    response = client.post(
        "/api/v1/visits", json=visit_payload(households["h1"]), headers=headers(client)
    )
    assert response.status_code == 201
    return response.get_json()


def stored_nothing(store, visit_id: str) -> bool:
    return (
        not (store.root / "photos").exists()
        and store.find_visit(MONTH, "聂河村", visit_id).photos == []
        and not [e for e in store.audit_log.entries(MONTH) if e.action == "visit.photo"]
    )


# 1. Photos are photos -----------------------------------------------------------------


def test_postscript_is_refused_before_any_decoder_runs(client, visit, store, monkeypatch):
    """EPS is what Pillow would hand to Ghostscript (installed on many servers, no time
    limit): it is refused from its first bytes, whatever the file is called."""
    opened: list[str] = []

    def spy(self: EpsImagePlugin.EpsImageFile) -> None:
        opened.append("eps")
        raise AssertionError("the EPS plugin was asked to read an upload")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", spy)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: opened.append("gs"))
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", "/nonexistent/gs")
    for name, data in [
        ("door.jpg", EPS),
        ("door.eps", EPS),
        ("door.ps", b"%!PS-Adobe-3.0\nshowpage\n"),
        # The DOS EPS binary header, which Pillow also reads as EPS.
        ("door.jpg", b"\xc5\xd0\xd3\xc6" + b"\x00" * 26 + EPS),
    ]:
        response = upload(client, visit["id"], data, name=name)
        assert response.status_code == 400, name
        assert response.get_json()["errors"]["file"] == "这不是照片文件，只能上传图片"
    assert opened == []
    assert stored_nothing(store, visit["id"])


@pytest.mark.parametrize(
    "fmt", ["GIF", "BMP", "TIFF", "PDF", "ICO", "PPM", "TGA", "JPEG2000", "SVG", "EMPTY"]
)
def test_other_formats_are_refused_with_400(client, visit, store, fmt):
    if fmt == "SVG":
        data = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
    elif fmt == "EMPTY":
        data = b""
    else:
        data = encoded(fmt)
    response = upload(client, visit["id"], data, name="photo.jpg")
    assert response.status_code == 400
    assert response.get_json()["error"] == "这不是照片文件，只能上传图片"
    assert stored_nothing(store, visit["id"])


def test_a_file_with_a_jpeg_start_is_still_decoded_only_as_jpeg(client, visit, store):
    """The first bytes choose the one decoder tried: a JPEG start on something else is
    not passed on to the other plugins."""
    response = upload(client, visit["id"], b"\xff\xd8\xff" + EPS)
    assert response.status_code == 400
    assert stored_nothing(store, visit["id"])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_jpeg_png_and_webp_are_stored_as_jpeg(client, visit, store, fmt):
    response = upload(client, visit["id"], encoded(fmt, (800, 600)), name="x.bin")
    assert response.status_code == 201
    with Image.open(store.photos.path(MONTH, visit["id"], PHOTO_ID, thumb=False)) as stored:
        assert stored.format == "JPEG" and stored.size == (800, 600)


def test_a_photo_taken_sideways_is_stored_upright():
    """The camera's orientation tag is applied (after shrinking), then dropped with the
    rest of the EXIF data."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to show
    out = io.BytesIO()
    Image.new("RGB", (3200, 2400), (10, 120, 200)).save(out, "JPEG", exif=exif)
    with Image.open(io.BytesIO(photos.reencode(out.getvalue()).full)) as stored:
        assert stored.size == (1200, 1600)
        assert not stored.getexif()


# 2. Memory stays bounded ----------------------------------------------------------------


def webp(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 180, 120)).save(out, "WEBP", lossless=True)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("a.png", lambda: png(6300, 6300)),  # 39.7 MP in ~170 KB
        ("a.png", lambda: png(4001, 4000, colour=6)),  # just over 16 MP
        ("a.webp", lambda: webp(3000, 3000)),  # 9 MP: WebP costs twice as much a pixel
    ],
    ids=["png-6300x6300", "png-4001x4000-rgba", "webp-3000x3000"],
)
def test_a_canvas_over_the_pixel_limit_is_refused_from_its_header(
    client, visit, store, monkeypatch, name, make
):
    big = make()
    assert len(big) < 250_000
    from PIL import ImageFile

    loaded: list[str] = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loaded.append("load"))
    response = upload(client, visit["id"], big, name=name)
    assert response.status_code == 413
    assert response.get_json()["error"] == "照片尺寸太大"
    assert loaded == []
    assert stored_nothing(store, visit["id"])


def test_a_jpeg_is_decoded_at_a_reduced_scale(monkeypatch):
    """A 12 MP camera JPEG is decoded at half scale or less (libjpeg's draft mode), not
    at full size and then shrunk."""
    decoded: list[tuple[int, int]] = []
    load = JpegImagePlugin.JpegImageFile.load

    def spy(self: JpegImagePlugin.JpegImageFile) -> object:
        result = load(self)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    out = io.BytesIO()
    Image.new("RGB", (4032, 3024), (120, 160, 90)).save(out, "JPEG", quality=60)
    result = photos.reencode(out.getvalue())
    assert decoded and max(decoded[0]) <= 2016
    with Image.open(io.BytesIO(result.full)) as stored:
        assert stored.size == (1600, 1200)


def test_a_busy_server_says_so_with_503_and_stores_nothing(client, visit, store, monkeypatch):
    monkeypatch.setattr(photos, "DECODE_WAIT_SECONDS", 0.05)
    for _ in range(photos.DECODERS):  # others' photos being decoded
        assert photos._decoding.acquire(timeout=1)
    try:
        response = upload(client, visit["id"], encoded("JPEG"))
    finally:
        for _ in range(photos.DECODERS):
            photos._decoding.release()
    assert response.status_code == 503
    assert response.get_json()["error"] == "服务器正忙，请稍后再上传照片"
    assert response.headers["Retry-After"] == "10"
    assert stored_nothing(store, visit["id"])
    # A moment later the same photo goes in.
    assert upload(client, visit["id"], encoded("JPEG")).status_code == 201


_CHILD = textwrap.dedent(
    """
    import json, sys, threading
    def peak_kb():
        # The peak resident size of this process's own memory. Not getrusage's ru_maxrss: Linux
        # carries the parent's peak across fork and exec, so a child of a grown test worker
        # would report the worker's size.
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    from pathlib import Path

    from helpers import PASSWORD, PEOPLE, csrf_from, seed, visit_payload
    from fieldvisit import create_app

    folder, photo = Path(sys.argv[1]), Path(sys.argv[2])
    app = create_app({"TESTING": True, "DATA_DIR": str(folder), "SECRET_KEY": "x"})
    store = app.extensions["fieldvisit.store"]
    households = seed(store)
    data = photo.read_bytes()
    small = photo.with_name("small.png").read_bytes()

    def logged_in():
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        client.post("/login", data={"phone": PEOPLE["owner"][0], "password": PASSWORD,
                                    "csrf_token": csrf_from(page)})
        return client, {"X-CSRFToken": client.get("/api/v1/csrf").get_json()["csrf_token"]}

    def post(client, headers, visit_id, photo_id, body):
        import io
        return client.post(f"/api/v1/visits/{visit_id}/photos",
                           data={"id": photo_id, "file": (io.BytesIO(body), "a.png")},
                           headers=headers, content_type="multipart/form-data").status_code

    clients, visits = [], []
    for i in range(4):
        client, headers = logged_in()
        payload = visit_payload(households["h1"], id=f"memvisit-000{i}")
        assert client.post("/api/v1/visits", json=payload, headers=headers).status_code == 201
        clients.append((client, headers))
        visits.append(payload["id"])
    # Warm up (Pillow's modules, the first photo folder) before the baseline is taken.
    assert post(*clients[0], visits[0], "warmup-0001", small) == 201
    before = peak_kb()
    start = threading.Barrier(4)
    statuses = [0] * 4

    def send(i):
        start.wait()
        statuses[i] = post(*clients[i], visits[i], f"memphoto-000{i}", data)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = peak_kb()
    month = visit_payload(households["h1"])["date"][:7]
    stored = [len(store.find_visit(month, "聂河村", v).photos) for v in visits]
    print(json.dumps({"before_kb": before, "after_kb": after, "statuses": statuses,
                      "stored": stored}))
    """
)


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (lambda: png(6300, 6300), 413),  # 39.7 MP in ~170 KB: refused from its header
        (lambda: png(4000, 4000, colour=6), 201),  # the largest PNG taken, RGBA
        (lambda: webp(2880, 2880), 201),  # the largest WebP taken
    ],
    ids=["png-6300x6300", "png-4000x4000-rgba", "webp-2880x2880"],
)
def test_four_uploads_at_once_raise_peak_memory_by_less_than_400_mb(tmp_path, make, status):
    """Four helpers' large photos arriving together, measured in a fresh process (its peak
    resident size before and after). Before the limits, four 6300 x 6300 PNGs were decoded
    at full size all at once; now they are refused from their headers, and the largest
    canvases still taken cost ~300 MB together, as only two are decoded at a time."""
    photo = tmp_path / "big.img"
    photo.write_bytes(make())
    photo.with_name("small.png").write_bytes(png(64, 48))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "data"), str(photo)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["statuses"] == [status] * 4
    assert report["stored"] == ([2] * 1 + [1] * 3 if status == 201 else [1, 0, 0, 0])
    grown_mb = (report["after_kb"] - report["before_kb"]) / 1024
    assert grown_mb < 400, f"peak memory grew by {grown_mb:.0f} MB"


# 3. Photos follow the correction rule, and are logged ----------------------------------


def _old_visit(store, households) -> Visit:
    """A visit of h1 its helper stored in the previous month, more than the grace period
    ago (the grace period runs at most seven days into this month)."""
    day = TODAY.replace(day=1) - timedelta(days=8)
    payload = visit_payload(households["h1"], id="oldvisit-0001", date=day.isoformat())
    stored, created = record_visit(store, payload, store.user(OWNER), today=day)
    assert created
    return stored


def test_a_helper_cannot_add_a_photo_to_last_months_visit(client, auth, store, households):
    old = _old_visit(store, households)
    auth.login("owner")
    response = upload(client, old.id, encoded("JPEG"))
    assert response.status_code == 403
    assert response.get_json()["error"] == "这条走访记录已过了可以修改的时间，不能再添加照片"
    assert store.find_visit(old.month, old.village, old.id).photos == []
    assert not (store.root / "photos").exists()
    assert not [e for e in store.audit_log.entries(old.month) if e.action == "visit.photo"]
    assert not [e for e in store.audit_log.entries(MONTH) if e.action == "visit.photo"]


def test_the_office_may_still_add_a_photo_to_an_old_visit(client, auth, store, households):
    """As the office may still correct it (补录 of a paper record's photo)."""
    old = _old_visit(store, households)
    auth.login("admin")
    assert upload(client, old.id, encoded("JPEG")).status_code == 201
    assert store.find_visit(old.month, old.village, old.id).photos == [PHOTO_ID]


def test_the_grace_period_lets_a_late_visit_bring_its_photos(store, households):
    """A visit saved offline on the last day of a month reaches the server on the 3rd: it is
    stored (the grace period), and its photos follow it; a week later they would not."""
    user = store.user(OWNER)
    h1 = households["h1"]
    payload = visit_payload(h1, id="latevisit-0001", date="2026-10-31")
    late, _created = record_visit(store, payload, user, today=date(2026, 11, 3))
    assert photos.may_add_photo(user, h1, late, date(2026, 11, 3))
    assert not photos.may_add_photo(user, h1, late, date(2026, 11, 8))
    assert photos.may_add_photo(store.user(PEOPLE["admin"][0]), h1, late, date(2027, 3, 1))
    # Another helper, and a supervisor, never.
    assert not photos.may_add_photo(store.user(PEOPLE["other"][0]), h1, late, date(2026, 11, 3))
    assert not photos.may_add_photo(
        store.user(PEOPLE["supervisor"][0]), h1, late, date(2026, 11, 3)
    )


def test_a_photo_added_is_in_the_audit_log_and_on_its_page(client, auth, visit, store):
    response = upload(client, visit["id"], encoded("JPEG"))
    assert response.status_code == 201
    # Sent again after a cut connection: stored and logged once.
    assert upload(client, visit["id"], encoded("JPEG")).status_code == 200
    entries = [e for e in store.audit_log.entries(MONTH) if e.action == "visit.photo"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry.who == OWNER and entry.target == visit["id"]
    assert entry.before == {"photos": []} and entry.after == {"photos": [PHOTO_ID]}
    assert entry.at[:10] == TODAY.isoformat()
    auth.login("admin")
    page = client.get("/office/audit?kind=visit.").get_data(as_text=True)
    assert "<td>添加照片</td>" in page and "visit.photo" not in page
    assert "1 张照片" in page
