"""Allure results for the suite's tests (with ``--alluredir``): labels by requirement, evidence attached.

allure-pytest records the tests itself; these hooks add what it cannot know: the API as epic, each
requirement's area as feature, the requirement IDs as stories and links, the findings' evidence as
attachments, and the run's public configuration as the environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vpsconform.plugin.outcomes import declared
from vpsconform.plugin.state import state_of
from vpsconform.reporting.allure import attach_findings, label_test, write_environment


def _alluredir(config: pytest.Config) -> str | None:
    return getattr(config.option, "allure_report_dir", None)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Label the test by the requirements it declares."""
    state = state_of(item.config)
    if state is not None and _alluredir(item.config) and declared(item):
        label_test(item, declared(item), state.catalog)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Attach the evidence of the test's findings once it has run."""
    try:
        return (yield)
    finally:
        state = state_of(item.config)
        if state is not None and _alluredir(item.config) and declared(item):
            attach_findings(state.findings.for_test(item.nodeid), state.redactor)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The run's parameters as the Allure environment (no secrets)."""
    state = state_of(session.config)
    directory = _alluredir(session.config)
    if state is not None and directory and not state.worker:
        write_environment(Path(directory), state.config.public_dict())
