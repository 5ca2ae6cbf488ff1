"""Keep tokens out of everything the run prints or stores."""

from __future__ import annotations

from collections.abc import Mapping


class Redactor:
    """Replaces known secrets with ``${ENV_VAR}`` references, so reproduction commands still run."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted(((s, n) for s, n in secrets.items() if s), key=lambda item: -len(item[0]))

    def text(self, value: str) -> str:
        """``value`` with every known secret replaced by its reference."""
        for secret, name in self._secrets:
            if secret in value:
                value = value.replace(secret, f"${{{name}}}")
        return value

    def __call__(self, value: str) -> str:
        return self.text(value)
