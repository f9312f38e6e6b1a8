"""China's identifiers as people type them: the unified social credit code and mainland mobile numbers."""

import re

# GB 32100-2015: 18 characters from this alphabet (no I, O, S, V, Z); the last is a check character.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_MOBILE = re.compile(r"1[3-9]\d{9}")


def credit_code_check_character(first_17: str) -> str:
    total = sum(
        CREDIT_CODE_ALPHABET.index(char) * weight
        for char, weight in zip(first_17, _CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def normalise_credit_code(text: str) -> str:
    return re.sub(r"[\s-]", "", text).upper()


def credit_code_problem(code: str) -> str | None:
    """Why `code` is not a valid unified social credit code, in plain words; None if it is."""
    if len(code) != 18:
        return "length"
    if any(char not in CREDIT_CODE_ALPHABET for char in code):
        return "alphabet"
    if credit_code_check_character(code[:17]) != code[17]:
        return "check"
    return None


def normalise_mobile(text: str) -> str:
    """'+86 139-0852-0001' -> '13908520001'."""
    digits = re.sub(r"[\s\-()]", "", text)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    return digits


def is_mainland_mobile(number: str) -> bool:
    return bool(_MOBILE.fullmatch(number))
