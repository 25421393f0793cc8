"""JwtVerifier remembers the tokens it verified: what that may never change (an expired token is
refused, a refused one is never let in later, the memory stays bounded)."""

from __future__ import annotations

import time

import jwt
import pytest

from adapters.tokens import LEEWAY_SECONDS, VERIFIED_CACHE, InvalidToken, JwtVerifier

SECRET = "s" * 40


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def token(sub: str = "alice", ttl: int = 600, key: str = SECRET) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + ttl}, key, algorithm="HS256")


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    clock = Clock()
    verifier = JwtVerifier(secret=SECRET, clock=clock)
    good = token(ttl=60)
    assert verifier.verify(good).subject == "alice"
    assert verifier.verify(good).subject == "alice"  # remembered
    clock.now += 60 + LEEWAY_SECONDS  # the clock alone moves: only the memory can answer
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(good)


def test_a_refused_token_is_never_let_in_later() -> None:
    verifier = JwtVerifier(secret=SECRET)
    forged = token(key="k" * 40)
    for _ in range(3):
        with pytest.raises(InvalidToken):
            verifier.verify(forged)
    good = token()
    verifier.verify(good)
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    with pytest.raises(InvalidToken):
        verifier.verify(tampered)


def test_the_tokens_remembered_are_bounded_and_the_oldest_still_verify() -> None:
    verifier = JwtVerifier(secret=SECRET)
    tokens = [token(sub=f"user-{i}") for i in range(VERIFIED_CACHE + 50)]
    for t in tokens:
        verifier.verify(t)
    assert len(verifier._verified) == VERIFIED_CACHE
    assert verifier.verify(tokens[0]).subject == "user-0"  # forgotten, so verified again
