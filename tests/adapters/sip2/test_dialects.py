"""What independent SIP2 servers showed (issue 13), replayed by a loopback ACS answering as they do.

Each reply is shaped after the server's own code (adapters/sip2/README.md, "Server profiles", cites
file and commit): Evergreen's SIPServer (lower-case user names, the recall flag set for everyone,
every open hold in AS as titles), Koha (two holds by one patron on one record, listed twice in CD),
FOLIO edge-sip2 (every open request in AS, closed requests in CD, a blank unavailable count).
"""

from __future__ import annotations

import pytest

from adapters.demo.sip2_server import DemoSip2Server
from adapters.models import BlockCode, Capability, HoldStatus, RenewalStatus
from adapters.sip2 import Sip2Adapter
from tests.adapters.sip2.conftest import SIP2_PASSWORD, SIP2_USER, credentials, sip2_config
from tests.adapters.sip2.loopback import LoopbackAcs, reply_to
from tests.adapters.sip2.test_adapter import loopback_adapter
from tests.adapters.sip2.test_connection import scripted

NOW = b"20250825    143000"
NO_FLAGS = b" " * 14
RECALL_ONLY = b"  Y" + b" " * 11  # Evergreen: recall_ok is 0 unless patron_calculate_recal_ok


def patron_64(status: bytes = NO_FLAGS, *, counts: tuple[int, ...] = (0, 0, 2, 0, 0, 0), fields: bytes = b"",
              card: bytes = b"1001") -> bytes:
    """A 64: status, language, date, the six counts (hold, overdue, charged, fine, recall, unavailable;
    -1 for a blank count), and the variable fields."""
    fixed = b"".join(b"    " if count < 0 else b"%04d" % count for count in counts)
    return (b"64" + status + b"000" + NOW + fixed + b"AOLIB|AA" + card + b"|AEAda Lovelace|BLY|CQY|" + fields)


def summary_of(request: bytes) -> int:
    """Which 64 list a 63 asks for (position of the Y in its summary field), -1 for none."""
    return request[23:33].find(b"Y")


def item_18(status: bytes, barcode: bytes, title: bytes, extra: bytes = b"") -> bytes:
    return b"18" + status + b"0001" + NOW + b"AB" + barcode + b"|AJ" + title + b"|" + extra


UNKNOWN_18 = b"1801000101" + NOW + b"AJ|AFItem not found|"


@pytest.fixture
def acs_with(no_leaks):
    """``acs_with(replies_63, replies_17=None, **settings)`` -> (acs, adapter); both closed after the test."""
    opened = []

    def start(reply_63, reply_17=None, **settings):
        overrides = {b"63": lambda request, session, nth: [reply_to(request, reply_63(request))]}
        if reply_17 is not None:
            overrides[b"17"] = lambda request, session, nth: [reply_to(request, reply_17(request))]
        acs = LoopbackAcs(scripted(overrides))
        acs.start()
        adapter = loopback_adapter(acs.port, **settings)
        opened.append((acs, adapter))
        return acs, adapter

    yield start
    for acs, adapter in opened:
        adapter.close()
        acs.stop()


# --- 1. card numbers keep the case the patron typed -----------------------------------------------------


def test_a_lower_case_user_name_is_sent_as_typed(acs_with):
    """Evergreen's sample patron: ``AAdjfiander`` is valid, ``AADJFIANDER`` is no such patron (BLN)."""

    def evergreen(request):
        if b"AAdjfiander|" in request:
            return patron_64(card=b"djfiander")
        return b"64YYYY          000" + NOW + b"000000000000000000000000AOLIB|AA|AE|BLN|CQN|"

    acs, adapter = acs_with(evergreen, SIP2_PROFILE="evergreen")
    patron = adapter.authenticate("djfiander", "6789")
    assert (patron.key, patron.card_number) == ("djfiander", "djfiander")
    assert all(b"AAdjfiander|" in frame for frame in acs.frames(b"63"))


