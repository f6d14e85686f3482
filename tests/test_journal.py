"""The visit files' journal: cheap appends, torn tails, folds that a crash cannot replay twice."""

from __future__ import annotations

import json
from datetime import date

from helpers import PEOPLE, visit_payload
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldvisit.storage import JOURNAL_SUFFIX, Store, village_file_name
from fieldvisit.storage import files as storage_files
from fieldvisit.storage.journal import Content, Keys, apply_entry
from fieldvisit.visits import needs as ledger
from fieldvisit.visits.recording import record_visit

MONTH = date.today().isoformat()[:7]


def paths(store: Store, village: str = "聂河村"):
    base = store.root / "visits" / MONTH / village_file_name(village)
    return base, base.with_name(base.name + JOURNAL_SUFFIX)


def lines(journal) -> list[bytes]:
    """The journal's lines: up to its last newline (after it, the zeros of space allocated
    ahead, or what a crash tore)."""
    raw = journal.read_bytes()
    return raw[: raw.rfind(b"\n") + 1].splitlines()


def save(store: Store, household, n: int, **kw):
    owner = store.user(PEOPLE["owner"][0])
    return [
        record_visit(store, visit_payload(household, id=f"visit-{i:04d}-abcdef", **kw), owner)[0]
        for i in range(n)
    ]


def test_a_save_appends_one_line_and_does_not_rewrite_the_file(store, households):
    save(store, households["h1"], 3)
    base, journal = paths(store)
    assert not base.exists()
    assert len(lines(journal)) == 1 + 3  # the header, then one line per save
    raw = journal.read_bytes()
    assert raw[raw.rfind(b"\n") + 1 :].strip(b"\0") == b""  # then allocated zeros
    assert len(Store(store.root).visits(MONTH)) == 3


def test_the_journal_is_folded_into_the_file(store, households, monkeypatch):
    monkeypatch.setattr(storage_files, "COMPACT_AFTER", 4)
    save(store, households["h1"], 5)
    base, journal = paths(store)
    assert base.exists()
    assert len(lines(journal)) == 1 + 1  # a new journal after the fold
    fresh = Store(store.root)
    assert sorted(v.id for v in fresh.visits(MONTH)) == [f"visit-{i:04d}-abcdef" for i in range(5)]


def test_a_fold_keeps_what_the_cache_knew_of_the_file(store, households, monkeypatch):
    # The folded file is the content the journal made: the next save looks its id up through
    # the index kept, without a pass over the file to make it again.
    monkeypatch.setattr(storage_files, "COMPACT_AFTER", 4)
    save(store, households["h1"], 4)
    base, _journal = paths(store)
    entry = store._files.read(base)
    assert entry.journal.ident is None  # folded just now
    index = entry.keys.by_key[("visits", "id")]
    assert index == {d["id"]: k for k, d in entry.data["visits"].items()}
    # A transaction's fold writes new content: nothing known of the old is carried over.
    with store._files.transaction(base) as db:
        db.table("visits", cache_size=0).truncate()
    assert store._files.read(base).keys.by_key == {}
    assert Store(store.root).visits(MONTH) == []


def test_a_torn_last_line_is_ignored_and_cut_by_the_next_writer(store, households):
    save(store, households["h1"], 2)
    _base, journal = paths(store)
    end = journal.read_bytes().rfind(b"\n") + 1
    with journal.open("r+b") as fh:  # a crash tore the next line where it was written
        fh.seek(end)
        fh.write(b'{"ops": [{"op": "put", "table": "visits", "doc": {"id": "half-written-but-long')
    fresh = Store(store.root)
    assert len(fresh.visits(MONTH)) == 2
    owner = fresh.user(PEOPLE["owner"][0])
    record_visit(fresh, visit_payload(households["h1"], id="after-the-crash-01"), owner)
    assert len(Store(store.root).visits(MONTH)) == 3
    assert len(lines(journal)) == 1 + 3 and all(line.endswith(b"}") for line in lines(journal))
    # What is left of the torn line lies after the last newline: never read.
    assert b"half" not in b"\n".join(lines(journal))


def test_a_crash_between_fold_and_journal_removal_replays_nothing_twice(
    store, households, monkeypatch
):
    """A need resolved in a fold must not be reopened by replaying the old journal."""
    [visit] = save(store, households["h1"], 1)
    [need] = store.needs(MONTH)
    base, journal = paths(store)
    kept_journal = journal.read_bytes()

    monkeypatch.setattr(storage_files, "COMPACT_AFTER", 2)
    ledger.resolve(store, need.id, PEOPLE["admin"][0], "已报销")  # the 2nd line: a fold
    assert base.exists() and not journal.exists()
    journal.write_bytes(kept_journal)  # as if the crash came before the journal was removed
    fresh = Store(store.root)
    [again] = fresh.needs(MONTH)
    assert again.status == "resolved"
    assert [v.id for v in fresh.visits(MONTH)] == [visit.id]


def test_a_resend_writes_nothing(store, households):
    save(store, households["h1"], 1)
    _base, journal = paths(store)
    before = journal.read_bytes()
    save(store, households["h1"], 1)
    assert journal.read_bytes() == before


