"""The SIP2 adapter's settings: their defaults (``DEFAULTS``, to merge into config/defaults.py) and
reading them from the Flask config, where values set by environment may arrive as text or as
parsed JSON (``PORTAL_SIP2_PORT=6001`` is an int, ``PORTAL_SIP2_TLS=true`` a bool, but a value
from portal.cfg or a test may be either), so every value is coerced and checked here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from adapters.models import Capability, PickupLocation
from adapters.sip2.profiles import DEFAULT_PROFILE, PROFILES, Profile
from adapters.sip2.settings import Sip2Settings

# Keys without the PORTAL_ prefix, as in config/defaults.py.
DEFAULTS: dict[str, Any] = {
    "SIP2_HOST": "",  # required: the ACS host name or address
    "SIP2_PORT": 6001,
    "SIP2_USER": "",  # 93 login user (CN); empty sends no 93, for ACSs configured without login
    "SIP2_PASSWORD": "",  # 93 login password (CO)
    "SIP2_INSTITUTION": "",  # AO; empty means the AO the ACS announces in its 98 status
    "SIP2_LOCATION": "",  # CP in 93 (FOLIO: the service point UUID)
    "SIP2_TERMINAL_PASSWORD": "",  # AC, for ACSs that want one on every patron message
    "SIP2_PROFILE": "generic",  # the server's dialect: generic, koha, evergreen, folio (adapters/sip2/profiles.py)
    "SIP2_ENCODING": "",  # must match the ACS: utf-8, cp850 (the spec's), ascii, cp932/shift_jis; empty: the profile's
    "SIP2_TLS": False,
    "SIP2_TLS_VERIFY": True,
    "SIP2_CA_FILE": "",  # a CA bundle for an ACS with a private certificate
    "SIP2_TERMINATOR": "",  # what we send: CR (spec) or CRLF; replies are read with either; empty: the profile's
    "SIP2_CONNECT_TIMEOUT": 5,  # seconds
    "SIP2_READ_TIMEOUT": 10,  # seconds for one reply
    "SIP2_POOL_SIZE": 4,  # logged-in connections per portal process (also the parallel 17 lookups)
    "SIP2_ERROR_DETECTION": "",  # AY sequence number and AZ checksum on every message; empty: the profile's
    "SIP2_ITEM_CACHE_SECONDS": 300,  # how long 17 item information (title, due date) is reused; 0 = never
    "SIP2_PREFETCH": True,  # look up a patron's loans early: at login, and beside the loans page's own 63s
    "SIP2_PICKUP_LOCATIONS": "",  # JSON [{"id": ..., "name": ...}] or "ID:Name,ID:Name"; empty = the institution
    "SIP2_DISABLED_FEATURES": "",  # capabilities to hide although the ACS announces them; empty: the profile's
    "SIP2_HOLD_ITEMS": "",  # what the 64's AS lists: available (holds ready for pickup) or all; empty: the profile's
    "SIP2_HOLD_IDS": "",  # what the hold lists (AS, CD) carry: barcode or title; empty: the profile's
    "SIP2_LOAN_IDS": "",  # what the loan lists (AU, AT) carry: barcode or title; empty: the profile's
    "SIP2_IGNORED_FLAGS": "",  # patron status flags the server sets for everyone, comma-separated; empty: the profile's
    # The ACS changes a hold's pickup location on a 15 with hold mode "*" (BS): not every server does
    # (Koha's alter_hold sets it, but its change_hold may still use the patron's home library).
    "SIP2_HOLD_PICKUP_CHANGE": False,
    "SIP2_UNAVAILABLE_HOLDS": "",  # whether CD lists the holds not yet available (false: ignored); empty: the profile's
}

# What this adapter can implement over SIP2 at most; the ACS's 98 BX flags narrow it.
IMPLEMENTED: frozenset[Capability] = frozenset(
    {
        Capability.LOANS,
        Capability.RENEW,
        Capability.RENEW_ALL,
        Capability.HOLDS,
        Capability.PLACE_HOLD,
        Capability.CANCEL_HOLD,
        Capability.FINES,
        Capability.RECORD_DETAILS,
    }
)
_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n", ""}
_TERMINATORS = {"CR": "\r", "CRLF": "\r\n", "\r": "\r", "\r\n": "\r\n"}


@dataclass(frozen=True)
class AdapterOptions:
    """What the adapter needs beyond the connection settings."""

    item_cache_seconds: float = 300.0
    prefetch: bool = True
    due_soon_days: int = 3
    pickup_locations: tuple[PickupLocation, ...] = ()
    disabled: frozenset[Capability] = frozenset()
    profile: Profile = PROFILES[DEFAULT_PROFILE]
    hold_pickup_change: bool = False  # SIP2_HOLD_PICKUP_CHANGE

    def capabilities(self) -> frozenset[Capability]:
        """What the settings allow before the ACS's BX flags narrow it."""
        extra = {Capability.CHANGE_PICKUP} if self.hold_pickup_change else set()
        return (IMPLEMENTED | extra) - self.disabled


