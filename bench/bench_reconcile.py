"""Do a county's lists compare in under 10 seconds? A county's registry (15,000 households,
40,000 people, every household's members imported) and each department's list as the
office would upload it (.xlsx, a title row above the header), compared through the same
function as the page and the CLI (``reconcile.running.run_comparison``: reading the file,
matching, comparing, and the durable write of the differences with the audit entry).

Each list carries a few hundred differences of every kind; the 医保 list names everyone
(40,000 rows), so it is the one the target is about. A second pass compares the same lists
again (the month after: every difference already stored), and the 医保 list is also timed as
a CSV file.

Run: ``.venv/bin/python bench/bench_reconcile.py [--households 15000] [--people 40000]
[--keep]``; exits 1 when any comparison takes longer than ``--limit`` seconds (10).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from any folder

from fieldvisit import create_app  # noqa: E402
from fieldvisit.households.lookup import new_token  # noqa: E402
from fieldvisit.idcard import check_digit  # noqa: E402
from fieldvisit.models import Household, Member, Village  # noqa: E402
from fieldvisit.reconcile.running import run_comparison  # noqa: E402
from fieldvisit.storage import Registry, Store  # noqa: E402

STAGES = ("小学", "初中", "高中")


def _number(i: int) -> str:
    born = dt.date(1940, 1, 1) + dt.timedelta(days=i // 900)
    first17 = f"411721{born:%Y%m%d}{i % 900 + 100:03d}"
    return first17 + check_digit(first17)


def build(store: Store, households: int, people: int, rng: random.Random) -> list[Member]:
    """The county's registry: households of 1–5 people adding up to ``people``."""
    sizes = [1] * households
    for _n in range(people - households):
        sizes[rng.randrange(households)] += 1
    made: list[Household] = []
    members: list[Member] = []
    for h, size in enumerate(sizes):
        hid = f"41172{h // 750:02d}{h % 750:05d}"
        head = _number(len(members))
        attribute = rng.choices(("dibao", "wubao", "general"), (67, 12, 21))[0]
        made.append(
            Household(hid, f"村{h // 50:03d}", f"户主{h}", size, attribute, "illness", "not_exited",
                      new_token(), id_number=head)
        )  # fmt: skip
        for k in range(size):
            member = Member(
                _number(len(members)), hid, f"户主{h}" if k == 0 else f"成员{h}-{k}",
                "户主" if k == 0 else "之子", insured=True,
            )  # fmt: skip
            if rng.random() < 0.08:
                member.disability, member.disability_grade = "肢体", "二级"
            if k and rng.random() < 0.2:
                member.school_stage = rng.choice(STAGES)
            members.append(member)

    def change(reg: Registry) -> None:
        reg.households.update({h.id: h for h in made})
        reg.villages.update({h.village: Village(h.village) for h in made})
        reg.members.update({m.id_number: m for m in members})

    store.update_registry(change)
    return members


def lists(store: Store, members: list[Member], rng: random.Random) -> dict[str, list[list[object]]]:
    """Each department's list, with some hundred differences of every kind."""
    reg = store.registry()
    drop = set(rng.sample(range(len(members)), 300))
    roster: list[list[object]] = [["身份证号", "姓名", "保障类别", "保障人数"]]
    for i, h in enumerate(reg.households.values()):
        if h.attribute != "general" and i % 97:
            category = ("低保" if h.attribute == "dibao" else "特困") if i % 89 else "特困"
            roster.append([h.id_number, h.head, category, h.members + (1 if i % 83 == 0 else 0)])
    disability: list[list[object]] = [["身份证号", "姓名", "残疾类别", "残疾等级"]]
    medical: list[list[object]] = [["身份证号", "姓名", "参保状态"]]
    education: list[list[object]] = [["身份证号", "学生姓名", "学段", "资助项目"]]
    for i, m in enumerate(members):
        name = m.name if i % 500 else m.name + "某"
        if m.disability and i not in drop:
            disability.append([m.id_number, name, "肢体残疾", "二级" if i % 40 else "三级"])
        if i not in drop:
            medical.append([m.id_number, name, "已参保" if i % 700 else "停保"])
        if m.school_stage and i not in drop:
            education.append([m.id_number, name, m.school_stage if i % 50 else "高职", "助学金"])
    warning: list[list[object]] = [["身份证号", "姓名", "预警类型", "预警内容", "推送日期"]]
    for m in rng.sample(members, 500):
        warning.append([m.id_number, m.name, "医保高额费用", "自付超过 1 万元", "2026-11-05"])
    strangers = [[_number(len(members) + 10 + k), f"外人{k}"] for k in range(200)]
    for table in (roster, disability, medical, education, warning):
        width = len(table[0])
        table.extend(s + ["低保", 1, "", ""][: width - 2] for s in strangers[:50])
    return {"civil_affairs": roster, "disability": disability, "medical_insurance": medical,
            "education": education, "warning": warning}  # fmt: skip


def xlsx(rows: list[list[object]]) -> bytes:
    """The list as Excel saves it (text in the shared-strings table; openpyxl's write-only
    mode would write inline strings, which no office program does and which read slower)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["县里推送的名单"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def as_csv(rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def timed(store: Store, department: str, data: bytes, name: str) -> tuple[float, str]:
    start = time.perf_counter()
    outcome = run_comparison(store, department, data, name, "bench")
    took = time.perf_counter() - start
    return took, ", ".join(f"{k} {n}" for k, n in outcome.lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=15000)
    parser.add_argument("--people", type=int, default=40000)
    parser.add_argument("--limit", type=float, default=10.0)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-reconcile-", dir=args.dir))
    app = create_app({"TESTING": True, "DATA_DIR": str(folder), "SECRET_KEY": "bench"})
    store = app.extensions["fieldvisit.store"]
    rng = random.Random(14)
    worst = 0.0
    try:
        with app.app_context():
            start = time.perf_counter()
            members = build(store, args.households, args.people, rng)
            print(f"county: {args.households:,} households, {len(members):,} people, "
                  f"built in {time.perf_counter() - start:.1f} s")  # fmt: skip
            files = {d: xlsx(rows) for d, rows in lists(store, members, rng).items()}
            for label in ("first comparison", "the month after (differences stored)"):
                print(f"\n{label}")
                for department, data in files.items():
                    took, found = timed(store, department, data, f"{department}.xlsx")
                    worst = max(worst, took)
                    print(f"  {department:18} {len(data) / 1e6:5.1f} MB  {took:5.2f} s   {found}")
            rows = lists(store, members, random.Random(14))["medical_insurance"]
            took, found = timed(store, "medical_insurance", as_csv(rows), "medical.csv")
            worst = max(worst, took)
            print(f"\n  medical_insurance as CSV: {took:.2f} s   {found}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    verdict = "met" if worst <= args.limit else "MISSED"
    print(f"\nslowest comparison {worst:.2f} s — target < {args.limit:.0f} s {verdict}")
    return 0 if worst <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