# --- 2. a flag says only what it stops -------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["generic", "evergreen"])
def test_the_recall_flag_alone_blocks_nothing(acs_with, profile):
    def recall_only(request):
        return patron_64(RECALL_ONLY, fields=b"AUitem-1|AUitem-2|" if summary_of(request) == 2 else b"")

    acs, adapter = acs_with(recall_only, SIP2_PROFILE=profile, SIP2_LOAN_IDS="barcode")
    patron = adapter.authenticate("1001", "pw")
    assert patron.blocks == ()
    assert adapter.account_summary(patron.key).blocks == ()
    loans = adapter.loans(patron.key)
    assert len(loans) == 2 and {loan.forecast.status for loan in loans} == {RenewalStatus.UNKNOWN}


def test_each_privilege_flag_is_told_in_its_own_words(acs_with):
    only_holds = b"   Y" + b" " * 10
    holds_and_renewals = b" YYY" + b" " * 10
    _, adapter = acs_with(lambda request: patron_64(only_holds))
    assert [block.code for block in adapter.authenticate("1001", "pw").blocks] == [BlockCode.NO_HOLDS]
    _, adapter = acs_with(lambda request: patron_64(holds_and_renewals), SIP2_PROFILE="evergreen")
    # Evergreen's recall flag is ignored; renewals and holds are each named, "restricted" never.
    assert [block.code for block in adapter.authenticate("1001", "pw").blocks] == [
        BlockCode.NO_RENEWALS, BlockCode.NO_HOLDS]


# --- 3. which holds are ready, from evidence that holds for the server ------------------------------------


def evergreen_holds(request):
    """Evergreen without msg64_hold_items_available or msg64_hold_datatype: AS every open hold, CD the
    ones not on the shelf at their pickup library, both as titles (OpenILS/SIP/Patron.pm)."""
    wanted = summary_of(request)
    fields = {0: b"ASMoby Dick|ASEmma|ASEmma|", 5: b"CDEmma|CDEmma|"}.get(wanted, b"")
    return patron_64(counts=(3, 0, 0, 0, 0, 2), fields=fields)


def test_evergreen_lists_waiting_holds_in_as_by_title(acs_with):
    acs, adapter = acs_with(evergreen_holds, lambda request: UNKNOWN_18, SIP2_PROFILE="evergreen")
    holds = adapter.holds("1001")
    assert [(hold.hold_id, hold.title, hold.status) for hold in holds] == [
        ("Moby Dick", "Moby Dick", HoldStatus.READY),
        ("Emma", "Emma", HoldStatus.WAITING), ("Emma#2", "Emma", HoldStatus.WAITING)]
    assert not any(hold.cancellable for hold in holds), "a 15 cannot name a hold listed by title"
    assert acs.frames(b"17") == [], "titles are not looked up as barcodes"
    summary = adapter.account_summary("1001")
    assert (summary.holds, summary.holds_ready) == (3, 1)
    assert not adapter.supports(Capability.CANCEL_HOLD) and not adapter.supports(Capability.PLACE_HOLD)


def test_the_same_holds_under_the_generic_profile_trust_the_spec(acs_with):
    """Without the profile, AS means "available" (the spec): the portal cannot know better, which is why
    a library must name its server (``flask ils check`` shows the profile in use)."""
    _, adapter = acs_with(evergreen_holds, lambda request: UNKNOWN_18)
    statuses = [hold.status for hold in adapter.holds("1001")]
    assert statuses.count(HoldStatus.READY) == 3 and statuses.count(HoldStatus.WAITING) == 2


def folio_holds(request):
    """FOLIO edge-sip2: AS every open Hold request by item barcode, CD closed requests, the
    unavailable count blank (PatronRepository.java)."""
    wanted = summary_of(request)
    fields = {0: b"ASit-1|ASit-2|ASit-3|", 5: b"CDit-9|"}.get(wanted, b"")
    return patron_64(counts=(3, 0, 0, 0, 0, -1), fields=fields)


def folio_items(request):
    if b"ABit-1|" in request:
        return item_18(b"08", b"it-1", b"On the shelf", b"CM20250830    235900|")
    if b"ABit-2|" in request:
        return item_18(b"04", b"it-2", b"Still out")
    return UNKNOWN_18


