"""The server budget of parallel workers: reservations never exceed the servers, and no two holders wait."""

from __future__ import annotations

import os
import subprocess
import sys

from vpsconform.plugin.budget import Grant, ServerBudget


def pair(tmp_path, total: int = 3) -> tuple[ServerBudget, ServerBudget]:
    """Two workers' shares (this process and its parent, both alive) of one run's servers."""
    return (
        ServerBudget(tmp_path, total, "run1", worker=os.getpid()),
        ServerBudget(tmp_path, total, "run1", worker=os.getppid()),
    )


def test_reservations_never_add_up_to_more_than_the_servers(tmp_path) -> None:
    a, b = pair(tmp_path)
    a.expect(2)
    b.expect(2)
    assert a.reserve() is Grant.GRANTED and a.reserved == 2
    assert b.reserve() is Grant.WAIT and b.reserved == 0
    a.release()
    assert b.reserve() is Grant.GRANTED and b.reserved == 2


def test_a_need_beyond_the_servers_is_clamped_so_it_can_be_granted(tmp_path) -> None:
    a, _ = pair(tmp_path, total=2)
    a.expect(4)
    assert a.reserve() is Grant.GRANTED and a.reserved == 2


def test_reservations_are_served_first_come_first_served(tmp_path) -> None:
    a, b = pair(tmp_path, total=2)
    third = ServerBudget(tmp_path, 2, "run1", worker=1)  # init: always alive
    a.expect(2)
    assert a.reserve() is Grant.GRANTED
    b.expect(2)
    assert b.reserve() is Grant.WAIT  # queued first
    a.release()
    third.expect(1)
    assert third.reserve() is Grant.WAIT  # room for it, but b asked earlier
    assert b.reserve() is Grant.GRANTED
    b.release()
    assert third.reserve() is Grant.GRANTED


def test_only_one_holder_at_a_time_waits_to_grow(tmp_path) -> None:
    a, b = pair(tmp_path, total=2)
    assert a.reserve() is Grant.GRANTED and b.reserve() is Grant.GRANTED
    assert a.grow() is Grant.WAIT  # a may wait: b will finish without needing a's server
    assert b.grow() is Grant.REFUSED  # b waiting too would be the deadlock
    assert b.grow(wait=False) is Grant.REFUSED
    b.release()
    assert a.grow() is Grant.GRANTED and a.reserved == 2


def test_a_grower_that_gives_up_lets_fresh_reservations_in_again(tmp_path) -> None:
    a, b = pair(tmp_path, total=1)
    assert a.reserve() is Grant.GRANTED
    assert a.grow() is Grant.WAIT
    a.give_up()
    a.release()
    assert b.reserve() is Grant.GRANTED


def test_a_dead_workers_share_is_dropped(tmp_path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = ServerBudget(tmp_path, 1, "run1", worker=int(gone.stdout))
    assert dead.reserve() is Grant.GRANTED
    alive, _ = pair(tmp_path, total=1)
    assert alive.reserve() is Grant.GRANTED


def test_a_table_left_by_an_earlier_run_is_ignored(tmp_path) -> None:
    old = ServerBudget(tmp_path, 1, "run0", worker=os.getppid())
    assert old.reserve() is Grant.GRANTED
    new = ServerBudget(tmp_path, 1, "run1")
    assert new.reserve() is Grant.GRANTED
