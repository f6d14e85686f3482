"""Applying a checked file to the store: households, helpers and villages added or updated
in one atomic write, with one audit entry saying what changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from ..access.permissions import may_supervise
from ..clock import now_iso
from ..households.lookup import new_token
from ..idcard import mask_id_number
from ..models import AuditEntry, Household, User, Village, village_key
from ..storage import Registry, Store
from . import scope
from .checking import _check, _Helper, _Plan
from .errors import RegistryError, RowError
from .fields import _Invalid, field_of_column, keep_or_replace_id_number

# Household field -> the column the office knows it by.
_COLUMN_OF = {name: column for column, name in field_of_column().items()} | {
    "helpers": "帮扶责任人"
}


@dataclass(frozen=True)
class HouseholdChange:
    """One updated household, as the office reads it after an import."""

    id: str
    head: str
    columns: tuple[str, ...]  # the spreadsheet columns whose value changed


@dataclass
class ImportReport:
    """What an import did. The counts are properties over the lists of ids."""

    added_ids: list[str] = field(default_factory=list)
    updated_ids: list[str] = field(default_factory=list)
    unchanged_ids: list[str] = field(default_factory=list)
    # Households stored but absent from the file: left as they were, never deleted, since a
    # file often covers only some villages.
    missing_ids: list[str] = field(default_factory=list)
    helpers_added_phones: list[str] = field(default_factory=list)
    helpers_updated_phones: list[str] = field(default_factory=list)
    villages_added_names: list[str] = field(default_factory=list)
    # What changed in each updated household: an import overwrites edits made on the web
    # since, so the office is shown which households and columns it touched.
    changes: list[HouseholdChange] = field(default_factory=list)

    @property
    def added(self) -> int:
        return len(self.added_ids)

    @property
    def updated(self) -> int:
        return len(self.updated_ids)

    @property
    def unchanged(self) -> int:
        return len(self.unchanged_ids)

    @property
    def missing(self) -> int:
        return len(self.missing_ids)

    @property
    def helpers_added(self) -> int:
        return len(self.helpers_added_phones)

    @property
    def helpers_updated(self) -> int:
        return len(self.helpers_updated_phones)

    @property
    def villages_added(self) -> int:
        return len(self.villages_added_names)

    def counts(self) -> dict[str, int]:
        names: tuple[str, ...] = ("added", "updated", "unchanged", "missing")
        names += ("helpers_added", "helpers_updated", "villages_added")
        return {name: getattr(self, name) for name in names}


@dataclass
class _Diff:
    """Changed fields, old and new, for the audit entry."""

    before: dict[str, dict[str, Any]] = field(default_factory=dict)
    after: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self, key: str, name: str, old: Any, new: Any) -> None:
        if name == "id_number":  # the audit log is read by more people than the registry
            old, new = mask_id_number(old), mask_id_number(new)
        self.before.setdefault(key, {})[name] = old
        self.after.setdefault(key, {})[name] = new


def _upsert_helper(
    reg: Registry, phone: str, helper: _Helper, at: str, report: ImportReport, diff: _Diff
) -> None:
    user = reg.users.get(phone)
    if user is None:
        unit = helper.unit or ""
        reg.users[phone] = User(
            phone=phone, name=helper.name, role="helper", unit=unit, created_at=at
        )
        report.helpers_added_phones.append(phone)
        return
    # Only helper accounts get here (office accounts are refused in _apply); the role and
    # the password are never touched by an import.
    wanted = {"name": helper.name}
    if helper.unit is not None:
        wanted["unit"] = helper.unit
    changed = False
    for name, new in wanted.items():
        if getattr(user, name) != new:
            diff.record(phone, name, getattr(user, name), new)
            setattr(user, name, new)
            changed = True
    if changed:
        report.helpers_updated_phones.append(phone)


def _upsert_household(
    reg: Registry, values: dict[str, Any], at: str, report: ImportReport, diff: _Diff
) -> None:
    existing = reg.households.get(values["id"])
    if "id_number" in values:
        # An empty or masked cell (the masked download sent back) keeps the stored number:
        # clearing them must not wipe every household's ID number.
        stored = existing.id_number if existing is not None else ""
        values = {**values, "id_number": keep_or_replace_id_number(values["id_number"], stored)}
    township = values.get("township", existing.township if existing is not None else "")
    village = village_key(township, values["village"])
    if village not in reg.villages:
        reg.villages[village] = Village(values["village"], township=township)
        report.villages_added_names.append(village)
    if existing is None:
        household = Household(**values, token=new_token(), updated_at=at)
        reg.households[household.id] = household
        reg.by_token[household.token] = household.id
        report.added_ids.append(household.id)
        return
    changed: list[str] = []
    for name, new in values.items():
        old = getattr(existing, name)
        if old != new:
            diff.record(existing.id, name, old, new)
            setattr(existing, name, new)
            changed.append(name)
    if changed:
        existing.updated_at = at
        report.updated_ids.append(existing.id)
        columns = tuple(_COLUMN_OF.get(name, name) for name in changed)
        report.changes.append(HouseholdChange(existing.id, existing.head, columns))
    else:
        report.unchanged_ids.append(existing.id)


# Accounts of the township office (the office's own and supervisors': ``may_supervise``),
# not helpers'. A spreadsheet is not the place to change them: an import would rename the
# account after the file's helper column and pair households with a login that sees the
# whole township, so a row naming one is refused (the office's people who also
# visit households use a helper account of their own).
def _is_office_account(reg: Registry, phone: str) -> bool:
    user = reg.users.get(phone)
    return may_supervise(user)


def _apply(
    reg: Registry, plan: _Plan, at: str, township: str | None
) -> tuple[ImportReport, _Diff, _Diff]:
    errors = scope.confine(reg, plan, township)
    report, households, helpers = ImportReport(), _Diff(), _Diff()
    report.missing_ids = scope.missing_ids(reg, plan, township)
    for phone, helper in plan.helpers.items():
        # Checked here, on the registry read under its lock, so that an account made an
        # admin a moment ago is seen. Such a file is refused below; its accounts are not
        # even changed in this private copy.
        if not _is_office_account(reg, phone):
            _upsert_helper(reg, phone, helper, at, report, helpers)
    phone_column = plan.header("帮扶责任人电话")
    for values in plan.households:
        row = plan.rows[values["id"]]
        try:
            _upsert_household(reg, values, at, report, households)
        except _Invalid as exc:
            errors.append(RowError(row, plan.header("身份证号"), exc.args[0]))
        for phone in values.get("helpers", []):
            user = reg.users.get(phone)
            if _is_office_account(reg, phone):
                reason = _("%(phone)s 是扶贫办或督查人员的账号，不能作为帮扶责任人", phone=phone)
                errors.append(RowError(row, phone_column, reason))
            elif user is not None and not user.active:
                # A stopped account cannot log in: its households would go unvisited.
                reason = _(
                    "%(name)s（%(phone)s）的账号已停用：请先在“帮扶责任人”页启用，或改填其他人",
                    name=user.name,
                    phone=phone,
                )
                errors.append(RowError(row, phone_column, reason))
    if errors:
        # Raised inside the registry's transaction: nothing written.
        raise RegistryError(sorted(errors, key=lambda e: e.row))
    return report, households, helpers


def import_registry(
    store: Store, data: bytes, filename: str, actor: str, township: str | None = None
) -> ImportReport:
    """Import a registry file: all of it, or nothing.

    Raises ``RegistryError`` listing every problem when any row is wrong; then nothing is
    written. Otherwise households, helpers and villages are added or updated in one atomic
    write, and one audit entry (``registry.import``) records what changed. ``township``
    confines the import to that township's households (a township's office: see
    ``registry.scope``); None imports anything.
    """
    plan = _check(data, filename)
    at = now_iso()

    def entries(outcome: tuple[ImportReport, Any, Any]) -> list[AuditEntry]:
        report, households, helpers = outcome
        after: dict[str, Any] = {
            "counts": report.counts(),
            "added": report.added_ids,
            "updated": report.updated_ids,
            "helpers_added": report.helpers_added_phones,
            "helpers_updated": report.helpers_updated_phones,
            "villages_added": report.villages_added_names,
            "households": households.after,
            "helpers": helpers.after,
        }
        before = {"households": households.before, "helpers": helpers.before}
        return [AuditEntry(at, actor, "registry.import", filename, before, after)]

    report, _households, _helpers = store.update_registry(
        lambda reg: _apply(reg, plan, at, township), entries
    )
    return report
