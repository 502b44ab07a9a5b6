"""KMS keys without their unused RSA key (installed by ``Sandbox``).

moto gives every KMS key a 2,048-bit RSA private key when it is created, symmetric ones included,
for the Sign/Verify/GetPublicKey calls of asymmetric keys. Generating it costs 50–250 ms a key, and
the pipelines' keys are all symmetric: here it is generated the first time anything uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.kms import models


class _LazyPrivateKey:
    """Stands in for moto's private key; becomes it on first use."""

    def __init__(self, generate: Callable[[str], Any], key_spec: str):
        self._generate, self._key_spec, self._key = generate, key_spec, None

    def __getattr__(self, name: str) -> Any:
        if self._key is None:
            self._key = self._generate(self._key_spec)
        return getattr(self._key, name)


def install() -> Callable[[], None]:
    """Defer moto's private-key generation; returns the undo."""
    original = models.generate_private_key
    models.generate_private_key = lambda key_spec: _LazyPrivateKey(original, key_spec)

    def undo() -> None:
        models.generate_private_key = original

    return undo
