"""Recording visits: their fields (``fields``), validation (``validation``) and saving
(``recording``), the HTML form (``form``), photos, the phone's location, and the needs a
visit raises with their ledger (``needs``)."""
