"""Notice tests: a real SMTP sink on loopback, apps that send through it, and a fake ILS with many
patrons for the runs that must overlap."""

from __future__ import annotations

import threading
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, text

from adapters.base import IlsAdapter
from adapters.models import Capability, Hold, HoldStatus, Loan, Patron, PickupLocation, RenewalForecast, RenewalStatus
from extensions import db
from store.models import Preference
from tests.notifications.smtp import smtp  # noqa: F401  (the fixture)

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def app_config(app_config, smtp):  # noqa: F811
    app_config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=smtp.port, PUBLIC_BASE_URL="http://localhost",
                      MAIL_FROM="library@example.jp")
    return app_config


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """The preference store on SQLite, and on the local PostgreSQL in a throwaway schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    schema = f"shiori_test_{uuid.uuid4().hex[:8]}"
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield POSTGRES_URL + f"?options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def register_address(app, patron_key: str, email: str, *, language: str = "ja", confirmed: bool = True,
                     hold_ready: bool = True, due_soon: bool = True) -> None:
    """Give a patron an address straight in the store (the confirmation flow has its own tests)."""
    with app.app_context():
        preference = db.session.get(Preference, patron_key) or Preference(patron_key=patron_key)
        preference.email, preference.email_confirmed, preference.language = email, confirmed, language
        preference.notify_hold_ready, preference.notify_due_soon = hold_ready, due_soon
        preference.furigana = False
        db.session.add(preference)
        db.session.commit()


class FakeIls(IlsAdapter):
    """``patrons`` patrons F0000.., each with ``holds`` ready holds and ``loans`` loans due in 2 days."""

    name = "fake"
    capabilities = frozenset({Capability.LOANS, Capability.HOLDS})

    def __init__(self, patrons: int = 20, holds: int = 2, loans: int = 2, today: date = date(2026, 11, 24)) -> None:
        self.keys = [f"F{number:04d}" for number in range(patrons)]
        self.hold_count, self.loan_count, self._today = holds, loans, today
        self.calls = 0
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config):
        return cls()

    def _count(self) -> None:
        with self._lock:
            self.calls += 1

    def today(self) -> date:
        return self._today

    def authenticate(self, card_number, password):
        raise NotImplementedError

    def patron(self, patron_key):
        return Patron(patron_key, "9" + patron_key[1:], patron_key)

    def holds(self, patron_key):
        self._count()
        return [
            Hold(f"H{patron_key}-{n}", f"Title {patron_key}-{n}", HoldStatus.READY,
                 pickup_location=PickupLocation("B1", "中央図書館"), pickup_deadline=self._today + timedelta(days=7))
            for n in range(self.hold_count)
        ]

    def loans(self, patron_key):
        self._count()
        return [
            Loan(f"L{patron_key}-{n}", f"I{n}", f"Loan {patron_key}-{n}", self._today + timedelta(days=2),
                 forecast=RenewalForecast(RenewalStatus.RENEWABLE))
            for n in range(self.loan_count)
        ]

    def expected(self) -> int:
        """Messages a complete run sends: one per hold, one reminder per patron."""
        return len(self.keys) * (self.hold_count + (1 if self.loan_count else 0))


def use_fake_ils(app, fake: FakeIls) -> FakeIls:
    app.extensions["shiori.adapter"] = fake
    for number, key in enumerate(fake.keys):
        register_address(app, key, f"patron{number}@example.jp", language="ja" if number % 2 else "en")
    return fake


def drain(app) -> None:
    """Wait until the mail that pages queued in the background has gone out, so a test can read it."""
    outbox = app.extensions.get("shiori.outbox")
    if outbox:
        outbox.drain()


def translated(app, language: str, msgid: str, **variables) -> str:
    """``msgid`` as the app shows it in ``language`` now (English until the catalogue has it)."""
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale(language):
        return gettext(msgid, **variables)
