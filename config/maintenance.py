"""Maintenance windows: times, from config, when renewals or holds are switched off with a message.

    MAINTENANCE_WINDOWS = [
        {"start": "2026-12-28T17:00", "end": "2027-01-04T09:00", "disable": ["renewals", "holds"],
         "message": {"ja": "年末年始の点検のため、延長と予約を休止しています。",
                     "en": "Renewals and reservations are paused for the year-end inventory."}},
    ]

Times are in the library's time zone (BABEL_DEFAULT_TIMEZONE). ``disable`` takes "renewals",
"holds" or capability names (adapters.models.Capability).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from adapters.models import Capability
from config.loader import ConfigError

GROUPS = {
    "renewals": frozenset({Capability.RENEW, Capability.RENEW_ALL}),
    "holds": frozenset({Capability.PLACE_HOLD, Capability.CANCEL_HOLD, Capability.SUSPEND_HOLD}),
}


@dataclass(frozen=True)
class MaintenanceWindow:
    start: datetime
    end: datetime
    disabled: frozenset[Capability]
    message: dict[str, str]


class MaintenanceSchedule:
    def __init__(self, windows: Sequence[MaintenanceWindow], clock: Callable[[], datetime]):
        self.windows = tuple(windows)
        self.clock = clock

    @classmethod
    def from_config(cls, config, clock: Callable[[], datetime] | None = None) -> MaintenanceSchedule:
        zone = ZoneInfo(config["BABEL_DEFAULT_TIMEZONE"])
        windows = [cls._parse(entry, zone) for entry in config.get("MAINTENANCE_WINDOWS") or []]
        return cls(windows, clock or (lambda: datetime.now(zone)))

    @staticmethod
    def _parse(entry, zone: ZoneInfo) -> MaintenanceWindow:
        try:
            start = datetime.fromisoformat(entry["start"]).replace(tzinfo=zone)
            end = datetime.fromisoformat(entry["end"]).replace(tzinfo=zone)
            disabled = frozenset().union(*(GROUPS.get(name) or {Capability(name)} for name in entry["disable"]))
            message = entry.get("message") or {}
            message = message if isinstance(message, dict) else {"": str(message)}
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"MAINTENANCE_WINDOWS entry {entry!r} is not valid: {error}") from error
        if end <= start:
            raise ConfigError(f"MAINTENANCE_WINDOWS entry {entry!r} ends before it starts")
        return MaintenanceWindow(start, end, disabled, message)

    def active(self) -> list[MaintenanceWindow]:
        now = self.clock()
        return [window for window in self.windows if window.start <= now < window.end]

    def disabled_now(self) -> frozenset[Capability]:
        return frozenset().union(*(window.disabled for window in self.active()))

    def messages(self, language: str) -> list[str]:
        return [
            window.message.get(language) or next(iter(window.message.values()), "")
            for window in self.active()
            if window.message
        ]
