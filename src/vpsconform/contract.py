"""The constants of the contract, as the documentation page states them, in one place.

Library and suites import these; nothing else writes the numbers again.
"""

from __future__ import annotations

#: "You can have a maximum of 5 snapshots per server."
SNAPSHOT_LIMIT = 5
#: "This may take 3-10 minutes depending on server size." (create)
CREATE_MIN_MINUTES = 3
CREATE_MAX_MINUTES = 10
#: "This may take 5-15 minutes." (restore)
RESTORE_MIN_MINUTES = 5
RESTORE_MAX_MINUTES = 15
#: Production polling interval while waiting on asynchronous work (a product decision, not the page's).
POLL_SECONDS = 10
#: A snapshot and server id no account is expected to hold; the run checks it is absent before using it,
#: and the client's interlock lets destructive requests name it (or spellings of it) besides owned ids.
ABSENT_ID = 2_000_000_001
#: Documented base path of the API.
SNAPSHOTS = "/api/v1/snapshots/"
#: The provider's servers API (documented elsewhere by VPS.org), used only to watch restores.
SERVERS = "/api/v1/servers/"
