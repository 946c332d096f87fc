"""Versions in the form Braintrust's UI shows them (16 hex digits) and back."""

from __future__ import annotations

import pytest

from braintrust.xact_ids import is_pretty_xact, load_pretty_xact, normalize_version, prettify_xact

#: ``prettify_xact`` of the public SDK 0.48.1 for these ids (computed there).
PUBLIC_SDK_PRETTY = {
    1: "0000bb41c3ca78b9",
    5: "0003a848d2f45b9d",
    1000192656880881099: "81cd05ee665fdfb3",
    2**64 - 1: "ffff44be3c358747",
    1000000000000000000: "ebaf7f32d7440000",  # (the test server's first transaction)
}


@pytest.mark.parametrize("xact_id, pretty", sorted(PUBLIC_SDK_PRETTY.items()))
def test_pretty_form_is_the_public_sdks_and_converts_back(xact_id, pretty):
    assert prettify_xact(xact_id) == prettify_xact(str(xact_id)) == pretty
    assert load_pretty_xact(pretty) == load_pretty_xact(pretty.upper()) == str(xact_id)
    assert normalize_version(pretty, "v") == normalize_version(xact_id, "v") == str(xact_id)


def test_only_sixteen_hex_digits_are_the_pretty_form():
    assert is_pretty_xact("0000bb41c3ca78b9") and not is_pretty_xact("0000bb41c3ca78b")
    assert not is_pretty_xact("0000bb41c3ca78bz") and not is_pretty_xact("1000192656880881099")
    assert load_pretty_xact("1000192656880881099") == "1000192656880881099"  # a plain id passes through
    assert normalize_version(" 42 ", "v") == "42"


@pytest.mark.parametrize("bad", ["latest", "-1", "", "0x10", "1.5", "0000bb41c3ca78b9a"])
def test_anything_else_is_refused_with_both_forms_named(bad):
    with pytest.raises(ValueError, match=r"init_dataset\(version=...\): .* is not a version. Pass a transaction id"):
        normalize_version(bad, "init_dataset(version=...)")
