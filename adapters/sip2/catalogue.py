"""A "record" over SIP2: one item, since SIP2 has no catalogue records.

``record(item_id)`` is a 17 Item Information (cached with the loans' and holds'): its title and
hold queue length. A hold placed on it is a title-level hold on that copy's title (``holds``).
SIP2 cannot search the catalogue: that capability is never declared.
"""

from __future__ import annotations

from adapters.errors import RecordNotFound
from adapters.models import Capability, Record
from adapters.sip2 import mapping
from adapters.sip2.core import Sip2Core


class CatalogueMixin(Sip2Core):
    """``record``."""

    def record(self, record_id: str) -> Record:
        """The item with this id (SIP2 has no catalogue records): title and hold queue length."""
        self.require(Capability.RECORD_DETAILS)
        with self._edge("record"):
            info = self.items.get(record_id)
        if not mapping.item_known(info):
            raise RecordNotFound(record_id)
        return mapping.record_from_item(record_id, info)
