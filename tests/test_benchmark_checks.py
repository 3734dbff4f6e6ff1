"""benchmarks/throughput.py's verdict on "2 threads never slower than 1", on per-round ratios worked out by hand."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def throughput():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("throughput", BENCH / "throughput.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCH))


def test_a_median_of_at_least_one_is_ok(throughput):
    assert throughput.not_slower([1.10, 1.02, 0.99, 1.05, 1.01])[0] == "ok"


def test_equal_speeds_measured_with_small_noise_are_not_measurably_slower(throughput):
    # seven rounds of the same code: median 0.995, four rounds below 1 and three above
    verdict, p = throughput.not_slower([0.995, 1.005, 0.99, 1.01, 0.985, 1.015, 0.993])
    assert verdict == "ok, not measurably slower"
    assert p == pytest.approx((35 + 21 + 7 + 1) / 128)  # P(at least 4 of 7 below) for a fair coin


def test_a_slowdown_larger_than_the_resolution_is_not_ok(throughput):
    # median 0.96, even though two rounds came out faster
    assert throughput.not_slower([0.93, 1.02, 0.96, 0.95, 1.01, 0.92, 0.97])[0] == "NOT ok"


def test_a_small_but_consistent_slowdown_is_not_ok(throughput):
    # 2 % slower in every one of seven rounds: within the resolution, but a fair coin gives that 1 time in 128
    verdict, p = throughput.not_slower([0.98, 0.981, 0.979, 0.982, 0.978, 0.98, 0.981])
    assert verdict == "NOT ok" and p == pytest.approx(1 / 128)


def test_the_sign_test_counts_rounds_below_one(throughput):
    assert throughput.chance_of_so_many_below([0.9, 1.1]) == pytest.approx(3 / 4)  # at least 1 of 2 below
    assert throughput.chance_of_so_many_below([1.1, 1.2, 1.3]) == 1.0  # at least 0 below: certain
    assert throughput.chance_of_so_many_below([0.9] * 5) == pytest.approx(1 / 32)
