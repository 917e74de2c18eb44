"""The words shown for the contract's codes, so templates never spell out a reason themselves."""

from __future__ import annotations

from decimal import Decimal

from flask import Flask
from flask_babel import format_currency, gettext
from flask_babel import lazy_gettext as _l

from adapters.models import BlockCode, Capability, HoldStatus, Reason, RenewalForecast, RenewalStatus
from extensions import ils
from views.furigana import with_readings
from views.i18n import local_date

REASONS = {
    Reason.ON_HOLD: _l("Another patron has reserved this book, so it cannot be renewed."),
    Reason.PATRON_HAS_OVERDUE: _l("Loans cannot be renewed while you have overdue books. Please return them first."),
    Reason.TOO_MANY_RENEWALS: _l("This loan has already been renewed as many times as allowed."),
    Reason.TOO_SOON: _l("It is too early to renew this loan."),
    Reason.ACCOUNT_BLOCKED: _l("Your account is blocked. Please contact the library."),
    Reason.TOO_MANY_HOLDS: _l("You have reached the maximum number of reservations."),
    Reason.ALREADY_HELD: _l("You have already reserved this book."),
    Reason.ALREADY_ON_LOAN: _l("You already have this book on loan."),
    Reason.NOT_HOLDABLE: _l("This book cannot be reserved."),
    Reason.INVALID_PICKUP: _l("That pickup location cannot be chosen for this book."),
    Reason.NOT_CANCELLABLE: _l("This reservation can no longer be cancelled online. Please contact the library."),
    Reason.NOT_FOUND: _l("Not found among your own loans or reservations."),
    Reason.UNAVAILABLE: _l("The library system did not answer for this one. Please try again later."),
    Reason.OTHER: _l("The library system refused this request."),
    Reason.HOLD_FOUND: _l("A copy is already on its way or waiting for you, so this cannot be changed."),
}

BLOCKS = {
    BlockCode.CARD_EXPIRED: _l("Your library card has expired. Please renew it at the counter."),
    BlockCode.CARD_LOST: _l("This card has been reported lost. Please contact the library."),
    BlockCode.FINES_OVER_LIMIT: _l("You have unpaid charges over the limit. Please contact the library."),
    BlockCode.OVERDUE_LOANS: _l("You have overdue books. Please return them."),
    BlockCode.TOO_MANY_LOANS: _l("You have borrowed the maximum number of items."),
    BlockCode.TOO_MANY_HOLDS: _l("You have the maximum number of reservations."),
    BlockCode.RESTRICTED: _l("Your account is restricted. Please contact the library."),
    BlockCode.OTHER: _l("Your account has a block. Please contact the library."),
    BlockCode.NO_BORROWING: _l("Borrowing is not possible at the moment. Please contact the library."),
    BlockCode.NO_RENEWALS: _l("Renewals are not possible online. Please contact the library."),
    BlockCode.NO_HOLDS: _l("Reservations are not possible at the moment. Please contact the library."),
}

HOLD_STATUSES = {
    HoldStatus.WAITING: _l("Waiting"),
    HoldStatus.IN_TRANSIT: _l("On its way to the pickup location"),
    HoldStatus.READY: _l("Ready for pickup"),
    HoldStatus.SUSPENDED: _l("Suspended"),
    HoldStatus.UNKNOWN: _l("Status unknown: the library system does not say whether it is ready"),
}

RENEWAL_STATUSES = {
    RenewalStatus.RENEWABLE: _l("Can be renewed"),
    RenewalStatus.NOT_RENEWABLE: _l("Cannot be renewed"),
    RenewalStatus.UNKNOWN: _l("Renewal is checked when you try"),
}


def renewal_text(forecast: RenewalForecast) -> str:
    """The renewal forecast of one loan in words."""
    if forecast.status is RenewalStatus.NOT_YET and forecast.available_from:
        # Readings go on the sentence before the date is put in, so a name or date is never re-read.
        return with_readings(gettext("Renewable from %(date)s")) % {"date": local_date(forecast.available_from)}
    return with_readings(RENEWAL_STATUSES.get(forecast.status, RENEWAL_STATUSES[RenewalStatus.UNKNOWN]))


def money(amount: Decimal, currency: str) -> str:
    return format_currency(amount, currency)


def can(capability: str) -> bool:
    """In templates: ``{% if can('renew') %}`` shows an action only where the adapter supports it."""
    return ils().supports(Capability(capability))


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        can=can,
        reason_text=lambda reason: with_readings(REASONS.get(reason, REASONS[Reason.OTHER])) if reason else "",
        block_text=lambda block: block.message or with_readings(BLOCKS.get(block.code, BLOCKS[BlockCode.OTHER])),
        hold_status_text=lambda status: with_readings(HOLD_STATUSES[status]),
        renewal_text=renewal_text,
    )
    app.jinja_env.filters["money"] = money
