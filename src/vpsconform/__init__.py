"""vpsconform: conformance suite for the VPS.org Snapshots API."""

__version__ = "0.1.0"
