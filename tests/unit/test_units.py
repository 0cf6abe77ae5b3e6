"""dockyard.units: the one size parser (go-units RAMInBytes / FromHumanSize) and the printers."""

from __future__ import annotations

import pytest

from dockyard import units as U

MB = 1 << 20


@pytest.mark.parametrize("s, n", [
    ("64m", 64 * MB), ("64M", 64 * MB), ("64mb", 64 * MB), ("64MiB", 64 * MB), ("1g", 1 << 30),
    ("1GiB", 1 << 30), ("1gb", 1 << 30), ("1kb", 1024), ("1KiB", 1024), ("1k", 1024),
    ("512k", 512 << 10), ("1024", 1024), ("100b", 100), ("1.5g", 3 << 29), ("0.5k", 512), (".5m", MB // 2),
    ("2t", 2 << 40), ("1p", 1 << 50), (" 8m ", 8 * MB), (4096, 4096), ("64 m", 64 * MB), ("5.", 5),
    ("0", 0),
])
def test_ram_in_bytes(s, n):
    assert U.ram_in_bytes(s) == n


@pytest.mark.parametrize("s, n", [
    ("1k", 1000), ("1kb", 1000), ("1KiB", 1000), ("1GiB", 10**9), ("1g", 10**9), ("10m", 10**7),
    ("1.5k", 1500), ("100", 100), ("7b", 7),
])
def test_from_human_size(s, n):
    assert U.from_human_size(s) == n


@pytest.mark.parametrize("s", [
    "", " ", "m", ".", "-1", "-5m", "+5m", "1x", "1.2.3m", "abc", "1e6", "1e400", "nan", "NaN", "inf", "-inf",
    "Infinity", "64mm", "1kib5", "1bb", "1mbb", "1iB", "١٢m", "0x10", "1_000", None, 1.5, True,
    "9223372036854775808", "10000000t", "10000p",
])
def test_sizes_refused(s):
    for parse in (U.ram_in_bytes, U.from_human_size):
        with pytest.raises(U.SizeError):
            parse(s)


def test_int64_limit_is_inclusive():
    assert U.ram_in_bytes("9223372036854775807") == (1 << 63) - 1


def test_size_error_is_a_value_error_with_go_units_wording():
    with pytest.raises(ValueError, match="invalid suffix: 'x'"):
        U.ram_in_bytes("1x")
    with pytest.raises(ValueError, match="invalid size: 'nan'"):
        U.ram_in_bytes("nan")


def test_printers():
    assert U.human_size(4_260_000) == "4.26MB"
    assert U.binary_size(1.5 * MB) == "1.5MiB"


def test_cpu_list():
    from dockyard.units import cpu_list

    assert cpu_list("0") == {0} and cpu_list("0-2,4") == {0, 1, 2, 4} and cpu_list("3,1-1") == {1, 3}
    for bad in ("", "a", "1-", "-1", "2-1", "0,,1"):
        with pytest.raises(ValueError):
            cpu_list(bad)
