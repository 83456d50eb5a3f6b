"""The SQLite registry: one file holding every run, check, version, evaluation and decision.

* :mod:`driftd.registry.store` - :class:`~driftd.registry.store.Registry`, the writer (the
  daemon, ``driftd check``, ``promote``, ``rollback``); migrations go through sqlite-utils.
* :mod:`driftd.registry.queries` - read-only functions for ``status``, ``history``,
  ``versions``, ``show`` and ``verify``; stdlib ``sqlite3`` only, so those commands never import
  pandas, scipy or scikit-learn.
* :mod:`driftd.registry.schema` - the tables, as an ordered list of migrations.

The schema is documented for people querying the file directly in the README ("The registry").
This package's ``__init__`` imports nothing, so importing ``queries`` stays light.
"""
