"""The shipped list of common passwords: present in the package, lower-cased, checked
case-insensitively."""

from __future__ import annotations

from importlib import resources

from mindspace.identity.service.email_flows import is_common_password


def test_the_list_ships_with_the_package_and_holds_ten_thousand_entries() -> None:
    data = resources.files("mindspace.identity").joinpath("data", "common-passwords.txt")
    entries = data.read_text(encoding="utf-8").splitlines()
    assert len(entries) == len(set(entries)) == 10_000
    assert all(entry == entry.lower() and entry.strip() == entry != "" for entry in entries)
    assert entries[:2] == ["123456", "password"]  # most common first


def test_any_casing_of_a_listed_password_counts() -> None:
    assert is_common_password("password")
    assert is_common_password("PassWord")
    assert is_common_password("FOOTBALL")
    assert not is_common_password("lanterns over the quiet bay")
