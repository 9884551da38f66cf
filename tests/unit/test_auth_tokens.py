"""Credentials without a server: JWT verification (HS256, RS256, the usual forgeries), the
API-key format, and the per-user token bucket."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from langgraph_sdk import Auth

from serving import auth, users
from serving.rate_limit import TokenBucket

SECRET = "unit-secret-" + "s" * 40


@pytest.fixture
def jwt_env(monkeypatch):
    for name in ("AGENTDESK_JWT_SECRET", "AGENTDESK_JWT_PUBLIC_KEY", "AGENTDESK_JWT_ISSUER", "AGENTDESK_JWT_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def claims(**extra):
    return {"sub": "dave", "exp": int(time.time()) + 300, **extra}


def test_hs256_token_maps_sub_tenant_and_name(jwt_env):
    jwt_env.setenv("AGENTDESK_JWT_SECRET", SECRET)
    user = auth.verify_jwt(jwt.encode(claims(tenant="acme", name="Dave D"), SECRET, algorithm="HS256"))
    assert (user["identity"], user["tenant"], user["display_name"], user["kind"]) == ("dave", "acme", "Dave D", "jwt")


@pytest.mark.parametrize("case", ["expired", "wrong key", "no exp", "no sub", "garbage", "alg none", "wrong iss", "wrong aud"])
def test_bad_tokens_are_401(jwt_env, case):
    jwt_env.setenv("AGENTDESK_JWT_SECRET", SECRET)
    jwt_env.setenv("AGENTDESK_JWT_ISSUER", "https://idp")
    jwt_env.setenv("AGENTDESK_JWT_AUDIENCE", "agentdesk")
    good = claims(iss="https://idp", aud="agentdesk")
    tokens = {
        "expired": jwt.encode({**good, "exp": int(time.time()) - 120}, SECRET, algorithm="HS256"),
        "wrong key": jwt.encode(good, "other-" + SECRET, algorithm="HS256"),
        "no exp": jwt.encode({k: v for k, v in good.items() if k != "exp"}, SECRET, algorithm="HS256"),
        "no sub": jwt.encode({k: v for k, v in good.items() if k != "sub"}, SECRET, algorithm="HS256"),
        "garbage": "a.b.c",
        "alg none": jwt.encode(good, None, algorithm="none"),
        "wrong iss": jwt.encode({**good, "iss": "https://evil"}, SECRET, algorithm="HS256"),
        "wrong aud": jwt.encode({**good, "aud": "other"}, SECRET, algorithm="HS256"),
    }
    assert auth.verify_jwt(jwt.encode(good, SECRET, algorithm="HS256"))["identity"] == "dave"
    with pytest.raises(Auth.exceptions.HTTPException) as err:
        auth.verify_jwt(tokens[case])
    assert err.value.status_code == 401


def test_rs256_public_key_and_no_algorithm_confusion(jwt_env, tmp_path):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = tmp_path / "pub.pem"
    path.write_bytes(pem)
    jwt_env.setenv("AGENTDESK_JWT_PUBLIC_KEY", str(path))  # a file path works, and so does the PEM text
    assert auth.verify_jwt(jwt.encode(claims(), private, algorithm="RS256"))["identity"] == "dave"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Auth.exceptions.HTTPException):
        auth.verify_jwt(jwt.encode(claims(), other, algorithm="RS256"))
    # HS256 signed with the public key as the secret: the classic confusion attack (built by
    # hand, since PyJWT itself refuses to sign with a PEM as an HMAC secret)
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")  # noqa: E731
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + b"." + b64(json.dumps(claims()).encode())
    forged = (head + b"." + b64(hmac.new(pem, head, hashlib.sha256).digest())).decode()
    with pytest.raises(Auth.exceptions.HTTPException):
        auth.verify_jwt(forged)


def test_jwt_refused_when_not_configured(jwt_env):
    with pytest.raises(Auth.exceptions.HTTPException) as err:
        auth.verify_jwt(jwt.encode(claims(), SECRET, algorithm="HS256"))
    assert err.value.status_code == 401


def test_key_format():
    key_id, key = users.new_key()
    assert users.key_id_of(key) == key_id and key.startswith("agd_") and len(key) > 50
    assert users.new_key()[1] != key
    for bad in ("", "agd_", "agd_short_x", "sk-123", "agd_" + key_id + "_", key + "x" * 300):
        assert users.key_id_of(bad) is None
    assert users.hash_key(key) != users.hash_key(key + "x") and len(users.hash_key(key)) == 64


def test_token_bucket_allows_rate_then_refills():
    bucket = TokenBucket(per_minute=3)
    assert [bucket.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a", now=0.0) == pytest.approx(20.0)  # one token per 20 s
    assert bucket.take("b", now=0.0) == 0.0  # per user
    assert bucket.take("a", now=21.0) == 0.0
    assert bucket.take("a", now=21.0) > 0
