"""Keys and tokens as an application would make them, with PyJWT (an independent library):
prints one JSON object with the JWKS documents, the PEM public keys and the tokens
`tests/tokens.rs` checks. Usage: mint_tokens.py NOW HS256_SECRET ISSUER AUDIENCE"""

import base64
import hashlib
import hmac
import json
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

now, secret, issuer, audience = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

ed1, ed2, ed3 = (ed25519.Ed25519PrivateKey.generate() for _ in range(3))
rsa1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
es = ec.generate_private_key(ec.SECP256R1())


def jwk(private, kid):
    public = private.public_key()
    algorithm = {
        ed25519.Ed25519PublicKey: jwt.algorithms.OKPAlgorithm,
        rsa.RSAPublicKey: jwt.algorithms.RSAAlgorithm,
    }
    for kind, algo in algorithm.items():
        if isinstance(public, kind):
            key = algo.to_jwk(public, as_dict=True)
            key["kid"] = kid
            return key
    raise ValueError(kid)


def pem(private):
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def claims(**changes):
    base = {"sub": "ada", "iss": issuer, "aud": audience, "exp": now + 600, "iat": now}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_by_hand(key, payload):
    """An attacker's token: HS256 "signed" with the RSA public key as the secret (PyJWT itself
    refuses to do this)."""
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(payload).encode())
    mac = hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


tokens = {
    "ed": jwt.encode(
        claims(roles=["staff", "uploader"], max_bytes=1000), ed1, "EdDSA", headers={"kid": "ed-1"}
    ),
    "rsa": jwt.encode(claims(sub="rita"), rsa1, "RS256", headers={"kid": "rsa-1"}),
    "ed2": jwt.encode(claims(sub="eddie"), ed2, "EdDSA", headers={"kid": "ed-2"}),
    "ed3": jwt.encode(claims(), ed3, "EdDSA", headers={"kid": "ed-3"}),
    "ed_no_kid": jwt.encode(claims(), ed1, "EdDSA"),
    "es": jwt.encode(claims(sub="esme"), es, "ES256"),
    "rsa_pem": jwt.encode(claims(sub="rita"), rsa1, "RS256"),
    "hs": jwt.encode(claims(), secret, "HS256"),
    "hs_bob": jwt.encode(claims(sub="bob"), secret, "HS256"),
    "hs_narrow": jwt.encode(claims(sub="nora", max_bytes=10), secret, "HS256"),
    "hs_wide": jwt.encode(claims(sub="walt", max_bytes=10**15), secret, "HS256"),
    "hs_many_roles": jwt.encode(claims(roles=[f"role-{n}" for n in range(20)]), secret, "HS256"),
    "within_leeway": jwt.encode(claims(exp=now - 30), secret, "HS256"),
    "expired": jwt.encode(claims(exp=now - 120), secret, "HS256"),
    "not_yet": jwt.encode(claims(nbf=now + 300), secret, "HS256"),
    "wrong_aud": jwt.encode(claims(aud="another-service"), secret, "HS256"),
    "wrong_iss": jwt.encode(claims(iss="https://evil.example"), secret, "HS256"),
    "no_sub": jwt.encode(claims(sub=None), secret, "HS256"),
    "no_exp": jwt.encode(claims(exp=None), secret, "HS256"),
    "wrong_secret": jwt.encode(claims(), "x" * 40, "HS256"),
    "alg_none": jwt.encode(claims(), None, "none"),
    "hs_with_rsa_public_key": hs256_by_hand(pem(rsa1), claims()),
    "garbage": "not.a.token",
}

print(
    json.dumps(
        {
            "jwks_a": {"keys": [jwk(ed1, "ed-1"), jwk(rsa1, "rsa-1")]},
            "jwks_b": {"keys": [jwk(ed1, "ed-1"), jwk(ed2, "ed-2"), jwk(rsa1, "rsa-1")]},
            "es256_pem": pem(es),
            "rsa_pem": pem(rsa1),
            "tokens": tokens,
        }
    )
)
