"""The month's figures (``month``), the one source of every count, and the supervisors'
dashboard built on them (``dashboard``); where a month's figures come from (``frozen``:
today's registry, or the one a closed month was closed with) and the needs ledger's share of
them (``ledger``)."""
