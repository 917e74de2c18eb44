"""Koha over its REST API v1 (``PORTAL_ADAPTER=koha``); see adapters/koha/README.md."""

from adapters.koha.adapter import KohaAdapter

__all__ = ["KohaAdapter"]
