"""Acting for a linked card: which card a page or form is for, the switch between cards, the
menu's counts per card, and the loans and reservations of every card on one page.

A page or form names its card with ``whose``: absent for the patron's own, a link id for a linked
card, ``all`` for every card together. ``acting_card()`` resolves it through the logged-in
patron's own links only (``store.links.link_of``), so an id from the browser never reaches
another patron's card; then every loan or hold id is checked by the adapter to belong to the card
it is sent for (``IlsAdapter.renew`` and friends), exactly as for one's own card.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from markupsafe import Markup

from adapters.errors import IlsError
from adapters.models import Capability, HoldStatus
from extensions import ils
from store.links import CardLink, link_of, links_of
from views.forms import CancelHoldsForm, RenewForm

bp = Blueprint("linked", __name__)
log = logging.getLogger(__name__)
ALL = "all"
MAX_IDS_PER_REQUEST = 200
# The outcomes of the last action on the all-cards pages, across the redirect.
ALL_OUTCOMES = "linked_outcomes"
# Linked cards read at once for the menu (each also uses the adapter's own pool, e.g. SIP2_POOL_SIZE).
SUMMARY_THREADS = 4


@dataclass(frozen=True)
class Card:
    """A card the logged-in patron may act for: their own (``link_id`` None) or a linked one."""

    patron_key: str
    card_number: str
    display_name: str
    link_id: int | None = None

    @property
    def ref(self) -> str:
        """What forms and URLs name this card by."""
        return "own" if self.link_id is None else str(self.link_id)

    @property
    def url_args(self) -> dict[str, str]:
        """``url_for`` arguments that keep this card (none for one's own)."""
        return {} if self.link_id is None else {"whose": str(self.link_id)}


@dataclass
class CardSummary:
    card: Card
    loans: int = 0
    due_soon: int = 0
    overdue: int = 0
    holds_ready: int = 0
    error: bool = False


def linking_enabled() -> bool:
    return bool(current_app.config["LINKED_CARDS_ENABLED"])


def own_card() -> Card:
    return Card(current_user.patron_key, current_user.card_number, current_user.display_name)


def linked_cards() -> list[Card]:
    """The logged-in patron's linked cards (none when the library has switched linking off)."""
    if not linking_enabled() or not current_user.is_authenticated:
        return []
    return [_card(link) for link in links_of(current_user.patron_key)]


def _card(link: CardLink) -> Card:
    return Card(link.linked_key, link.linked_card, link.linked_name, link.id)


def card_for(ref: str | None) -> Card | None:
    """The card ``ref`` names among the patron's own: None for ``all``, 404 for anything else."""
    if not ref or ref == "own":
        return own_card()
    if ref == ALL and linking_enabled():
        return None
    link = link_of(current_user.patron_key, ref) if linking_enabled() else None
    if link is None:
        abort(404)
    return _card(link)


def acting_card() -> Card | None:
    """The card this request is for (``card`` in the query or the form); None means every card."""
    return card_for(request.values.get("whose"))


def cards_all() -> list[Card]:
    return [own_card(), *linked_cards()]


def summaries() -> list[CardSummary]:
    """The menu's counts for each linked card; a card the ILS cannot read now is marked, not fatal.

    The cards are read side by side (adapters are thread-safe), so six linked cards cost about what
    one does rather than six times it (bench/linked_menu.py measures it over SIP2)."""
    cards = linked_cards()
    if not cards:
        return []
    adapter = ils()
    with ThreadPoolExecutor(max_workers=min(len(cards), SUMMARY_THREADS), thread_name_prefix="shiori-linked") as pool:
        return list(pool.map(lambda card: _summary(adapter, card), cards))


def _summary(adapter, card: Card) -> CardSummary:
    summary = CardSummary(card)
    try:
        if adapter.supports(Capability.LOANS):
            loans = adapter.loans(card.patron_key)
            summary.loans = len(loans)
            summary.overdue = sum(1 for loan in loans if loan.overdue)
            summary.due_soon = sum(1 for loan in loans if loan.due_soon and not loan.overdue)
        if adapter.supports(Capability.HOLDS):
            summary.holds_ready = sum(1 for hold in adapter.holds(card.patron_key) if hold.status is HoldStatus.READY)
    except IlsError:
        log.warning("linked card %s could not be read for the menu", card.link_id, exc_info=True)
        summary.error = True
    return summary


def card_field(card: Card | None) -> Markup:
    """In templates: the hidden input that keeps a form on its card."""
    if card is None:
        return Markup(f'<input type="hidden" name="whose" value="{ALL}">')  # noqa: S704 (a constant)
    if card.link_id is None:
        return Markup("")
    return Markup(f'<input type="hidden" name="whose" value="{card.link_id}">')  # noqa: S704 (an int)


# --- every card on one page -----------------------------------------------------------------------


def all_loans_page():
    """The loans of every card, soonest due first, each row naming whose card it is on."""
    adapter = ils()
    rows = [(card, loan) for card in cards_all() for loan in adapter.loans(card.patron_key)]
    rows.sort(key=lambda row: (row[1].due_date is None, row[1].due_date or adapter.today()))
    outcomes = [(*row[:5], date.fromisoformat(row[5]) if row[5] else None) for row in session.pop(ALL_OUTCOMES, None) or []]
    return render_template("linked/loans_all.html", rows=rows, form=RenewForm(), outcomes=outcomes, card=None)


def all_holds_page():
    """The reservations of every card, ready ones first, each row naming whose card it is on."""
    adapter = ils()
    if not adapter.supports(Capability.HOLDS):
        return render_template("account/holds.html", holds=None, form=None, outcomes={}, card=None)
    order = {HoldStatus.READY: 0, HoldStatus.IN_TRANSIT: 1, HoldStatus.WAITING: 2, HoldStatus.SUSPENDED: 3}
    rows = [(card, hold) for card in cards_all() for hold in adapter.holds(card.patron_key)]
    rows.sort(key=lambda row: order.get(row[1].status, 9))
    return render_template(
        "linked/holds_all.html", rows=rows, form=CancelHoldsForm(), outcomes=session.pop(ALL_OUTCOMES, None) or [],
        card=None,
    )


def _grouped(values: list[str]) -> list[tuple[Card, list[str]]]:
    """``ref:id`` values from the all-cards pages, grouped by card (each ref checked as the patron's)."""
    groups: dict[str, list[str]] = {}
    for value in values[:MAX_IDS_PER_REQUEST]:
        ref, _sep, item_id = value.partition(":")
        if item_id:
            groups.setdefault(ref, []).append(item_id)
    return [(card_for(ref) or abort(404), ids) for ref, ids in groups.items() if ref != ALL]


@bp.post("/linked/renew")
@login_required
def renew():
    form = RenewForm()
    groups = _grouped(request.form.getlist("loan"))
    if not form.validate_on_submit() or not groups:
        flash(_("Choose the books to renew."), "error")
        return redirect(url_for("account.loans", whose=ALL))
    outcomes = []
    for card, loan_ids in groups:
        result = ils().renew(card.patron_key, loan_ids)
        outcomes += [(card.display_name, o.title or o.loan_id, o.renewed, o.message or None, o.reason,
                      o.new_due_date.isoformat() if o.new_due_date else None) for o in result.outcomes]
    _flash_counts(sum(1 for row in outcomes if row[2]), sum(1 for row in outcomes if not row[2]), renewal=True)
    session[ALL_OUTCOMES] = outcomes
    return redirect(url_for("account.loans", whose=ALL))


@bp.post("/linked/cancel")
@login_required
def cancel():
    form = CancelHoldsForm()
    groups = _grouped(request.form.getlist("hold"))
    if not form.validate_on_submit() or not groups:
        flash(_("Choose the reservations to cancel."), "error")
        return redirect(url_for("account.holds", whose=ALL))
    outcomes = []
    for card, hold_ids in groups:
        outcomes += [(card.display_name, o.title or o.hold_id, o.cancelled, o.message or None, o.reason, None)
                     for o in ils().cancel_holds(card.patron_key, hold_ids)]
    _flash_counts(sum(1 for row in outcomes if row[2]), sum(1 for row in outcomes if not row[2]), renewal=False)
    session[ALL_OUTCOMES] = outcomes
    return redirect(url_for("account.holds", whose=ALL))


def _flash_counts(done: int, refused: int, *, renewal: bool) -> None:
    if renewal:
        if done:
            flash(ngettext("%(num)d book renewed.", "%(num)d books renewed.", done), "success")
        if refused:
            flash(ngettext("%(num)d book could not be renewed.", "%(num)d books could not be renewed.", refused), "error")
        return
    if done:
        flash(ngettext("%(num)d reservation cancelled.", "%(num)d reservations cancelled.", done), "success")
    if refused:
        flash(ngettext("%(num)d reservation could not be cancelled.", "%(num)d reservations could not be cancelled.",
                       refused), "error")


def init_app(app: Flask) -> None:
    from views.linking import settings_section

    app.jinja_env.globals.update(
        card_field=card_field, linked_cards=linked_cards, linked_summaries=summaries, linked_settings=settings_section)
