"""First-name genders from the WGND 2.0 data the wheel ships (read as data, offline)."""

from __future__ import annotations

import pytest

from summarizer import first_names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Maria", "f"),
        ("Lilia", "f"),
        ("John", "m"),
        ("Leonid", "m"),
        ("Maksym", "m"),  # a Ukrainian spelling
        ("MARY", "f"),  # case does not matter
        ("Taylor", None),  # shared: under the threshold
        ("Robin", None),
        ("Xqzvw", None),  # no such name
        ("J.", None),  # an initial
        ("", None),
    ],
)
def test_gender_of_a_first_name(name: str, expected: str | None) -> None:
    assert first_names.gender(name) == expected


def test_a_missing_data_package_means_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(package: str) -> object:
        raise ModuleNotFoundError(package)

    first_names.gender.cache_clear()
    monkeypatch.setattr(first_names.importlib.resources, "files", missing)
    try:
        assert first_names.gender("Maria") is None
    finally:
        first_names.gender.cache_clear()
