"""DSSE signing of the attestation with a PEM key (ed25519 or ECDSA), via securesystemslib and cryptography.

The envelope is the one cosign and in-toto use: ``payloadType`` ``application/vnd.in-toto+json``, the
statement base64-encoded as ``payload``, signatures over DSSE's pre-authentication encoding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import FormatError, UnverifiedSignatureError, VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from vpsconform.errors import KeyProblem

PAYLOAD_TYPE = "application/vnd.in-toto+json"
_KINDS = (ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)
_PUBLIC_KINDS = (ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey)


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KeyProblem(f"cannot read key {path}: {exc.strerror or exc}") from None


def load_signer(path: Path) -> CryptoSigner:
    """A signer for an unencrypted PEM private key (PKCS#8 or traditional), ed25519 or ECDSA."""
    data = _read(path)
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        reason = "it is encrypted" if isinstance(exc, TypeError) else "not a PEM private key"
        raise KeyProblem(f"cannot use key {path}: {reason} (an unencrypted ed25519 or ECDSA key)") from None
    if not isinstance(key, _KINDS):
        raise KeyProblem(f"cannot use key {path}: {type(key).__name__} is not ed25519 or ECDSA")
    try:
        return CryptoSigner(key)
    except ValueError as exc:  # an ECDSA curve securesystemslib has no scheme for
        raise KeyProblem(f"cannot use key {path}: {exc}") from None


def load_public_key(path: Path) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
    """An ed25519 or ECDSA public key from a PEM file."""
    data = _read(path)
    try:
        key = load_pem_public_key(data)
    except ValueError:
        raise KeyProblem(f"cannot use key {path}: not a PEM public key") from None
    if not isinstance(key, _PUBLIC_KINDS):
        raise KeyProblem(f"cannot use key {path}: {type(key).__name__} is not ed25519 or ECDSA")
    return key


def sign(payload: bytes, signer: CryptoSigner) -> dict[str, Any]:
    """The DSSE envelope of ``payload`` signed by ``signer``, as JSON-ready data."""
    envelope = Envelope(payload, PAYLOAD_TYPE, {})
    envelope.sign(signer)
    data: dict[str, Any] = envelope.to_dict()
    return data


def open_envelope(data: dict[str, Any]) -> Envelope:
    """The envelope in ``data``; ValueError when it is not one."""
    try:
        envelope = Envelope.from_dict(dict(data, signatures=[dict(s) for s in data["signatures"]]))
    except (KeyError, TypeError, ValueError, FormatError) as exc:
        raise ValueError(f"not a DSSE envelope ({exc})") from None
    if envelope.payload_type != PAYLOAD_TYPE:
        raise ValueError(f"payloadType is {envelope.payload_type!r}, not {PAYLOAD_TYPE}")
    return envelope


def signed_by(envelope: Envelope, public_key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey) -> bool:
    """True when one of the envelope's signatures verifies with ``public_key``."""
    pae, base = envelope.pae(), SSlibKey.from_crypto(public_key)
    for signature in envelope.signatures.values():
        # DSSE's keyid is only a hint: check every signature against the key, whatever it names.
        key = SSlibKey(signature.keyid, base.keytype, base.scheme, base.keyval)
        try:
            key.verify_signature(signature, pae)
        except (UnverifiedSignatureError, VerificationError):
            continue
        return True
    return False
