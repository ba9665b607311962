"""Phone numbers: every lead is keyed by its normalised phone (E.164), so '138 1234 5678',
'+86 138-1234-5678' and '8613812345678' are one customer."""
from __future__ import annotations

import phonenumbers

from domain.shared.errors import RuleViolationError


class InvalidPhoneError(RuleViolationError):
    code = "invalid_phone"


def normalise_phone(raw: object, region: str = "CN") -> str:
    """E.164 (``+8613812345678``) or InvalidPhoneError with the reason."""
    if not isinstance(raw, (str, int)) or isinstance(raw, bool):
        raise InvalidPhoneError("phone must be a string", field="phone")
    text = str(raw).strip()
    if not text:
        raise InvalidPhoneError("phone is empty", field="phone")
    if len(text) > 32:
        raise InvalidPhoneError("phone is longer than 32 characters", field="phone")
    digits = text.replace(" ", "").replace("-", "")
    if region == "CN" and digits.isdigit() and len(digits) == 13 and digits.startswith("86"):
        text = "+" + digits  # 8613812345678 written without the plus
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneError(f"phone {text!r} is not a phone number ({exc.args[0] if exc.args else exc})",
                                field="phone") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneError(f"phone {text!r} is not a valid number", field="phone")
    # Leads are mainland customers: a valid foreign number is refused like a landline.
    if number.country_code != 86 or phonenumbers.number_type(number) not in (
            phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidPhoneError(f"phone {text!r} is not a mainland mobile number", field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

