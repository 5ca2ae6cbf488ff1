"""The pytest plugin behind `pytest suites/` and `vpsconform run`: fixtures, markers, cleanup, verdicts.

A conformance test declares what it checks with ``@pytest.mark.requirement("LIMIT-02", ...)`` and records
findings through the ``check`` fixture. The plugin states the run's scope before the first test, turns the
findings of the whole session into one verdict per catalog requirement, sweeps up every snapshot the run
created, and writes the reports. One job per module: ``state`` (what the session shares), ``resources``
(snapshots and servers), ``fixtures``, ``outcomes`` (test outcome to findings), ``scope``, ``session`` and
``parallel`` (workers under pytest-xdist) and ``allure_results``.
"""

from vpsconform.plugin.state import Preset, RunResult, RunState

__all__ = ["Preset", "RunResult", "RunState"]

pytest_plugins = [
    "vpsconform.plugin.session",
    "vpsconform.plugin.outcomes",
    "vpsconform.plugin.fixtures",
    "vpsconform.plugin.parallel",
    "vpsconform.plugin.allure_results",
]
