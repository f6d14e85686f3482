"""What goes wrong in an imported file, said by row and column in the user's language."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _


@dataclass
class RowError:
    """One problem in an imported file. ``row`` is the spreadsheet's own row number (0 for
    the file as a whole); ``column`` the header as the file has it ("" when none)."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        if self.row and self.column:
            return _(
                "第 %(row)d 行，%(column)s：%(reason)s",
                row=self.row,
                column=self.column,
                reason=self.reason,
            )
        if self.row:
            return _("第 %(row)d 行：%(reason)s", row=self.row, reason=self.reason)
        if self.column:  # a whole column, e.g. numbers Excel damaged on every row
            return _("%(column)s 列：%(reason)s", column=self.column, reason=self.reason)
        return self.reason


class RegistryError(Exception):
    """The file cannot be imported; ``errors`` says every reason, in row order."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__()
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def _file_error(reason: str) -> RegistryError:
    return RegistryError([RowError(0, "", reason)])
