"""The embedded local store: one SQLite database under ``.braintrust/`` (see ``location``).

``sqlite_store.LocalStore`` is the entry point. Inside: ``connection`` (files, modes, WAL,
per-thread and per-process connections), ``schema.sql``, ``catalog`` (projects, experiments,
datasets), ``rows`` (the row log and its folded current state), ``fold`` and ``merge`` (the
server's row semantics, pure), ``spills`` (spilled-batch bookkeeping). Importing this package
does no work.
"""
