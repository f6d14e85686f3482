"""Closing a month, reopening it, and the list of closed months.

A month's record (``Store.set_month``; the registry's ``closed_months`` setting)::

    state        "closed" | "reopened"
    closed_at    when it was last closed; closed_by: who (a phone, or "cli")
    snapshot     file name of its frozen registry and figures (closed/YYYY-MM/<sha256>.json)
    pdf          file name of the summary PDF issued at that close (<sha256>.pdf)
    closes       how many times it was closed
    issued       every PDF issued for it, oldest first: {pdf, at, by}
    reopenings   every reopening, oldest first: {at, by, reason}

Each change is committed with its audit entry (``month.close``, ``month.reopen``) in one
write, after the files it names are on the disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _

from ..clock import now_iso
from ..documents.monthly import not_a_month_message
from ..figures.month import too_early_message
from ..models import AuditEntry
from ..months import FIRST_MONTH, check_month, previous_month, this_month
from ..storage import Store
from .snapshot import Issue, issue, visits_fingerprint

CLOSE = "month.close"
REOPEN = "month.reopen"
MAX_REASON = 500


class ClosingError(ValueError):
    """A close or a reopening that cannot be made; the message is for the person asking."""


def check_closable(month: str, today: date | None = None) -> str:
    """``month`` (YYYY-MM) when it may be closed: a month already over, not before the
    first month. Raises ClosingError."""
    written = month.strip()
    try:
        check_month(written)
    except ValueError:
        raise ClosingError(not_a_month_message(month)) from None
    if written >= this_month(today):
        raise ClosingError(_("%(month)s 还没有结束，不能关账", month=written))
    if written < FIRST_MONTH:
        raise ClosingError(too_early_message(written))
    return written


@dataclass(frozen=True)
class Closed:
    """What ``close_month`` did: the month's record, and whether it was closed already."""

    month: str
    record: dict[str, Any]
    already: bool


class _ClosedMeanwhile(Exception):
    """Another close of the month was recorded while this one made its files."""


def _closed_record(old: dict[str, Any] | None, made: Issue, at: str, actor: str) -> dict[str, Any]:
    old = old or {}
    return {
        "state": "closed",
        "closed_at": at,
        "closed_by": actor,
        "snapshot": made.snapshot,
        "pdf": made.pdf,
        "closes": int(old.get("closes", 0)) + 1,
        "issued": [*old.get("issued", []), {"pdf": made.pdf, "at": at, "by": actor}],
        "reopenings": list(old.get("reopenings", [])),
    }


def _sha(name: str) -> str:
    return name.rsplit(".", 1)[0]


def _commit_close(
    store: Store, month: str, made: Issue, at: str, actor: str, replacing: str | None
) -> dict[str, Any]:
    """Record ``made`` as ``month``'s close with its audit entry. ``replacing``: the
    snapshot of this very close, made again (see ``close_month``)."""

    def change(old: dict[str, Any] | None) -> dict[str, Any]:
        if old is not None and old.get("state") == "closed" and old.get("snapshot") != replacing:
            raise _ClosedMeanwhile
        if replacing is not None and old is not None:
            # The same close: its first files are dropped from the record, not counted twice.
            old = {**old, "closes": int(old["closes"]) - 1, "issued": old["issued"][:-1]}
        return _closed_record(old, made, at, actor)

    def entries(new: dict[str, Any]) -> list[AuditEntry]:
        issued = new["issued"]
        before = {"pdf": _sha(issued[-2]["pdf"])} if len(issued) > 1 else None
        after = {"pdf": _sha(made.pdf)}
        return [AuditEntry(at, actor, CLOSE, month, before, after)]

    record = store.set_month(month, change, entries)
    assert record is not None  # change always gives a record
    return record


def close_month(store: Store, month: str, actor: str, today: date | None = None) -> Closed:
    """Close ``month``: freeze its registry and figures, archive its summary PDF, and from
    then on refuse every new or corrected visit or photo dated in it. A month closed already
    is left as it is (``already``). Needs an application context (the PDF). Raises
    ClosingError for a month that cannot be closed.

    The files are made before the close is recorded, while visits may still arrive; the
    store waits for those under way when it records the close, and if one slipped in
    between (the month's visits are no longer those the files were made from) they are
    made again from the month as it is now final, and recorded in place of the first.
    """
    month = check_closable(month, today)
    old = store.closed_months().get(month)
    if old is not None and old.get("state") == "closed":
        return Closed(month, old, already=True)
    at = now_iso()
    made = issue(store, month, _closed_record(old, _placeholder(), at, actor), today)
    try:
        record = _commit_close(store, month, made, at, actor, None)
    except _ClosedMeanwhile:
        return Closed(month, store.closed_months()[month], already=True)
    if visits_fingerprint(store, month) != made.visits:
        again = issue(store, month, record, today)
        record = _commit_close(store, month, again, at, actor, made.snapshot)
    return Closed(month, record, already=False)


