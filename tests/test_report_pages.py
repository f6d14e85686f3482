"""The reports page: the office and supervisors queue a file, watch it being made and
download it; helpers and strangers cannot, and nobody sees another person's files. The
office's door plates, queued from their own page, are watched and downloaded here too."""

from __future__ import annotations

import re
import subprocess
import time
from datetime import date

import pytest
from helpers import PEOPLE
from job_helpers import gate

from fieldvisit.documents.jobs import (
    JOB_TTL_SECONDS,
    MAX_WAITING_PER_OWNER,
    JobLimitError,
    get_runner,
)

MONTH = date.today().isoformat()[:7]
ROUTES = ["/reports", "/reports/jobs/x", "/reports/jobs/x.json", "/reports/jobs/x/download"]


def _start(client, auth, **form: str):
    return client.post("/reports", data={"csrf_token": auth.csrf(), **form})


def _job_id(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    match = re.fullmatch(r"/reports/jobs/([A-Za-z0-9_-]+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def _download(client, url: str):
    """The response with its body read; a file response keeps its file open until closed."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def _finish(app, job_id: str):
    return get_runner(app).wait(job_id, timeout=30)


@pytest.mark.parametrize("route", ROUTES)
def test_helpers_are_refused(client, auth, households, route):
    auth.login("owner")
    assert client.get(route).status_code == 403


def test_nobody_is_sent_to_log_in(client, households):
    response = client.get("/reports")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("who", ["admin", "supervisor"])
def test_the_office_and_supervisors_get_the_page(client, auth, households, who):
    auth.login(who)
    page = client.get("/reports").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    assert f'<option value="{MONTH}"' in page
    assert '<option value="聂河村">' in page and '<option value="王寨村">' in page
    assert 'href="/reports"' in client.get("/").get_data(as_text=True)  # in the office nav


def test_a_summary_is_queued_made_and_downloaded(app, client, auth, households):
    auth.login("supervisor")
    job_id = _job_id(_start(client, auth, kind="summary", month=MONTH, village=""))
    page = client.get(f"/reports/jobs/{job_id}").get_data(as_text=True)
    assert "jobs.js" in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script
    job = _finish(app, job_id)
    assert job.status == "done", job.error
    status = client.get(f"/reports/jobs/{job_id}.json").get_json()
    assert status["status"] == "done" and status["percent"] == 100
    assert status["download"] == f"/reports/jobs/{job_id}/download"
    response = _download(client, status["download"])
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert "filename*=UTF-8''" in disposition  # the Chinese name survives
    # Stored in the store's report files, named by the job's random id.
    assert job.result == f"{job_id}.pdf"
    assert job_id in client.get("/reports").get_data(as_text=True)


def test_a_booklet_reports_its_progress(app, client, auth, households):
    auth.login("admin")
    job_id = _job_id(_start(client, auth, kind="booklet", year=MONTH[:4], village="聂河村"))
    job = _finish(app, job_id)
    assert job.status == "done", job.error
    assert (job.done, job.total) == (1, 1)  # 聂河村 has one household here
    assert _download(client, f"/reports/jobs/{job_id}/download").data.startswith(b"%PDF")


def test_visits_are_exported_as_a_workbook(app, client, auth, households):
    auth.login("admin")
    job_id = _job_id(_start(client, auth, kind="visits", month=MONTH, format="xlsx"))
    assert _finish(app, job_id).status == "done"
    response = _download(client, f"/reports/jobs/{job_id}/download")
    assert response.data.startswith(b"PK")  # a zip: an .xlsx
    assert "spreadsheetml" in response.mimetype


def test_a_job_is_only_visible_to_whoever_queued_it(app, client, auth, households):
    auth.login("admin")
    job_id = _job_id(_start(client, auth, kind="summary", month=MONTH))
    _finish(app, job_id)
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login("supervisor")
    for route in ROUTES[1:]:
        assert client.get(route.replace("/x", f"/{job_id}")).status_code == 404
    assert job_id not in client.get("/reports").get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"kind": "summary", "month": "2026-13"}, "月份应写成 年-月"),
        ({"kind": "summary", "month": MONTH, "village": "东村"}, "没有名为“东村”的村"),
        ({"kind": "booklet", "year": "1999"}, "年度应在"),
        ({"kind": "booklet", "year": MONTH[:4], "household": "999"}, "没有户编号为 999 的户"),
        ({"kind": "visits", "month": MONTH, "format": "pdf"}, "请选择 Excel 或 CSV"),
    ],
)
def test_a_bad_request_is_explained_on_the_page(app, client, auth, households, form, message):
    auth.login("admin")
    response = _start(client, auth, **form)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert get_runner(app).jobs_of(PEOPLE["admin"][0]) == []


def test_starting_a_job_needs_the_csrf_token(client, auth, households):
    auth.login("admin")
    response = client.post("/reports", data={"kind": "summary", "month": MONTH})
    assert response.status_code == 400


def test_the_worker_survives_a_failure(app):
    runner = get_runner(app)
    owner, pdf = "13600000001", "application/pdf"
    failed = runner.submit(owner, "a", "坏", "a.pdf", pdf, "test.broken", {"message": "disk full"})
    fine = runner.submit(owner, "b", "好", "b.pdf", pdf, "test.echo", {"payload": "%PDF"})
    failed = runner.wait(failed.id)  # a job is a reading of its record: read it again
    assert failed.status == "failed" and "disk full" in failed.error
    fine = runner.wait(fine.id)
    assert fine.status == "done" and runner.result(fine) == b"%PDF"


def test_the_same_request_reuses_the_unfinished_job_and_the_queue_is_bounded(app):
    runner = get_runner(app)
    slow = ("test.gated", {"gate": f"reuse-{id(app)}", "payload": "x", "timeout": 10})

    owner = "13600000001"
    first = runner.submit(owner, "same", "t", "a.pdf", "application/pdf", *slow)
    assert runner.submit(owner, "same", "t", "a.pdf", "application/pdf", *slow).id == first.id
    for n in range(1, MAX_WAITING_PER_OWNER):
        runner.submit(owner, f"other-{n}", "t", "a.pdf", "application/pdf", *slow)
    with pytest.raises(JobLimitError):
        runner.submit(owner, "one-more", "t", "a.pdf", "application/pdf", *slow)
    # Someone else is not held up by this owner's queue.
    runner.submit("13700000001", "theirs", "t", "a.pdf", "application/pdf", *slow)
    gate(slow[1]["gate"]).set()
    for job in runner.jobs_of(owner):
        runner.wait(job.id)


def test_jobs_and_files_are_removed_after_a_day(app):
    runner = get_runner(app)
    job = runner.submit(
        "13600000001", "k", "t", "a.pdf", "application/pdf", "test.echo", {"payload": "%PDF"}
    )
    runner.wait(job.id)
    job = runner.wait(job.id)
    stray = "left-by-a-restart-0000.pdf"
    runner.store.reports.put(stray, b"old")
    runner.cleanup(now=time.time() + 60)
    assert runner.result(job) == b"%PDF" and runner.store.reports.read(stray) == b"old"
    runner.cleanup(now=time.time() + JOB_TTL_SECONDS + 60)
    assert runner.get(job.id, "13600000001") is None
    assert job.result is not None and runner.store.reports.read(job.result) is None
    assert runner.store.reports.read(stray) is None


def test_the_pdf_is_chinese_whatever_language_the_page_speaks(app, client, auth, households):
    auth.login("admin")
    client.get("/lang/en")
    page = client.get("/reports").get_data(as_text=True)
    assert "Monthly reports" in page  # the page itself is in English
    job_id = _job_id(_start(client, auth, kind="summary", month=MONTH, village="聂河村"))
    job = _finish(app, job_id)
    assert job.status == "done", job.error
    text = subprocess.run(
        ["pdftotext", "-", "-"],
        input=get_runner(app).result(job),
        check=True,
        capture_output=True,
    ).stdout.decode()
    assert "一、总体情况" in text and "两不愁三保障" in text


# --- door plates: queued from the office's door-plates page, watched and downloaded here ---


def _queue_plates(client, auth, **form: str):
    return client.post("/office/plates", data={"csrf_token": auth.csrf(), **form})


def _qr_codes(pdf) -> list[str]:
    """The links of the QR codes printed in ``pdf``, page by page (rasterized and scanned)."""
    from PIL import Image
    from pyzbar.pyzbar import ZBarSymbol, decode

    prefix = pdf.with_suffix("")
    subprocess.run(["pdftoppm", "-r", "100", "-png", str(pdf), str(prefix)], check=True)
    found = []
    for page in sorted(pdf.parent.glob(f"{pdf.stem}-*.png")):
        with Image.open(page) as image:
            found += [s.data.decode() for s in decode(image, symbols=[ZBarSymbol.QRCODE])]
    return found


def test_the_office_queues_a_villages_plates_and_downloads_them(
    app, client, auth, households, tmp_path
):
    auth.login("admin")
    page = client.get("/office/plates").get_data(as_text=True)
    assert 'method="post" action="/office/plates"' in page and 'name="csrf_token"' in page
    job_id = _job_id(_queue_plates(client, auth, village="王寨村"))
    page = client.get(f"/reports/jobs/{job_id}").get_data(as_text=True)
    assert "户牌：王寨村，1 户" in page and "jobs.js" in page
    assert 'href="/office/plates"' in page  # back to where it was asked for
    job = _finish(app, job_id)
    assert job.status == "done", job.error
    assert (job.done, job.total) == (1, 1)  # plates made / plates in all
    status = client.get(f"/reports/jobs/{job_id}.json").get_json()
    assert status["status"] == "done" and status["download"] == f"/reports/jobs/{job_id}/download"
    response = _download(client, status["download"])
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]  # 王寨村-户牌.pdf
    pdf = tmp_path / "plates.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    h2 = households["h2"]
    assert h2.id in text and h2.head in text and "扶贫帮扶户牌" in text
    assert households["h1"].head not in text  # another village's household
    assert h2.id_number not in text
    assert _qr_codes(pdf) == [f"http://fieldvisit.test/h/{h2.token}"]
    # The door-plates page lists the file, for coming back to it later.
    assert f"/reports/jobs/{job_id}" in client.get("/office/plates").get_data(as_text=True)


def test_the_office_reprints_one_households_plate_after_a_new_qr_code(
    app, client, auth, store, households, tmp_path
):
    h1 = households["h1"]
    auth.login("admin")
    client.post(f"/h/{h1.token}/token", data={"csrf_token": auth.csrf()})
    token = store.household(h1.id).token
    assert token != h1.token
    # As the household page's button sends it (spaces around a typed 户编号 are forgiven).
    job_id = _job_id(_queue_plates(client, auth, household=f" {h1.id} "))
    page = client.get(f"/reports/jobs/{job_id}").get_data(as_text=True)
    assert f"户牌：{h1.id}，1 户" in page
    job = _finish(app, job_id)
    assert job.status == "done", job.error
    assert (job.done, job.total) == (1, 1)
    response = _download(client, f"/reports/jobs/{job_id}/download")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "4117210010001" in response.headers["Content-Disposition"]
    pdf = tmp_path / "plate.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert h1.id in text and h1.head in text
    assert households["h2"].head not in text
    # The one plate leads to the household's current token, which opens its page.
    (url,) = _qr_codes(pdf)
    assert url == f"http://fieldvisit.test/h/{token}"
    assert client.get(url.removeprefix("http://fieldvisit.test")).status_code == 200


def test_the_households_number_wins_over_the_village(app, client, auth, households):
    auth.login("admin")
    job_id = _job_id(_queue_plates(client, auth, village="王寨村", household=households["h1"].id))
    job = _finish(app, job_id)
    assert job.status == "done", job.error
    # The title is worded when shown: read it where it is shown.
    page = client.get(f"/reports/jobs/{job_id}").get_data(as_text=True)
    assert f"户牌：{households['h1'].id}，1 户" in page


def test_plates_of_an_unknown_household_are_refused_on_the_page(app, client, auth, households):
    auth.login("admin")
    response = _queue_plates(client, auth, household="4117219999999")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "没有户编号为 4117219999999 的户" in page
    assert 'value="4117219999999"' in page  # kept in the box, to be corrected
    assert get_runner(app).jobs_of(PEOPLE["admin"][0]) == []


def test_plates_of_a_village_without_households_are_refused_on_the_page(
    app, client, auth, households
):
    auth.login("admin")
    response = _queue_plates(client, auth, village="没有这个村")
    assert response.status_code == 400
    assert "没有登记户，无法打印户牌" in response.get_data(as_text=True)
    assert get_runner(app).jobs_of(PEOPLE["admin"][0]) == []


@pytest.mark.parametrize("who", ["supervisor", "owner"])
def test_only_the_office_queues_door_plates(app, client, auth, households, who):
    auth.login(who)
    assert client.get("/office/plates").status_code == 403
    assert _queue_plates(client, auth, village="王寨村").status_code == 403
    assert _queue_plates(client, auth, household=households["h1"].id).status_code == 403
    # Nor through the reports' own form, which supervisors may use for the other files.
    refused = _start(client, auth, kind="plates", village="王寨村").status_code
    assert refused == (400 if who == "supervisor" else 403)
    assert get_runner(app).jobs_of(PEOPLE[who][0]) == []


def test_queueing_plates_needs_the_csrf_token_and_the_old_download_is_gone(
    app, client, auth, households
):
    auth.login("admin")
    assert client.post("/office/plates", data={"village": "王寨村"}).status_code == 400
    assert client.post("/office/plates", data={"household": households["h1"].id}).status_code == 400
    assert get_runner(app).jobs_of(PEOPLE["admin"][0]) == []
    # The PDF is no longer made inside a request.
    assert client.get("/office/plates.pdf?village=王寨村").status_code == 404


def test_plates_progress_is_told_in_plates(app):
    from fieldvisit.documents.jobs import Job
    from fieldvisit.views.reports import status_message

    with app.test_request_context():
        plates = Job("p", "13600000001", "plates//x", "户牌", "a.pdf", "application/pdf")
        plates.status, plates.done, plates.total = "running", 100, 676
        assert status_message(plates) == "正在生成：100 / 676 张户牌"
        booklet = Job("b", "13600000001", "booklet/2026//", "册", "b.pdf", "application/pdf")
        booklet.status, booklet.done, booklet.total = "running", 50, 676
        assert status_message(booklet) == "正在生成：50 / 676 户"
