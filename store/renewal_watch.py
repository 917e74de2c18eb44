"""Per-loan "tell me when I can renew" requests (``RenewalWatch``), kept until the mail is sent or the loan is gone."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from store.models import RenewalWatch


def watched_loans(patron_key: str) -> set[str]:
    return set(db.session.scalars(select(RenewalWatch.loan_id).where(RenewalWatch.patron_key == patron_key)))


def watch(patron_key: str, loan_id: str, *, automatic: bool = False) -> None:
    """Ask for the mail (again is harmless); ``automatic``: for the "every loan" setting, not by the patron."""
    db.session.add(RenewalWatch(patron_key=patron_key, loan_id=loan_id, automatic=automatic))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # already asked


def unwatch(patron_key: str, loan_ids: Iterable[str]) -> None:
    ids = list(loan_ids)
    if ids:
        db.session.execute(delete(RenewalWatch).where(RenewalWatch.patron_key == patron_key,
                                                      RenewalWatch.loan_id.in_(ids)))
        db.session.commit()


def watching_patrons() -> set[str]:
    """Every patron with at least one loan watched (the notice run's extra recipients)."""
    return set(db.session.scalars(select(RenewalWatch.patron_key).distinct()))


def drop_automatic(patron_key: str) -> None:
    """The patron turned "every loan" off: forget the watches it made, keep those asked for one by one."""
    db.session.execute(delete(RenewalWatch).where(RenewalWatch.patron_key == patron_key,
                                                  RenewalWatch.automatic.is_(True)))
    db.session.commit()
