"""The month's figures (``month``), the one source of every count, and the supervisors'
dashboard built on them (``dashboard``)."""
