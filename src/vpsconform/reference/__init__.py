"""Reference target: a faithful, time-scaled, in-memory VPS.org Snapshots API served over loopback HTTP.

Independent of the conformance suite. Import submodules directly: ``server.start``, ``options.TargetOptions``.
"""
