"""``flask ils check``: the systems librarian's first step when connecting a library.

The configured adapter reports what it sees as a list of :class:`Finding`: reachable, login
accepted, what the ILS declares, and, given a card and its password, a read-only look at one
patron. A check never renews, places or cancels anything. Each adapter extends
:meth:`adapters.base.IlsAdapter.check_connection` with what its protocol can tell; every problem
is one plain sentence naming the setting to change.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Verdict(enum.StrEnum):
    OK = "ok"
    PROBLEM = "problem"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    """One line of the check's output."""

    topic: str  # short label: "reachable", "login", "declares", "profile", "patron", "flag", ...
    verdict: Verdict
    text: str  # one plain sentence
    setting: str | None = None  # with PROBLEM: the setting to change (e.g. "SIP2_PORT")

    @classmethod
    def ok(cls, topic: str, text: str) -> Finding:
        return cls(topic, Verdict.OK, text)

    @classmethod
    def info(cls, topic: str, text: str) -> Finding:
        return cls(topic, Verdict.INFO, text)

    @classmethod
    def problem(cls, topic: str, text: str, setting: str | None = None) -> Finding:
        return cls(topic, Verdict.PROBLEM, text, setting)

    def line(self) -> str:
        mark = {Verdict.OK: "ok  ", Verdict.PROBLEM: "FAIL", Verdict.INFO: "    "}[self.verdict]
        hint = f" (setting: {self.setting})" if self.setting else ""
        return f"[{mark}] {self.topic:<10} {self.text}{hint}"


def mask_name(name: str) -> str:
    """A patron's name as the check prints it: first character of each word, the rest hidden."""
    return " ".join(word[:1] + "*" * (len(word) - 1) for word in name.split())
