"""Reconciling the registry with other departments' lists (docs/decisions/0014).

The registry is one list among several that describe the same people: 民政's 低保 and 特困
roster, 残联's disabled persons, 医保's insured, 教育's pupils receiving aid. Matching is by
ID number, person by person, so the registry first gains its households' members
(``members``). A department's list is read like the registry's spreadsheet (``lists``),
matched against the registry's people (``people``) and compared (``compare``); every
difference is one of five kinds (``terms.KINDS``) and is kept with the comparison
(``running``) until the office settles it (``settle``): the department's value taken, an
explanation, or the household's helper asked at the next visit. Warning lists (部门筛查预警)
become checks at the door with a time limit (``warnings``). What pages show is in
``overview``; the workbook, the feedback table and the PDF in ``results``.

Everything is kept in the registry (members, comparisons, differences, checks), changed
only through ``Store.update_registry`` with its audit entries in the same write.
"""
