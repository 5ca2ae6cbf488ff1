"""JSON response that can encode any str (lone surrogates included) without failing."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response


class JSONResponse(Response):
    """application/json rendered as ASCII, so client-supplied text can never break encoding."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode with \\u escapes for everything outside ASCII."""
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")
