"""Transaction ids (``_xact_id``, the versions of datasets, prompts and experiments) and their
"pretty" form.

Braintrust's UI and ``get_prompt_versions`` show a version as 16 hex digits: the id multiplied
by 3**30 modulo 2**64. The multiplier is odd, so the mapping is a bijection on 64-bit ids and
multiplying by its inverse gives the id back. Wherever a version is accepted, either form works.
"""

from __future__ import annotations

_MODULUS = 1 << 64
_MULTIPLIER = 3**30
_INVERSE = pow(_MULTIPLIER, -1, _MODULUS)
PRETTY_LENGTH = 16
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def prettify_xact(value: int | str) -> str:
    """The pretty form (16 lowercase hex digits) of the transaction id ``value``."""
    return format(int(value) * _MULTIPLIER % _MODULUS, "016x")


def is_pretty_xact(version: str) -> bool:
    """``version`` has the pretty form's shape (exactly 16 hex digits)."""
    return len(version) == PRETTY_LENGTH and _HEX_DIGITS.issuperset(version)


def load_pretty_xact(version: str) -> str:
    """The transaction id (a decimal string) a pretty version stands for; any other string is
    returned as it is (so a plain id passes through)."""
    if not is_pretty_xact(version):
        return version
    return str(int(version, 16) * _INVERSE % _MODULUS)


def normalize_version(version: str | int, what: str) -> str:
    """A version as the decimal transaction id: a plain id (digits) or its pretty form. Exactly
    16 digits read as the pretty form, as the public SDK reads them (a real id has 19).
    Raises ``ValueError`` naming ``what`` and both accepted forms for anything else."""
    text = str(version).strip()
    if text.isdigit() and len(text) != PRETTY_LENGTH:
        return text
    if is_pretty_xact(text):
        return load_pretty_xact(text)
    raise ValueError(
        f"{what}: {version!r} is not a version. Pass a transaction id (digits, as in _xact_id) "
        "or the 16-hex-digit form the Braintrust UI and get_prompt_versions show."
    )


__all__ = ["is_pretty_xact", "load_pretty_xact", "normalize_version", "prettify_xact"]
