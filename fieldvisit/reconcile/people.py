"""The registry's people, as a department's list is matched against them.

A person is found by ID number (15-digit numbers upgraded), or, on a row without a usable
one, by name among the members of the household the row names (by 户编号 or by the head's
ID number) — never by name alone across the township, where names repeat.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Member
from ..storage import Registry
from .lists import ListRow


@dataclass(frozen=True)
class Person:
    id_number: str
    household: str  # 户编号
    name: str
    member: Member | None  # None: a head known only by the household's own ID number


class People:
    """Everyone of the registry by ID number and by household."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self.by_id: dict[str, Person] = {}
        self.by_household: dict[str, list[Person]] = {}
        for member in reg.members.values():
            self._add(Person(member.id_number, member.household, member.name, member))
        for household in reg.households.values():
            # A household whose members were never imported still has its head.
            if household.id_number and household.id_number not in self.by_id:
                self._add(Person(household.id_number, household.id, household.head, None))

    def _add(self, person: Person) -> None:
        self.by_id[person.id_number] = person
        self.by_household.setdefault(person.household, []).append(person)

    def household_of(self, row: ListRow) -> str | None:
        """The household a row names by 户编号 or by its head's ID number."""
        if row.household in self.reg.households:
            return row.household
        head = self.by_id.get(row.head_id) if row.head_id else None
        return head.household if head is not None else None

    def match(self, row: ListRow) -> Person | None:
        if row.id_number:
            return self.by_id.get(row.id_number)
        household = self.household_of(row)
        if household is None or not row.name:
            return None
        named = [p for p in self.by_household.get(household, []) if p.name == row.name]
        return named[0] if len(named) == 1 else None
