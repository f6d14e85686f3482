"""The township's own rules for judging a month, kept with the registry's settings.

* ``completion_target``: the share of households (a whole percent, 100 by default) a village
  must have visited in person for its completion not to be marked 未完成. The dashboard and
  the monthly PDF hatch the same bars and mark the same villages with it.
* ``photo_required``: whether the township asks for a photo of every in-person visit. Off
  by default: most townships do not, and then a visit without a photo is nothing to check.

Only the office changes them (the dashboard's settings page); every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from ..clock import now_iso
from ..models import AuditEntry
from ..storage import Registry, Store

TARGET_SETTING = "completion_target"
PHOTO_SETTING = "photo_required"
DEFAULT_TARGET = 100
ACTION = "settings.targets"


class TargetError(ValueError):
    """A target that is not a whole percent from 1 to 100."""


@dataclass(frozen=True)
class Targets:
    target: int = DEFAULT_TARGET  # percent of households visited in person
    photo_required: bool = False

    def below(self, visited: int, households: int) -> bool:
        """Whether ``visited`` of ``households`` falls short of the target. Whole numbers,
        so that 19 of 20 meets 95% exactly; a village without households is not behind."""
        return households > 0 and visited * 100 < households * self.target


def targets_of(reg: Registry) -> Targets:
    """The registry's settings, the defaults for anything missing or malformed (a hand-edited
    registry must not stop the dashboard)."""
    raw = reg.settings.get(TARGET_SETTING, DEFAULT_TARGET)
    target = raw if isinstance(raw, int) and 1 <= raw <= 100 else DEFAULT_TARGET
    return Targets(target=target, photo_required=reg.settings.get(PHOTO_SETTING) is True)


def targets(store: Store) -> Targets:
    return targets_of(store.registry())


def parse_target(typed: str) -> int:
    """A percent typed by the office; raises TargetError."""
    text = typed.strip().rstrip("%").strip()
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise TargetError(_("完成率目标应为 1 到 100 之间的整数"))
    return int(text)


def set_targets(store: Store, new: Targets, actor: str) -> Targets:
    """Keep ``new``; returns the old settings. A change is audited, with both values."""

    def change(reg: Registry) -> Targets:
        old = targets_of(reg)
        reg.settings[TARGET_SETTING] = new.target
        reg.settings[PHOTO_SETTING] = new.photo_required
        return old

    def entries(old: Targets) -> list[AuditEntry]:
        if old == new:
            return []
        before = {TARGET_SETTING: old.target, PHOTO_SETTING: old.photo_required}
        after = {TARGET_SETTING: new.target, PHOTO_SETTING: new.photo_required}
        return [AuditEntry(now_iso(), actor, ACTION, "township", before, after)]

    return store.update_registry(change, entries)
