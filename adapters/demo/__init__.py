"""The embedded demo ILS: a SQLite library with seeded patrons, so that a fresh install runs.

``flask demo patrons`` lists the demo cards and passwords; see ``seed.py`` for what each shows.
"""

from adapters.demo.adapter import DemoAdapter

__all__ = ["DemoAdapter"]
