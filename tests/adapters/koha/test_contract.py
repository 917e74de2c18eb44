"""The Koha adapter keeps the whole adapter contract on every Koha release line the fake plays
(22.11 to 25.11: ``koha_version`` is parametrised in conftest.py), every request and answer checked
against that release's contract."""

from tests.adapters.contract import AdapterContract


class TestKohaContract(AdapterContract):
    """24.11+: loans with item and title embedded; 24.05: the item embedded, titles by biblio id;
    23.11 and 22.11: GET /checkouts?patron_id=, items and titles looked up (cached); 22.11 also
    without POST /auth/password/validation and GET /biblios."""