def test_folio_readiness_comes_from_the_item_and_is_unknown_without_it(acs_with):
    _, adapter = acs_with(folio_holds, folio_items, SIP2_PROFILE="folio", SIP2_ENCODING="utf-8")
    holds = {hold.hold_id: hold for hold in adapter.holds("1001")}
    assert set(holds) == {"it-1", "it-2", "it-3"}, "CD's closed requests are not holds"
    assert holds["it-1"].status is HoldStatus.READY and str(holds["it-1"].pickup_deadline) == "2025-08-30"
    assert holds["it-2"].status is HoldStatus.WAITING
    assert holds["it-3"].status is HoldStatus.UNKNOWN
    summary = adapter.account_summary("1001")
    assert (summary.holds, summary.holds_ready) == (3, 1)


# --- 4. two holds by one patron on one item -----------------------------------------------------------------


def koha_two_holds(request):
    """Koha lists a title-level hold by its record's first copy (_get_outstanding_holds): two holds
    on one record are that barcode twice in CD."""
    fields = {0: b"ASit-1|", 5: b"CDit-7|CDit-7|"}.get(summary_of(request), b"")
    return patron_64(counts=(1, 0, 0, 0, 0, 2), fields=fields)


def test_two_holds_on_one_item_are_two_rows_each_cancelled_once(acs_with):
    acs, adapter = acs_with(koha_two_holds, lambda request: item_18(b"04", request.split(b"AB")[1].split(b"|")[0],
                                                                   b"A title"), SIP2_PROFILE="koha")
    holds = adapter.holds("1001")
    assert sorted(hold.hold_id for hold in holds) == ["it-1", "it-7", "it-7#2"]
    outcomes = adapter.cancel_holds("1001", ["it-7", "it-7#2"])
    assert [outcome.cancelled for outcome in outcomes] == [True, True]
    cancels = [frame for frame in acs.frames(b"15") if frame[2:3] == b"-"]
    assert len(cancels) == 2 and all(b"ABit-7|" in frame for frame in cancels)



# --- the demo SIP2 server in the Evergreen dialect, with the demo library's data ----------------------------


def test_the_demo_server_as_evergreen_lists_waiting_holds_in_as_as_titles(no_leaks, demo):
    card, password = credentials("hold-ready")
    truth = demo.holds(demo.authenticate(card, password).key)
    with DemoSip2Server(demo, user=SIP2_USER, password=SIP2_PASSWORD, profile="evergreen", datatype="title") as server:
        adapter = Sip2Adapter.from_config(sip2_config(server.port, demo, SIP2_PROFILE="evergreen"))
        try:
            patron = adapter.authenticate(card, password)
            holds = adapter.holds(patron.key)
            summary = adapter.account_summary(patron.key)
        finally:
            adapter.close()
    assert sorted((hold.title, hold.status is HoldStatus.READY) for hold in holds) == sorted(
        (hold.title, hold.status is HoldStatus.READY) for hold in truth)
    assert any(hold.status is not HoldStatus.READY for hold in truth), "the case needs a hold not yet ready"
    assert (summary.holds, summary.holds_ready) == (len(truth), sum(h.status is HoldStatus.READY for h in truth))


def test_evergreen_loans_by_title_are_each_a_loan_and_renew_all_is_read_by_its_counts(acs_with):
    """msg64_summary_datatype unset: AU lists titles; renew all (65) answers with barcodes (force_bc)."""

    def titles(request):
        fields = b"AUEmma|AUEmma|AUMoby Dick|" if summary_of(request) == 2 else b""
        return patron_64(counts=(0, 0, 3, 0, 0, 0), fields=fields)

    def renewed_all(request, session, nth):
        return [reply_to(request, b"6610003000020250825    143000AOLIB|BM39000001|BM39000002|BM39000003|")]

    acs, adapter = acs_with(titles, lambda request: UNKNOWN_18, SIP2_PROFILE="evergreen")
    acs.responder = scripted({b"63": lambda request, session, nth: [reply_to(request, titles(request))],
                              b"65": renewed_all})
    loans = adapter.loans("1001")
    assert sorted(loan.loan_id for loan in loans) == ["Emma", "Emma#2", "Moby Dick"]
    assert acs.frames(b"17") == [] and not adapter.supports(Capability.RENEW)
    result = adapter.renew_all("1001")
    assert [outcome.renewed for outcome in result.outcomes] == [True, True, True]
