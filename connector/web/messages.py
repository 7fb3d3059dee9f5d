"""Service errors in the page's language: the message staff can act on, and each field's."""

from __future__ import annotations

from collections.abc import Mapping

from connector.errors import N_, Code, ConnectorError
from connector.web import i18n

# Where a page says more than the service's own message (what to do about it).
_CODE_MESSAGES = {
    Code.ACCOUNT_HAS_OPEN_ITEMS: N_(
        "The account has open invoices or reserved credit. "
        'Tick "close anyway" to close it: reservations are released, invoices stay owed.'
    ),
    Code.ACCOUNT_CLOSED: N_("The account is closed."),
    Code.ACCOUNT_EXISTS: N_("An open account already has this document or id."),
    Code.ACCOUNT_NOT_FOUND: N_("Account not found."),
    Code.HOLDER_EXISTS: N_("This e-mail already holds an open account."),
    Code.HOLDER_NOT_FOUND: N_("Dependent not found."),
    Code.OWNER_NOT_REMOVABLE: N_("The account owner cannot be removed."),
    Code.INVOICE_NOT_FOUND: N_("Invoice not found."),
    Code.INVOICE_PAID: N_("The invoice is paid and cannot be cancelled."),
    Code.INVOICE_CANCELLED: N_("The invoice is cancelled and cannot be paid."),
    Code.INVOICE_NOT_OPEN: N_("Only an open invoice can be changed this way."),
    Code.INVALID_FILE: N_("The file cannot be imported: see why by the file field."),
    Code.POSTPONEMENT_REFUSED: N_("The postponement is not allowed: {detail}"),
    Code.REVIEW_DECIDED: N_("This purchase was already decided."),
    Code.REVIEW_NOT_FOUND: N_("Review not found."),
    Code.USER_EXISTS: N_("A user with this e-mail already exists."),
    # The platform's configuration flow: the merchant starts again from the platform.
    Code.AUTHORIZATION_TOKEN_INVALID: N_(
        "This link is not valid. Start again from the platform's admin."
    ),
    Code.AUTHORIZATION_TOKEN_EXPIRED: N_(
        "This link expired. Start again from the platform's admin."
    ),
    Code.AUTHORIZATION_TOKEN_USED: N_(
        "This link was already used. Start again from the platform's admin."
    ),
    Code.APPLICATION_MISMATCH: N_(
        "This link was issued to another application. Start again from the platform's admin."
    ),
    Code.CONSENT_NOT_FOUND: N_(
        "Nothing waits for a decision in this browser. Start again from the platform's admin."
    ),
    Code.CONSENT_EXPIRED: N_("The time to decide ran out. Start again from the platform's admin."),
    Code.CONNECTION_NOT_FOUND: N_("This connection holds no key to revoke."),
}


class FormError(ConnectorError):
    """Input a form could not read; its fields' reasons are in the page's language already."""


def service_message(error: ConnectorError) -> str:
    """The service's own message, translated, then filled with its values."""
    return i18n.gettext(error.template, **error.values)


def error_message(error: ConnectorError) -> str:
    """A service error in words staff can act on (field errors are shown by their fields)."""
    if isinstance(error, FormError) or (error.fields and error.code == Code.INVALID_REQUEST):
        return i18n.gettext("Please correct the fields marked below.")
    template = _CODE_MESSAGES.get(error.code)
    if template is None:
        return service_message(error)
    return i18n.gettext(template, detail=service_message(error))


def error_fields(error: ConnectorError, renames: Mapping[str, str] | None = None) -> dict[str, str]:
    """A service's field errors, in the page's language, under the form's field names."""
    renames = renames or {}
    if isinstance(error, FormError):
        return {renames.get(k, k): v for k, v in error.fields.items()}
    return {
        renames.get(name, name): i18n.gettext(reason.template, **reason.values)
        for name, reason in error.field_reasons().items()
    }