def _value(config: Mapping[str, Any], key: str) -> Any:
    value = config.get(key)
    return DEFAULTS.get(key) if value is None else value


def as_text(config: Mapping[str, Any], key: str) -> str:
    value = _value(config, key)
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return str(value)  # PORTAL_SIP2_PASSWORD=1234 arrives as the int 1234
    if not isinstance(value, str):
        raise ValueError(f"{key} must be text, not {type(value).__name__}")
    return value.strip()


def as_bool(config: Mapping[str, Any], key: str) -> bool:
    value = _value(config, key)
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{key} must be true or false, not {value!r}")


def as_number(config: Mapping[str, Any], key: str, kind: type[int] | type[float]) -> Any:
    value = _value(config, key)
    if isinstance(value, bool):
        raise ValueError(f"{key} must be a number, not {value!r}")
    try:
        number = kind(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number, not {value!r}") from None
    if kind is int and isinstance(value, float) and value != number:
        raise ValueError(f"{key} must be a whole number, not {value!r}")
    return number


def parse_pickup_locations(value: Any) -> tuple[PickupLocation, ...]:
    """``[{"id": "MAIN", "name": "本館", "name_en": "Main Library"}]`` (as JSON text or already parsed;
    ``name_<language>`` gives the name shown on pages in that language), or ``"MAIN:本館,EAST:東分館"``."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"SIP2_PICKUP_LOCATIONS is not valid JSON: {exc}") from None
        else:
            value = [part for part in text.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise ValueError("SIP2_PICKUP_LOCATIONS must be a list or 'ID:Name,ID:Name'")
    locations = []
    for entry in value:
        other_names: tuple[tuple[str, str], ...] = ()
        if isinstance(entry, Mapping):
            location_id, name = str(entry.get("id") or "").strip(), str(entry.get("name") or "").strip()
            other_names = tuple(
                (str(key)[len("name_"):], str(text).strip())
                for key, text in entry.items() if str(key).startswith("name_") and str(text or "").strip()
            )
        elif isinstance(entry, str):
            location_id, _, name = (part.strip() for part in entry.partition(":"))
        else:
            raise ValueError(f"SIP2_PICKUP_LOCATIONS entry not understood: {entry!r}")
        if not location_id:
            raise ValueError(f"SIP2_PICKUP_LOCATIONS entry without an id: {entry!r}")
        locations.append(PickupLocation(location_id, name or location_id, other_names))
    if len({location.location_id for location in locations}) != len(locations):
        raise ValueError("SIP2_PICKUP_LOCATIONS lists an id twice")
    return tuple(locations)


def parse_disabled(value: Any) -> frozenset[Capability]:
    if value is None or value == "":
        return frozenset()
    names = value if isinstance(value, list | tuple) else str(value).split(",")
    disabled = set()
    for name in names:
        text = str(name).strip().lower()
        if not text:
            continue
        try:
            disabled.add(Capability(text))
        except ValueError:
            choices = ", ".join(sorted(capability.value for capability in IMPLEMENTED))
            raise ValueError(f"SIP2_DISABLED_FEATURES: unknown feature {text!r} (choose from {choices})") from None
    return frozenset(disabled)


def _is_set(config: Mapping[str, Any], key: str) -> bool:
    value = config.get(key)
    return value is not None and not (isinstance(value, str) and not value.strip())


def read_profile(config: Mapping[str, Any]) -> Profile:
    """``SIP2_PROFILE`` with the settings that override its values applied."""
    name = (as_text(config, "SIP2_PROFILE") or DEFAULT_PROFILE).lower()
    if name not in PROFILES:
        raise ValueError(f"SIP2_PROFILE must be one of {', '.join(PROFILES)}, not {name!r}")
    base = PROFILES[name]
    changes: dict[str, Any] = {}
    for key, attribute in (("SIP2_HOLD_ITEMS", "hold_items"), ("SIP2_HOLD_IDS", "hold_ids"),
                           ("SIP2_LOAN_IDS", "loan_ids"), ("SIP2_ENCODING", "encoding")):
        if _is_set(config, key):
            changes[attribute] = as_text(config, key).lower()
    if _is_set(config, "SIP2_TERMINATOR"):
        changes["terminator"] = as_text(config, "SIP2_TERMINATOR").upper()
    if _is_set(config, "SIP2_ERROR_DETECTION"):
        changes["error_detection"] = as_bool(config, "SIP2_ERROR_DETECTION")
    if _is_set(config, "SIP2_UNAVAILABLE_HOLDS"):
        changes["unavailable_holds"] = as_bool(config, "SIP2_UNAVAILABLE_HOLDS")
    if _is_set(config, "SIP2_IGNORED_FLAGS"):
        value = config["SIP2_IGNORED_FLAGS"]
        names = value if isinstance(value, list | tuple) else str(value).split(",")
        changes["ignored_flags"] = frozenset(str(flag).strip().lower() for flag in names if str(flag).strip()) - {"none"}
    if _is_set(config, "SIP2_DISABLED_FEATURES"):
        changes["disabled"] = parse_disabled(config.get("SIP2_DISABLED_FEATURES"))
    return replace(base, **changes) if changes else base


def read_config(config: Mapping[str, Any]) -> tuple[Sip2Settings, AdapterOptions]:
    """Settings and options from the Flask config. Raises ValueError naming the key at fault."""
    host = as_text(config, "SIP2_HOST")
    if not host:
        raise ValueError("SIP2_HOST is empty: set PORTAL_SIP2_HOST to the SIP2 server of the library system")
    profile = read_profile(config)
    terminator = profile.terminator.upper() or "CR"
    if terminator not in _TERMINATORS:
        raise ValueError(f"SIP2_TERMINATOR must be CR or CRLF, not {terminator!r}")
    try:
        settings = Sip2Settings(
            host=host,
            port=as_number(config, "SIP2_PORT", int),
            user=as_text(config, "SIP2_USER"),
            password=as_text(config, "SIP2_PASSWORD"),
            institution=as_text(config, "SIP2_INSTITUTION"),
            location=as_text(config, "SIP2_LOCATION"),
            terminal_password=as_text(config, "SIP2_TERMINAL_PASSWORD"),
            encoding=profile.encoding or "utf-8",
            tls=as_bool(config, "SIP2_TLS"),
            tls_verify=as_bool(config, "SIP2_TLS_VERIFY"),
            ca_file=as_text(config, "SIP2_CA_FILE") or None,
            terminator=_TERMINATORS[terminator],
            connect_timeout=as_number(config, "SIP2_CONNECT_TIMEOUT", float),
            read_timeout=as_number(config, "SIP2_READ_TIMEOUT", float),
            pool_size=as_number(config, "SIP2_POOL_SIZE", int),
            pool_timeout=max(as_number(config, "SIP2_CONNECT_TIMEOUT", float), 1.0) * 2,
            error_detection=profile.error_detection,
        )
    except ValueError as exc:
        raise ValueError(f"SIP2 settings: {exc}") from exc
    cache_seconds = as_number(config, "SIP2_ITEM_CACHE_SECONDS", float)
    if cache_seconds < 0:
        raise ValueError("SIP2_ITEM_CACHE_SECONDS must not be negative")
    due_soon = config.get("DUE_SOON_DAYS")
    options = AdapterOptions(
        item_cache_seconds=cache_seconds,
        prefetch=as_bool(config, "SIP2_PREFETCH"),
        due_soon_days=3 if due_soon is None or due_soon == "" else int(due_soon),
        pickup_locations=parse_pickup_locations(config.get("SIP2_PICKUP_LOCATIONS")),
        disabled=profile.disabled,
        profile=profile,
        hold_pickup_change=as_bool(config, "SIP2_HOLD_PICKUP_CHANGE"),
    )
    return settings, options
