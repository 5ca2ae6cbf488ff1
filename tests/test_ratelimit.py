"""The rate cap: no second holds more requests than the cap, with deliberate bursts and parallel workers."""

from __future__ import annotations

import bisect
import threading
import time
from pathlib import Path

from vpsconform.ratelimit import RateLimiter

CAP = 50


def busiest_second(stamps: list[float]) -> int:
    """The most requests released within one second: (t - 1, t] for every release t."""
    stamps = sorted(stamps)
    return max(i + 1 - bisect.bisect_right(stamps, t - 1.0) for i, t in enumerate(stamps))


def released(limiter: RateLimiter, count: int) -> list[float]:
    """Release times of ``count`` requests sent one after another."""
    stamps = []
    for _ in range(count):
        limiter.wait()
        stamps.append(time.monotonic())
    return stamps


def test_requests_are_spaced_to_the_cap() -> None:
    stamps = released(RateLimiter(CAP), CAP + 10)
    assert busiest_second(stamps) <= CAP
    assert stamps[-1] - stamps[0] < (CAP + 9) / CAP * 1.25  # not much slower than the cap either


def test_the_cap_holds_at_the_target_when_arrivals_jitter() -> None:
    stamps = released(RateLimiter(CAP), CAP + 10)
    # The worst order: every early request reaches the target 99 ms after its slot, every later one at once.
    arrivals = [t + (0.099 if i < 30 else 0.0) for i, t in enumerate(stamps)]
    assert busiest_second(arrivals) <= CAP  # slots only 2% wider than 1 / CAP let CAP + 1 into a second


def test_a_burst_goes_out_together_and_is_paid_for() -> None:
    limiter = RateLimiter(CAP)
    stamps = released(limiter, 30)
    with limiter.burst(12):
        burst = released(limiter, 12)
    stamps += burst + released(limiter, 30)
    assert burst[-1] - burst[0] < 0.05  # together, as the race needs
    assert busiest_second(stamps) <= CAP  # the unpaid burst of old reached CAP + 12


def test_slots_a_burst_leaves_unused_are_not_handed_on() -> None:
    limiter = RateLimiter(CAP)
    with limiter.burst(5):
        released(limiter, 2)
    start = time.monotonic()
    limiter.wait()
    assert time.monotonic() - start >= 4 / CAP  # the next slot opens after all five paid ones


def test_workers_sharing_a_table_share_the_cap(tmp_path: Path) -> None:
    table = tmp_path / ".leases" / "rate"
    workers = [RateLimiter(CAP, shared=table) for _ in range(3)]
    stamps: list[float] = []
    lock = threading.Lock()

    def send(limiter: RateLimiter) -> None:
        mine = released(limiter, 25)
        with lock:
            stamps.extend(mine)

    threads = [threading.Thread(target=send, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(stamps) == 75
    assert busiest_second(stamps) <= CAP  # each worker at the full cap would have sent 75 in 0.5 s


def test_a_table_from_another_boot_is_ignored(tmp_path: Path) -> None:
    table = tmp_path / "rate"
    table.write_text(repr(time.monotonic() + 3600))
    start = time.monotonic()
    RateLimiter(CAP, shared=table).wait()
    assert time.monotonic() - start < 0.5


def test_what_a_cap_allows() -> None:
    assert RateLimiter(20).allows(12) and RateLimiter(12).allows(12)
    assert not RateLimiter(10).allows(12)
    assert RateLimiter(0).allows(1000)  # no cap
    limiter = RateLimiter(0)
    with limiter.burst(1000):
        limiter.wait()
