"""The ``flask --app fieldvisit`` commands: accounts and the registry (``admin``), the
monthly downloads (``reports``), and backups (``backup``)."""
