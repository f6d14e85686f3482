"""What the downloaded files are called: one rule for the township and village in a name."""

from __future__ import annotations


def scope_names(township: str, village: str | None = None) -> tuple[str, str]:
    """The township (or the county, or the one township's name) and the village name of a
    file's scope. A county's village key ("城关镇/王庄村", ``models.village_key``) is split
    into its township, which replaces the one given, and its name."""
    if village and "/" in village:
        township, village = village.split("/", 1)
    return township, village or ""


def scope_parts(township: str, village: str | None = None) -> list[str]:
    """``scope_names`` without the empty ones, for a file name: a "/" cannot stand in one."""
    return [part for part in scope_names(township, village) if part]