def _placeholder() -> Issue:
    # The PDF is made before its own name is known: the record it prints needs none.
    return Issue("", "", "")


def reopen_month(store: Store, month: str, actor: str, reason: str) -> dict[str, Any]:
    """Reopen a closed ``month`` with the ``reason`` given (required): visits may be added
    and corrected again, and its reports use today's registry until it is closed again.
    Audited with the reason. Raises ClosingError."""
    try:
        month = check_month(month.strip())
    except ValueError:
        raise ClosingError(not_a_month_message(month)) from None
    reason = " ".join(reason.split())
    if not reason:
        raise ClosingError(_("请填写重新打开的原因"))
    if len(reason) > MAX_REASON:
        raise ClosingError(_("原因最多 %(n)d 字", n=MAX_REASON))
    at = now_iso()

    def change(old: dict[str, Any] | None) -> dict[str, Any]:
        if old is None or old.get("state") != "closed":
            raise ClosingError(_("%(month)s 没有关账，不需要重新打开", month=month))
        again = {"at": at, "by": actor, "reason": reason}
        return {**old, "state": "reopened", "reopenings": [*old.get("reopenings", []), again]}

    def entries(new: dict[str, Any]) -> list[AuditEntry]:
        return [AuditEntry(at, actor, REOPEN, month, None, {"reason": reason})]

    record = store.set_month(month, change, entries)
    assert record is not None
    return record


# --- what the reports page lists -------------------------------------------------------


@dataclass(frozen=True)
class IssuedPdf:
    name: str  # file name in closed/YYYY-MM/
    at: str
    by: str  # phone, or "cli"

    @property
    def sha256(self) -> str:
        return _sha(self.name)


@dataclass(frozen=True)
class ClosedMonth:
    """A month ever closed, as the reports page lists it."""

    month: str
    closed: bool  # False: reopened since
    closed_at: str
    closed_by: str
    pdf: IssuedPdf  # the PDF of its latest close
    earlier: list[IssuedPdf]  # PDFs of earlier closes, newest first
    reopenings: list[dict[str, str]]


def closed_months(store: Store) -> list[ClosedMonth]:
    """Every month ever closed, newest first."""
    found = (_closed(month, record) for month, record in store.closed_months().items())
    return sorted((c for c in found if c is not None), key=lambda c: c.month, reverse=True)


def closed_month(store: Store, month: str) -> ClosedMonth | None:
    """``month``'s closes, or None for a month never closed."""
    record = store.closed_months().get(month)
    return _closed(month, record) if record is not None else None


def _closed(month: str, record: dict[str, Any]) -> ClosedMonth | None:
    issued = [IssuedPdf(i["pdf"], i["at"], i["by"]) for i in record.get("issued", [])]
    if not issued:
        return None  # not a record this version wrote
    return ClosedMonth(
        month=month,
        closed=record.get("state") == "closed",
        closed_at=str(record.get("closed_at", "")),
        closed_by=str(record.get("closed_by", "")),
        pdf=issued[-1],
        earlier=issued[-2::-1],
        reopenings=list(record.get("reopenings", [])),
    )


def closable_months(store: Store, today: date | None = None) -> list[str]:
    """Months over and not closed that have visits or were reopened (and last month in any
    case), newest first: what the office may close."""
    current = this_month(today)
    months = {*store.months(), *store.closed_months(), previous_month(current)}
    return sorted(
        (m for m in months if FIRST_MONTH <= m < current and not store.is_closed(m)), reverse=True
    )


def archived_pdf(store: Store, month: str, name: str) -> bytes | None:
    """The PDF issued when ``month`` was closed, or None for any other name."""
    record = store.closed_months().get(month) or {}
    if name not in {i.get("pdf") for i in record.get("issued", [])}:
        return None
    return store.closed.read(month, name) if store.closed.exists(month, name) else None
