"""Finding an adapter class by the name in ``PORTAL_ADAPTER``.

Shiori's own adapters are listed here; a library's package adds its own through the
``shiori.adapters`` entry point group (``name = "package.module:AdapterClass"``) with no change
to Shiori. Imports are lazy so that the demo ILS does not pull in httpx, nor Koha the SIP2 code.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from adapters.base import IlsAdapter

ENTRY_POINT_GROUP = "shiori.adapters"

BUILT_IN = {
    "demo": "adapters.demo:DemoAdapter",
    "sip2": "adapters.sip2:Sip2Adapter",
    "koha": "adapters.koha:KohaAdapter",
}


class UnknownAdapter(LookupError):
    """Raised at start-up when PORTAL_ADAPTER names no adapter; the message lists the valid ones."""


def _plugin_entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_adapters() -> list[str]:
    """Every adapter name that can be configured, built-in and installed plug-ins."""
    return sorted(set(BUILT_IN) | set(_plugin_entry_points()))


def adapter_class(name: str) -> type[IlsAdapter]:
    """The class registered under ``name``. Built-ins win over a plug-in of the same name."""
    if name in BUILT_IN:
        module_name, _, attribute = BUILT_IN[name].partition(":")
        cls = getattr(importlib.import_module(module_name), attribute)
    elif (entry_point := _plugin_entry_points().get(name)) is not None:
        cls = entry_point.load()
    else:
        choices = ", ".join(available_adapters())
        raise UnknownAdapter(f"Unknown ILS adapter {name!r} (PORTAL_ADAPTER). Valid choices: {choices}")
    if not (isinstance(cls, type) and issubclass(cls, IlsAdapter)):
        raise UnknownAdapter(f"Adapter {name!r} does not subclass adapters.base.IlsAdapter")
    return cls


def create_adapter(config: Mapping[str, Any]) -> IlsAdapter:
    """Build the adapter named by ``config['ADAPTER']``."""
    return adapter_class(str(config.get("ADAPTER") or "")).from_config(config)
