"""The background jobs' kinds: what each makes from its parameters (plain JSON, kept in the
job's record, so that any server process can make it). Registered with ``@job_kind``; the
worker loads this module before it claims a job.

A new kind: a function ``(store, params, progress) -> bytes`` decorated with
``@job_kind("name")``, here or in its own module imported from here; the view queues it with
``get_runner().submit(..., kind="name", params={...})``, params being what the function
needs, checked before queueing (a date as its ISO text). The file is made in the documents'
language, whoever asked, as the office's files always are.
"""

from __future__ import annotations

from datetime import date

from ..storage import Store
from .jobs import Params, Progress, job_kind


def _day(params: Params) -> date:
    return date.fromisoformat(params["today"])


@job_kind("summary")
def summary(store: Store, params: Params, _progress: Progress) -> bytes:
    """The month's summary PDF (a township's, or one village's)."""
    from . import monthly

    return monthly.monthly_report_pdf(
        store, params["month"], params["village"], _day(params), township=params["township"]
    )


@job_kind("booklet")
def booklet(store: Store, params: Params, progress: Progress) -> bytes:
    """The year's one-household-one-booklet PDF."""
    from . import booklet as made

    return made.booklet_pdf(
        store,
        params["year"],
        params["village"],
        params["household"],
        progress=progress,
        today=_day(params),
        township=params.get("township"),
    )


@job_kind("visits")
def visits(store: Store, params: Params, _progress: Progress) -> bytes:
    """The month's visits as .xlsx or .csv."""
    from . import exports

    made, _count = exports.export_visits_bytes(
        store,
        params["month"],
        params["format"],
        params["village"],
        _day(params),
        params.get("township"),
    )
    return made


@job_kind("plates")
def plates(store: Store, params: Params, progress: Progress) -> bytes:
    """Door plates, made from the registry as it is when the job runs: a household's plate
    queued right after a new QR code carries the new one."""
    from . import plates as made

    return made.door_plates_pdf(
        store,
        params["address"],
        params["village"],
        progress=progress,
        household=params["household"],
        stale=params["stale"],
        township=params.get("township"),
    )


@job_kind("townships")
def townships(store: Store, params: Params, progress: Progress) -> bytes:
    """Every township's summary PDF of a county's month, in a zip."""
    from . import county

    return county.townships_zip(store, params["month"], progress, _day(params))


@job_kind("reconcile")
def reconcile(store: Store, params: Params, _progress: Progress) -> bytes:
    """A comparison with another department's list, as a PDF (ID numbers masked), within the
    asker's township (none: every township's)."""
    from ..reconcile import results

    comparison = store.registry().comparisons.get(params["comparison"])
    if comparison is None:
        raise LookupError(f"comparison {params['comparison']} is gone")
    return results.result_pdf(store, comparison, _day(params), params.get("township"))
