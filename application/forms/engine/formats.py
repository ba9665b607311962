"""Custom JSON Schema formats for the futures industry, using python-stdnum where a standard
number has a published checksum (resident ID, unified social credit code, Luhn)."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from jsonschema import FormatChecker
from stdnum import luhn
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

_PHONE = re.compile(r"^1[3-9]\d{9}$")
_MONEY = re.compile(r"^-?\d{1,15}(\.\d{1,2})?$")
_FUND_ACCOUNT = re.compile(r"^\d{6,20}$")

FORMATS: dict[str, str] = {
    "phone-cn": "mainland mobile number (11 digits starting 13-19)",
    "id-card-cn": "resident ID card number (18 characters, valid checksum)",
    "uscc": "unified social credit code (18 characters, valid checksum)",
    "bank-card": "bank card number (12-19 digits, Luhn checksum)",
    "money": "amount with at most two decimals",
    "percent": "percentage between 0 and 100 with at most four decimals",
    "fund-account": "fund account number (6-20 digits)",
}


def _id_card(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        ric.validate(value)
        return True
    except ValidationError:
        return False


def _uscc(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uscc.validate(value)
        return True
    except ValidationError:
        return False


def _bank_card(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return value.isdigit() and 12 <= len(value) <= 19 and luhn.is_valid(value)


def _money(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        value = repr(value)
    return not isinstance(value, str) or bool(_MONEY.match(value))


def _percent(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return True
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return False
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int):  # NaN or infinity, which no percentage is
        return False
    return Decimal(0) <= number <= Decimal(100) and -exponent <= 4


def format_checker() -> FormatChecker:
    checker = FormatChecker()  # the standard formats (date, date-time, email, ...) plus ours
    checker.checks("phone-cn")(lambda v: not isinstance(v, str) or bool(_PHONE.match(v)))
    checker.checks("id-card-cn")(_id_card)
    checker.checks("uscc")(_uscc)
    checker.checks("bank-card")(_bank_card)
    checker.checks("money")(_money)
    checker.checks("percent")(_percent)
    checker.checks("fund-account")(lambda v: not isinstance(v, str) or bool(_FUND_ACCOUNT.match(v)))
    return checker
