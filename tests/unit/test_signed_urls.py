"""The signer alone: what a URL binds, how long it lives, and that nothing else verifies."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entrypoints.http.signed_urls import UNSIGNED, MediaUrlSigner

KEY = "k" * 40
OLD_KEY = "o" * 40
PATH = "/api/v1/media/files/0b6e7d1c-5d0e-4f57-9b9a-5f4b6b0c2f11.png"
NOW = 1_800_000_123


def signer(now: float = NOW, **kwargs: object) -> MediaUrlSigner:
    return MediaUrlSigner(KEY, clock=lambda: now, **kwargs)  # type: ignore[arg-type]


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def verify(s: MediaUrlSigner, url: str, path: str | None = None) -> str | None:
    params = query_of(url)
    grant = s.verify(path or urlsplit(url).path, lambda name: params.get(name, []))
    return None if grant is None else grant.viewer


def test_a_signed_url_names_its_viewer_and_verifies_for_its_path_alone() -> None:
    url = signer().for_viewer("alice").link(PATH)
    assert url.startswith(PATH + "?exp=")
    assert query_of(url)["u"] == ["alice"]
    assert verify(signer(), url) == "alice"
    assert verify(signer(), url, path=PATH.replace(".png", ".jpg")) is None
    assert verify(signer(), url, path="/api/v1/media/0b6e7d1c-5d0e-4f57-9b9a-5f4b6b0c2f11/thumbnail") is None


def test_the_expiry_is_rounded_to_the_window_so_one_viewer_gets_one_url_for_a_while() -> None:
    first = signer(now=NOW).for_viewer("alice")
    later = signer(now=NOW + 30).for_viewer("alice")
    assert first.link(PATH) == later.link(PATH)
    exp = int(query_of(first.link(PATH))["exp"][0])
    assert exp % 3600 == 0
    assert NOW + 3600 <= exp < NOW + 2 * 3600  # at least the TTL, less than the TTL and a window
    assert first.expires_at is not None
    assert int(first.expires_at.timestamp()) == exp
    assert signer(now=exp).for_viewer("alice").link(PATH) != first.link(PATH)  # the next window


def test_an_expired_url_verifies_no_more() -> None:
    url = signer(now=NOW).for_viewer("alice").link(PATH)
    exp = int(query_of(url)["exp"][0])
    assert verify(signer(now=exp - 1), url) == "alice"
    assert verify(signer(now=exp), url) is None


def test_a_remembered_url_still_expires_and_binds_its_path() -> None:
    now = [float(NOW)]
    one = MediaUrlSigner(KEY, clock=lambda: now[0])
    url = one.for_viewer("alice").link(PATH)
    assert verify(one, url) == "alice"
    assert verify(one, url) == "alice"  # the second time from what it remembers
    assert verify(one, url, path=PATH.replace(".png", ".jpg")) is None
    tampered = url.replace("u=alice", "u=mallory")
    assert verify(one, tampered) is None
    now[0] = int(query_of(url)["exp"][0])
    assert verify(one, url) is None


def test_another_key_signs_nothing_we_accept_and_the_previous_one_is_accepted() -> None:
    old = MediaUrlSigner(OLD_KEY, clock=lambda: NOW).for_viewer("alice").link(PATH)
    assert verify(signer(), old) is None
    assert verify(signer(previous=OLD_KEY), old) == "alice"
    # What the rotated signer hands out now is signed with the new key.
    fresh = signer(previous=OLD_KEY).for_viewer("alice").link(PATH)
    assert verify(signer(), fresh) == "alice"
    assert verify(MediaUrlSigner(OLD_KEY, clock=lambda: NOW), fresh) is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda q: {**q, "u": ["bob"]},
        lambda q: {**q, "exp": [str(int(q["exp"][0]) + 3600)]},
        lambda q: {**q, "exp": ["0" + q["exp"][0]]},  # the same number, spelled otherwise
        lambda q: {**q, "sig": [q["sig"][0][:-1]]},
        lambda q: {**q, "sig": [q["sig"][0][:-1] + ("A" if q["sig"][0][-1] != "A" else "B")]},
        lambda q: {**q, "sig": [q["sig"][0] + "="]},
        lambda q: {**q, "sig": ["é" * 43]},
        lambda q: {k: v for k, v in q.items() if k != "sig"},
        lambda q: {k: v for k, v in q.items() if k != "exp"},
        lambda q: {k: v for k, v in q.items() if k != "u"},
        lambda q: {**q, "sig": q["sig"] * 2},
        lambda q: {**q, "u": q["u"] * 2},
        lambda q: {**q, "exp": q["exp"] * 2},
        lambda q: {**q, "u": [""]},
        lambda q: {**q, "exp": ["-1"]},
    ],
    ids=[
        "viewer",
        "expiry",
        "expiry-zero-padded",
        "sig-truncated",
        "sig-changed",
        "sig-padded",
        "sig-not-ascii",
        "no-sig",
        "no-exp",
        "no-u",
        "sig-twice",
        "u-twice",
        "exp-twice",
        "u-empty",
        "exp-negative",
    ],
)
def test_any_change_to_the_query_verifies_nothing(tamper: object) -> None:
    s = signer()
    params = query_of(s.for_viewer("alice").link(PATH))
    changed = tamper(params)  # type: ignore[operator]
    assert s.verify(PATH, lambda name: changed.get(name, [])) is None


@given(viewer=st.text(min_size=1, max_size=255).filter(lambda v: "\x00" not in v))
def test_any_user_id_round_trips_through_the_query(viewer: str) -> None:
    s = signer()
    assert verify(s, s.for_viewer(viewer).link(PATH)) == viewer


def test_viewer_and_path_cannot_trade_bytes() -> None:
    """Length-prefixed fields: 'ab' viewing '/c' is not 'a' viewing 'b/c'."""
    s = signer()
    params = query_of(s.for_viewer("ab").link("/c"))
    moved = {**params, "u": ["a"]}
    assert s.verify("b/c", lambda name: moved.get(name, [])) is None


def test_a_grant_lets_a_browser_keep_the_answer_until_the_url_expires_and_no_longer() -> None:
    s = signer()
    params = query_of(s.for_viewer("alice").link(PATH))
    grant = s.verify(PATH, lambda name: params.get(name, []))
    assert grant is not None
    assert grant.max_age(now=grant.expires_at - 100, ceiling=86_400) == 100
    assert grant.max_age(now=grant.expires_at - 100_000, ceiling=86_400) == 86_400
    assert grant.max_age(now=grant.expires_at + 5, ceiling=86_400) == 0


def test_the_plain_links_are_the_paths_and_expire_never() -> None:
    assert UNSIGNED.link(PATH) == PATH
    assert UNSIGNED.expires_at is None


def test_a_lifetime_past_a_week_is_refused() -> None:
    with pytest.raises(ValueError, match="lifetime"):
        MediaUrlSigner(KEY, ttl=7 * 86_400 + 1)
