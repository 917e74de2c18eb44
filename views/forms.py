"""The portal's forms. Every one is a PortalForm (a FlaskForm), so every POST carries a CSRF token."""

from __future__ import annotations

from functools import lru_cache

from babel import support
from flask_babel import get_locale, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.i18n import messages_path
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, ValidationError

from adapters.errors import InvalidInput
from adapters.validation import PASSWORD_MAX, check_safe_text, normalize_card_number
from views.passwords import PasswordPolicy


@lru_cache(maxsize=16)
def wtforms_translations(locale: str) -> support.Translations:
    """WTForms' own messages ("Not a valid date value.") in this language, loaded once per process.
    Flask-WTF loads the catalogue anew for every request that builds a form."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class PortalForm(FlaskForm):
    """The base of every form here: Flask-WTF's CSRF protection, WTForms' messages translated."""

    class Meta:
        def get_translations(self, form):
            return wtforms_translations(str(get_locale() or "en"))


class SafeText:
    """Refuse overlong text, and control characters (and optionally ``|``), each with its own clear message."""

    def __init__(self, max_length: int, allow_delimiter: bool = False) -> None:
        self.max_length = max_length
        self.allow_delimiter = allow_delimiter

    def __call__(self, form, field) -> None:
        if len(field.data or "") > self.max_length:  # said as such: it is not a character that is wrong
            raise ValidationError(ngettext("Use at most %(num)d character.", "Use at most %(num)d characters.",
                                           self.max_length))
        try:
            check_safe_text(field.data or "", self.max_length, allow_delimiter=self.allow_delimiter)
        except InvalidInput:
            raise ValidationError(_l("This contains characters that cannot be used.")) from None


class CardNumberField(StringField):
    """A card number, normalised on input: hyphens, spaces and full-width digits are accepted."""

    def pre_validate(self, form) -> None:
        if not self.data:
            return
        try:
            self.data = normalize_card_number(self.data)
        except InvalidInput:
            raise ValidationError(_l("Enter the number printed on your library card (digits only).")) from None


class LoginForm(PortalForm):
    card_number = CardNumberField(
        _l("Library card number"), validators=[DataRequired(_l("Enter your library card number.")), Length(max=64)]
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Enter your password.")), SafeText(PASSWORD_MAX, True)]
    )
    next = HiddenField()


def new_password_field() -> PasswordField:
    """The new password, checked against the library's policy (changing it, or setting it after a reset)."""
    return PasswordField(
        _l("New password"),
        validators=[DataRequired(_l("Enter a new password.")), SafeText(PASSWORD_MAX, True), PasswordPolicy()],
    )


def new_password_again_field() -> PasswordField:
    """The new password typed a second time; it must equal the form's ``new`` field."""
    return PasswordField(
        _l("New password (again)"),
        validators=[DataRequired(_l("Enter the new password again.")), EqualTo("new", _l("The two new passwords differ."))],
    )


class ChangePasswordForm(PortalForm):
    current = PasswordField(
        _l("Current password"), validators=[DataRequired(_l("Enter your current password.")), SafeText(PASSWORD_MAX, True)]
    )
    new = new_password_field()
    confirm = new_password_again_field()

    def validate_new(self, field) -> None:
        if field.data and field.data == self.current.data:
            raise ValidationError(_l("Choose a password different from the current one."))


class EmptyForm(PortalForm):
    """A one-button form (microblog's EmptyForm): its only content is the CSRF token."""


class RenewForm(PortalForm):
    """Renew selected loans (the checkboxes, read from request.form.getlist) or all of them."""

    action = HiddenField(default="selected")


class CancelHoldsForm(PortalForm):
    """Cancel the holds whose checkboxes are ticked (read from request.form.getlist)."""


class PlaceHoldForm(PortalForm):
    record = HiddenField(validators=[DataRequired(), Length(max=64), SafeText(64)])
    pickup_location = SelectField(_l("Pickup location"), validators=[DataRequired(_l("Choose a pickup location."))])
    not_needed_after = DateField(_l("Not needed after (optional)"), validators=[Optional()])


class BasketForm(PortalForm):
    """The reservation basket's confirmation: one pickup location and "not needed after" for every title."""

    pickup_location = SelectField(_l("Pickup location"), validators=[DataRequired(_l("Choose a pickup location."))])
    not_needed_after = DateField(_l("Not needed after (optional)"), validators=[Optional()])


class SeriesForm(BasketForm):
    """Volumes of a series reserved in order (the checkboxes, read from request.form.getlist): one pickup for all."""


class SearchForm(PortalForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField(_l("Title, author or ISBN"), validators=[DataRequired(), Length(max=200), SafeText(200)])


class SettingsForm(PortalForm):
    email = EmailField(
        _l("Email address"),
        validators=[Optional(), Length(max=254), Email(_l("Enter an email address such as name@example.jp.")), SafeText(254)],
    )
    language = RadioField(_l("Language"), choices=[("ja", "日本語"), ("en", "English")])
    notify_hold_ready = BooleanField(_l("Email me when a reserved book is ready for pickup"))
    notify_due_soon = BooleanField(_l("Email me a few days before books are due"))
    notify_renewable = BooleanField(_l("Email me on the day each loan can be renewed"))



class LinkCardForm(PortalForm):
    """Link another card (a child's, a partner's): its number and password, checked once by the ILS."""

    card_number = CardNumberField(
        _l("Library card number"), validators=[DataRequired(_l("Enter your library card number.")), Length(max=64)]
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Enter your password.")), SafeText(PASSWORD_MAX, True)]
    )
