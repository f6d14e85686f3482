"""The repository stands on its own: the tests read nothing outside it, and the server's
requirements hold no test or development tool."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV_TOOLS = {"pytest", "pytest-xdist", "playwright", "hypothesis", "schemathesis", "ruff", "mypy"}


def _names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[=<>~!\[ ;]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def test_it_keeps_test_tools_out_of_the_servers_requirements() -> None:
    assert not _names(ROOT / "requirements.txt") & DEV_TOOLS


def test_it_installs_the_test_tools_from_the_development_requirements() -> None:
    dev = ROOT / "requirements-dev.txt"
    assert "-r requirements.txt" in dev.read_text("utf-8").splitlines()
    assert _names(dev) >= DEV_TOOLS


def test_it_serves_with_the_servers_requirements_only() -> None:
    # ./fv run sets up the venv from requirements.txt; only ./fv test and setup add the tools.
    script = (ROOT / "fv").read_text("utf-8")
    run_branch = script.split("    run)", 1)[1].split(";;", 1)[0]
    assert "setup requirements.txt" in run_branch
    assert "requirements-dev.txt" not in run_branch


def test_it_reads_no_file_beside_the_repository() -> None:
    # A clean clone has nothing beside it: a path that climbs out of the repository, or
    # names the folder the design notes live in, would fail there.
    # ("../" alone is not looked for: the path-traversal tests send it on purpose.)
    climbing = re.compile(r"parents\[[2-9]\]|shared/samples|[\"']shared[\"']")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("tests", "bench", "fieldvisit")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if climbing.search(line)
    ]
    assert offenders == []


def test_it_carries_the_sample_spreadsheets_the_tests_import() -> None:
    samples = ROOT / "tests" / "samples"
    for name in ("registry-sample.csv", "registry-sample.xlsx", "registry-errors.csv"):
        assert (samples / name).stat().st_size > 0


# The one function allowed to be long: a literal document, read as a whole.
LITERAL_DOCUMENTS = {("fieldvisit/api/openapi.py", "document")}


def test_every_module_and_function_fits_in_a_readers_head() -> None:
    import ast

    too_long = []
    for path in sorted((ROOT / "fieldvisit").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        source = path.read_text("utf-8")
        if len(source.splitlines()) > 450:
            too_long.append(f"{name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60 and (name, node.name) not in LITERAL_DOCUMENTS:
                    too_long.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []


def test_tests_take_their_helpers_from_the_helpers_module() -> None:
    # conftest.py holds fixtures only; people, logins and builders are in helpers.py.
    importing = [
        path.name
        for path in sorted((ROOT / "tests").glob("*.py"))
        if re.search(r"^\s*(from conftest import|import conftest)", path.read_text("utf-8"), re.M)
    ]
    assert importing == []
