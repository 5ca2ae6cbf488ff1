"""Wires the vpsconform plugin, so `pytest suites/ --target ... --token ...` runs the conformance suite."""

pytest_plugins = ["vpsconform.plugin"]
