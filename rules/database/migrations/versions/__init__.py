"""One module per revision, oldest first; Alembic reads them by their `revision` ids."""
