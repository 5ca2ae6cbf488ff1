"""Run reports: the report.json model, its renderings (HTML, Markdown, JUnit, Allure), compare, re-render."""

from vpsconform.reporting.files import write_all
from vpsconform.reporting.model import build_report, run_verdict

__all__ = ["build_report", "run_verdict", "write_all"]
