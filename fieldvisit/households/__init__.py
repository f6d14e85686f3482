"""Households as the office and helpers find them: lookups and each household's month
(``lookup``), search by name, pinyin and 户编号 (``search``), and the office's edits to
pairings, helpers' accounts and registry fields (``office``)."""