def test_a_correction_replaces_open_needs_and_keeps_resolved_ones(store, households):
    from fieldvisit.visits.recording import correct_visit

    owner = store.user(PEOPLE["owner"][0])
    payload = visit_payload(households["h1"])
    payload["needs"].append({"category": "water", "description": "水管冻裂", "urgent": False})
    visit, _ = record_visit(store, payload, owner)
    water = next(n for n in store.needs(MONTH) if n.category == "water")
    ledger.resolve(store, water.id, PEOPLE["admin"][0], "已修好")
    changed = {
        **payload,
        "needs": [{"category": "housing", "description": "修屋顶", "urgent": True}],
    }
    correct_visit(store, visit, changed, owner)
    needs = {(n.category, n.status) for n in Store(store.root).needs(MONTH)}
    assert needs == {("water", "resolved"), ("housing", "open")}


def test_only_a_visit_with_open_needs_stored_has_them_dropped(store, households):
    # A drop passes over the file's needs: a new visit's line has none, and a correction's
    # has one only when the version it replaces left open needs.
    from fieldvisit.visits.recording import correct_visit

    owner = store.user(PEOPLE["owner"][0])
    payload = visit_payload(households["h1"])
    plain = {**visit_payload(households["h1"], id="visit-plain-abcdef"), "needs": []}
    visit, _ = record_visit(store, payload, owner)
    bare, _ = record_visit(store, plain, owner)
    correct_visit(store, visit, {**payload, "notes": "改了备注"}, owner)
    correct_visit(store, bare, {**plain, "notes": "改了备注"}, owner)
    _base, journal = paths(store)
    entries = [json.loads(line) for line in lines(journal)[1:]]
    drops = [[op["where"] for op in e["ops"] if op["op"] == "drop"] for e in entries]
    assert drops == [[], [], [{"visit": visit.id, "status": "open"}], []]
    [need] = Store(store.root).needs(MONTH)
    assert need.visit == visit.id and need.status == "open"


def test_a_correction_keeps_the_comments_of_a_need_it_keeps(store, households):
    from fieldvisit.visits.recording import correct_visit

    owner = store.user(PEOPLE["owner"][0])
    payload = visit_payload(households["h1"])
    visit, _ = record_visit(store, payload, owner)
    [need] = store.needs(MONTH)

    ledger.comment(store, need.id, PEOPLE["admin"][0], "请尽快处理")
    correct_visit(store, visit, {**payload, "notes": "改了备注"}, owner)
    [after] = Store(store.root).needs(MONTH)
    assert after.id == need.id and after.comments[0]["text"] == "请尽快处理"


# What a table's documents may look like to the operations: an id, a second key field, a
# field a drop can match on. Few values, so that puts replace and drops hit.
_DOCS = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["a", "b", "c", "d"]),
        "code": st.sampled_from(["x", "y", "z"]),
        "status": st.sampled_from(["open", "resolved"]),
    }
)
_OPS = st.one_of(
    st.builds(
        lambda table, key, doc: {"op": "put", "table": table, "key": key, "doc": doc},
        st.sampled_from(["visits", "needs"]),
        st.sampled_from(["id", "code"]),
        _DOCS,
    ),
    st.builds(
        lambda table, where: {"op": "drop", "table": table, "where": where},
        st.sampled_from(["visits", "needs"]),
        st.one_of(
            st.fixed_dictionaries({"status": st.sampled_from(["open", "resolved"])}),
            st.fixed_dictionaries({"id": st.sampled_from(["a", "b", "c", "d"])}),
        ),
    ),
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.lists(_OPS, min_size=1, max_size=6), min_size=1, max_size=8))
def test_keys_kept_between_entries_give_what_a_fresh_pass_gives(entries) -> None:
    # A cached reading keeps what one entry learnt of its tables (Keys) for the next; the
    # content, document ids included, must be what a replay from the file makes.
    fresh: dict = {"visits": {"1": {"id": "a", "code": "x", "status": "open"}}}
    kept, keys = dict(fresh), Keys()
    for ops in entries:
        fresh = apply_entry(fresh, {"ops": ops})
        earlier = {k: dict(v) for k, v in keys.by_key.items()}
        following = keys.copy()
        kept = apply_entry(kept, {"ops": ops}, following)
        assert kept == fresh
        # What the earlier reading's Keys hold is not changed by applying to a copy.
        assert {k: dict(v) for k, v in keys.by_key.items()} == earlier
        keys = following
        # A look-up through what the Keys know finds what a pass over the table finds.
        for table in ("visits", "needs"):
            for field, values in (("id", "abcd"), ("code", "xyz")):
                for value in values:
                    found = Content(kept, keys).find(table, field, value)
                    matches = [d for d in kept.get(table, {}).values() if d[field] == value]
                    assert (found in matches) if matches else found is None
    for (table, field), index in keys.by_key.items():
        assert index == {d.get(field): k for k, d in fresh.get(table, {}).items()}
    for table, top in keys.top.items():
        assert top == max((int(k) for k in fresh[table]), default=0)


def test_a_look_up_does_not_trust_an_index_that_names_another_document() -> None:
    data = {"visits": {"1": {"id": "a"}, "2": {"id": "b"}}}
    assert Content(data, Keys(by_key={("visits", "id"): {"a": "1"}})).find("visits", "id", "a")
    stale = Keys(by_key={("visits", "id"): {"b": "1"}})
    assert Content(data, stale).find("visits", "id", "b") == {"id": "b"}
    gone = Keys(by_key={("visits", "id"): {"b": "9"}})
    assert Content(data, gone).find("visits", "id", "b") == {"id": "b"}
    assert Content(data, Keys()).find("visits", "id", "b") == {"id": "b"}
    assert Content(data, Keys()).find("visits", "id", "c") is None
    assert Content({}, Keys()).find("visits", "id", "a") is None
