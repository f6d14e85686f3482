"""Names found by how they are typed, without reading every name: a trie of readings.

The search's rule (``search.name_rank``) is that a query spells a name's characters from
some character on, each by a non-empty prefix of one of its readings. Checking that name by
name costs some 40 µs; a county's 13,520 households made every query half a second. Here
every name is entered once per starting character, as the path of its characters' readings
from there, so a query walks down from the root only along the readings it can spell and
gathers the names stored under where it ends. Names sharing a start (a surname, a given
name, a village) share a path, so the walk's cost follows the query, not the county.

Each path is keyed by the whole set of a character's readings, not by the character: a
surname's readings differ from the same character's elsewhere (曾 zeng first; 黑 he).
"""

from __future__ import annotations

from collections.abc import Iterable

Readings = tuple[tuple[str, ...], ...]  # per character: itself, then its pinyin readings


class _Node:
    __slots__ = ("children", "edges", "rows")

    def __init__(self) -> None:
        self.children: dict[tuple[str, ...], _Node] = {}
        # The first letter of a reading -> (reading, the node after that character): a
        # query's next letter picks the few edges worth comparing.
        self.edges: dict[str, list[tuple[str, _Node]]] = {}
        # Rows spelled down to here: row * 2, plus 1 when from a later character than the
        # first (search's rank 2 rather than 1).
        self.rows: list[int] = []

    def child(self, options: tuple[str, ...]) -> _Node:
        found = self.children.get(options)
        if found is None:
            found = self.children[options] = _Node()
            for reading in options:
                self.edges.setdefault(reading[:1], []).append((reading, found))
        return found


def _common(query: str, pos: int, reading: str) -> int:
    """How many letters of ``reading`` ``query`` has from ``pos``."""
    count = 0
    for a, b in zip(query[pos : pos + len(reading)], reading, strict=False):
        if a != b:
            break
        count += 1
    return count


class NameIndex:
    """Rows (numbers given by the caller) by their names' readings."""

    def __init__(self, names: Iterable[tuple[int, Readings, str]]) -> None:
        self._root = _Node()
        self._whole: dict[str, list[int]] = {}  # the normalized text -> rows (rank 0)
        for row, chars, text in names:
            self._whole.setdefault(text, []).append(row)
            for start in range(len(chars)):
                node = self._root
                for options in chars[start:]:
                    node = node.child(options)
                    node.rows.append(row * 2 + (start > 0))

    def ranks(self, query: str) -> dict[int, int]:
        """Each row whose name ``query`` (normalized, not empty) spells, with its rank: 0 the
        whole text, 1 from its first character, 2 from a later one (``search.name_rank``)."""
        found: dict[int, int] = {}
        seen: set[tuple[int, int]] = set()
        ended: set[int] = set()
        frontier = [(self._root, 0)]
        while frontier:
            node, pos = frontier.pop()
            for reading, child in node.edges.get(query[pos], ()):
                common = _common(query, pos, reading)
                for end in range(pos + 1, pos + common + 1):
                    if end == len(query):
                        if id(child) not in ended:
                            ended.add(id(child))
                            self._gather(child, found)
                    elif (id(child), end) not in seen:
                        seen.add((id(child), end))
                        frontier.append((child, end))
        for row in self._whole.get(query, ()):
            found[row] = 0
        return found

    @staticmethod
    def _gather(node: _Node, found: dict[int, int]) -> None:
        for packed in node.rows:
            row, rank = packed >> 1, 1 + (packed & 1)
            if found.get(row, 3) > rank:
                found[row] = rank
