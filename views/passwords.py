"""The password policy (the seed guide's ★: at least 8 characters, a letter and a digit, either case).

Configurable through PASSWORD_MIN_LENGTH / PASSWORD_REQUIRE_LETTER / PASSWORD_REQUIRE_DIGIT;
the same rules are shown beside the field and enforced here, on the server.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from wtforms import ValidationError


def policy_rules() -> list[str]:
    """The rules in words, for the hint beside the password field."""
    config = current_app.config
    minimum = config["PASSWORD_MIN_LENGTH"]
    rules = [ngettext("At least %(num)d character", "At least %(num)d characters", minimum)]
    if config["PASSWORD_REQUIRE_LETTER"]:
        rules.append(str(_l("At least one letter (upper or lower case)")))
    if config["PASSWORD_REQUIRE_DIGIT"]:
        rules.append(str(_l("At least one digit")))
    return rules


def policy_problems(password: str) -> list[str]:
    """What the password lacks; empty when it satisfies the policy."""
    config = current_app.config
    problems = []
    if len(password) < config["PASSWORD_MIN_LENGTH"]:
        problems.append(
            ngettext("Use at least %(num)d character.", "Use at least %(num)d characters.", config["PASSWORD_MIN_LENGTH"])
        )
    if config["PASSWORD_REQUIRE_LETTER"] and not any(ch.isascii() and ch.isalpha() for ch in password):
        problems.append(str(_l("Include at least one letter.")))
    if config["PASSWORD_REQUIRE_DIGIT"] and not any(ch.isdigit() for ch in password):
        problems.append(str(_l("Include at least one digit.")))
    return problems


class PasswordPolicy:
    """WTForms validator applying ``policy_problems``."""

    def __call__(self, form, field) -> None:
        problems = policy_problems(field.data or "")
        if problems:
            raise ValidationError(" ".join(problems))
