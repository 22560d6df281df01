"""Compact JWS (JWT) signing and verification, RS256 and ES256, with JWKS export/import.

The simulator signs its own access tokens (as Entra ID does) and the federated service-account tokens that
workload identity exchanges (as a Kubernetes OIDC issuer does). Hand-rolled on `cryptography` to keep the
verification path fast and free of extra dependencies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature


class TokenError(Exception):
    """Why a token is not acceptable; `reason` is one of malformed, signature, expired, not_yet_valid, claims."""

    def __init__(self, reason: str, message: str, claims: dict[str, Any] | None = None):
        super().__init__(message)
        self.reason = reason
        self.claims = claims or {}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _b64_int(text: str) -> int:
    return int.from_bytes(b64url_decode(text), "big")


class Signer:
    """One signing key. Key generation and loading are blocking: do them in a worker thread from async code."""

    def __init__(self, algorithm: str = "RS256", key=None):
        if key is not None:
            self._key = key
        elif algorithm == "RS256":
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif algorithm == "ES256":
            self._key = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError(f"unsupported algorithm {algorithm}")
        self.algorithm = algorithm
        self.verifier = Verifier.from_public_key(self._key.public_key(), algorithm)
        self.kid = self.verifier.kid

    @classmethod
    def load_or_create(cls, path: str | os.PathLike | None, algorithm: str) -> "Signer":
        """Keep the key in `path` when given, so tokens issued before a restart stay valid after it."""
        if path is None:
            return cls(algorithm)
        file = Path(path)
        if file.exists():
            return cls(algorithm, serialization.load_pem_private_key(file.read_bytes(), password=None))
        signer = cls(algorithm)
        pem = signer._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return signer

    def sign(self, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
        head = {"typ": "JWT", "alg": self.algorithm, "kid": self.kid, **(header or {})}
        signing_input = f"{b64url(json.dumps(head, separators=(',', ':')).encode())}." \
                        f"{b64url(json.dumps(claims, separators=(',', ':')).encode())}"
        data = signing_input.encode("ascii")
        if self.algorithm == "RS256":
            signature = self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{b64url(signature)}"


class Verifier:
    """Verifies signatures of one public key; built from a key or a JWK."""

    def __init__(self, public_key, algorithm: str, kid: str):
        self.public_key = public_key
        self.algorithm = algorithm
        self.kid = kid

    @classmethod
    def from_public_key(cls, public_key, algorithm: str) -> "Verifier":
        jwk = _public_jwk(public_key)
        kid = b64url(hashlib.sha256(json.dumps(jwk, sort_keys=True).encode()).digest()[:16])
        return cls(public_key, algorithm, kid)

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any]) -> "Verifier":
        if jwk.get("kty") == "RSA":
            key = rsa.RSAPublicNumbers(_b64_int(jwk["e"]), _b64_int(jwk["n"])).public_key()
            return cls(key, jwk.get("alg", "RS256"), jwk.get("kid", ""))
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            key = ec.EllipticCurvePublicNumbers(_b64_int(jwk["x"]), _b64_int(jwk["y"]), ec.SECP256R1()).public_key()
            return cls(key, jwk.get("alg", "ES256"), jwk.get("kid", ""))
        raise ValueError(f"unsupported JWK {jwk.get('kty')}/{jwk.get('crv')}")

    def jwk(self) -> dict[str, Any]:
        return {**_public_jwk(self.public_key), "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def check_signature(self, signing_input: bytes, signature: bytes) -> bool:
        try:
            if self.algorithm == "RS256":
                self.public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
            else:
                if len(signature) != 64:
                    return False
                der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
                self.public_key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
            return True
        except InvalidSignature:
            return False


def _public_jwk(public_key) -> dict[str, Any]:
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        return {"kty": "RSA", "n": _int_b64(numbers.n), "e": _int_b64(numbers.e)}
    numbers = public_key.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big")), "y": b64url(numbers.y.to_bytes(32, "big"))}


def unverified_claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) without checking anything: used to pick the key and to explain rejections."""
    try:
        head, body, _sig = token.split(".")
        return json.loads(b64url_decode(head)), json.loads(b64url_decode(body))
    except (ValueError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TokenError("malformed", "The token is not a well-formed JWT.") from exc


def verify(token: str, verifiers: list[Verifier], *, leeway_s: float = 0.0, now: float | None = None) -> dict[str, Any]:
    """Signature, then time validity. Audience/issuer checks are the caller's, who knows what it expects."""
    header, claims = unverified_claims(token)
    signing_input, _, sig_text = token.rpartition(".")
    try:
        signature = b64url_decode(sig_text)
    except ValueError as exc:
        raise TokenError("malformed", "The token signature is not base64url.") from exc
    candidates = [v for v in verifiers if v.algorithm == header.get("alg") and (not header.get("kid") or v.kid == header["kid"])]
    if not any(v.check_signature(signing_input.encode("ascii"), signature) for v in candidates):
        raise TokenError("signature", "The token signature is invalid.", claims)
    moment = time.time() if now is None else now
    if "exp" in claims and float(claims["exp"]) + leeway_s <= moment:
        raise TokenError("expired", "The token is expired.", claims)
    if "nbf" in claims and float(claims["nbf"]) - leeway_s > moment:
        raise TokenError("not_yet_valid", "The token is not yet valid.", claims)
    return claims
