"""Phone numbers in one form: E.164 (`+265991234567`), parsed by Google's libphonenumber."""

import phonenumbers


def to_e164(value: str, region: str) -> str:
    """`value` as E.164; a national number (`0991234567`) is read as one of `region`.

    Raises `ValueError` when it is not a valid number there.
    """
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValueError("is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"is not a valid phone number (national numbers are read as {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
