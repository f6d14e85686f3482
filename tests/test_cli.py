"""The administrative commands, run as `flask --app fieldvisit COMMAND` would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import SAMPLES

from fieldvisit.access.passwords import check_password


def test_import_registry_imports_the_sample(runner, store):
    result = runner.invoke(args=["import-registry", str(SAMPLES / "registry-sample.csv")])
    assert result.exit_code == 0, result.output
    assert "新增 24 户" in result.output
    assert len(store.registry().households) == 24


def test_import_registry_rejects_the_error_file_whole(runner, store):
    result = runner.invoke(args=["import-registry", str(SAMPLES / "registry-errors.csv")])
    assert result.exit_code != 0
    assert "未导入任何数据" in result.output
    assert "第 4 行" in result.output
    assert store.registry().households == {}


def test_import_registry_refuses_a_missing_file(runner):
    result = runner.invoke(args=["import-registry", "/nonexistent.xlsx"])
    assert result.exit_code != 0


def test_export_then_import_gives_the_same_registry(runner, store, tmp_path):
    runner.invoke(args=["import-registry", str(SAMPLES / "registry-sample.xlsx")])
    before = {h.id: h.to_doc() for h in store.registry().households.values()}
    out = tmp_path / "export.xlsx"
    result = runner.invoke(args=["export-registry", "--out", str(out)])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["import-registry", str(out)])
    assert "未变 24 户" in again.output
    assert {h.id: h.to_doc() for h in store.registry().households.values()} == before
    bad = runner.invoke(args=["export-registry", "--out", str(tmp_path / "x.txt")])
    assert bad.exit_code != 0


def test_create_user_and_set_password(runner, store):
    result = runner.invoke(
        args=[
            "create-user",
            "--role",
            "supervisor",
            "--name",
            "钱督查",
            "--phone",
            "13500000001",
            "--password",
            "longenough",
        ]
    )
    assert result.exit_code == 0, result.output
    user = store.user("13500000001")
    assert user.role == "supervisor" and check_password(user.password_hash, "longenough")
    again = runner.invoke(
        args=["create-user", "--role", "admin", "--name", "x", "--phone", "13500000001"]
    )
    assert again.exit_code != 0 and "已有账号" in again.output
    bad_phone = runner.invoke(
        args=["create-user", "--role", "admin", "--name", "x", "--phone", "12"]
    )
    assert bad_phone.exit_code != 0
    changed = runner.invoke(args=["set-password", "--phone", "13500000001"])
    assert changed.exit_code == 0
    generated = changed.output.strip().split("：")[-1]
    assert check_password(store.user("13500000001").password_hash, generated)
    missing = runner.invoke(args=["set-password", "--phone", "13500000009"])
    assert missing.exit_code != 0


def test_create_token_prints_a_working_token_last(runner, client, households):
    from helpers import PEOPLE

    result = runner.invoke(args=["create-token", "--phone", PEOPLE["owner"][0]])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    response = client.get("/api/v1/households", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert [h["id"] for h in response.get_json()] == [households["h1"].id]
    assert runner.invoke(args=["create-token", "--phone", "13111111111"]).exit_code != 0


def test_seed_demo_builds_the_township_and_refuses_a_second_time(runner, store):
    result = runner.invoke(args=["seed-demo", "--months", "1"])
    assert result.exit_code == 0, result.output
    assert "676" in result.output and "demo1234" in result.output
    assert len(store.registry().households) == 676
    assert runner.invoke(args=["seed-demo"]).exit_code != 0


def test_door_plates_needs_a_base_url_and_writes_a_pdf(runner, app, households, tmp_path):
    out = tmp_path / "plates.pdf"
    result = runner.invoke(args=["door-plates", "--out", str(out), "--village", "聂河村"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    unknown = runner.invoke(args=["door-plates", "--out", str(out), "--village", "没有这个村"])
    assert unknown.exit_code != 0
    app.config["BASE_URL"] = None
    assert runner.invoke(args=["door-plates", "--out", str(out)]).exit_code != 0


def test_door_plates_prints_one_household(runner, store, households, tmp_path):
    from test_report_pages import _qr_codes

    h1 = households["h1"]
    out = tmp_path / "plate.pdf"
    result = runner.invoke(args=["door-plates", "--out", str(out), "--household", h1.id])
    assert result.exit_code == 0, result.output
    assert _qr_codes(out) == [f"http://fieldvisit.test/h/{store.household(h1.id).token}"]
    text = subprocess.run(
        ["pdftotext", str(out), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert h1.id in text and households["h2"].id not in text


def test_door_plates_refuses_an_unknown_household_and_both_scopes(runner, households, tmp_path):
    out = tmp_path / "plate.pdf"
    unknown = runner.invoke(args=["door-plates", "--out", str(out), "--household", "4117219999999"])
    assert unknown.exit_code != 0
    assert "没有户编号为 4117219999999 的户" in unknown.output
    both = runner.invoke(
        args=[
            "door-plates",
            "--out",
            str(out),
            "--village",
            "聂河村",
            "--household",
            households["h1"].id,
        ]
    )
    assert both.exit_code != 0
    assert "--village 和 --household 只能选一个" in both.output
    assert not out.exists()


def test_the_real_flask_command_runs(tmp_path):
    """The commands work from a shell, on FIELDVISIT_DATA_DIR."""
    env = {"FIELDVISIT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "fieldvisit",
            "import-registry",
            str(SAMPLES / "registry-errors.csv"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode != 0
    assert "第 4 行" in result.stderr + result.stdout
