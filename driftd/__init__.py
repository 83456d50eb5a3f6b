"""driftd: keeps machine-learning models healthy in production.

It checks live data for drift on a schedule, retrains a candidate when the drift is real,
promotes it only on evidence, and records every check, version and decision in SQLite.
"""

__version__ = "0.1.0"
