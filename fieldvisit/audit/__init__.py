"""The audit log as the office reads it: filters over the entries the domain modules write
(``reading``) and each entry in the office's words (``words``), naming what it is about as
the office knows it (``targets``)."""
