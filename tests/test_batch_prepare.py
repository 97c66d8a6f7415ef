"""A record formed into a batch passes the same gates as a single transfer (over fakes: no server)."""

from __future__ import annotations

from types import SimpleNamespace

from nue_ns import batches, profile, validation


def test_a_batched_record_reads_the_account_profile_before_it_is_mapped(monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(profile, "gate", lambda *_a: seen.append("profile") or "deferred")
    monkeypatch.setattr(validation, "gate", lambda *_a: seen.append("validation"))
    monkeypatch.setattr(batches.mapping, "build", lambda *_a: seen.append("build"))
    rec = SimpleNamespace(id=1, integration_id=3, record_type="customer", nue_id="C1")
    conn = SimpleNamespace(profile=None, config=None)
    assert batches._prepare(SimpleNamespace(), conn, rec, object(), [], {}) is None
    assert seen == ["profile"]  # held (another worker reads it): neither validated nor mapped yet


def test_a_batched_record_is_mapped_under_the_profile_just_read(monkeypatch):
    fresh = SimpleNamespace(profile="read", config="cfg")
    built: list[object] = []
    monkeypatch.setattr(profile, "gate", lambda *_a: None)
    monkeypatch.setattr(validation, "gate", lambda *_a: None)
    monkeypatch.setattr(
        batches.mapping, "build", lambda _t, _c, config, _r, prof: built.append((config, prof))
    )
    ctx = SimpleNamespace(connection=lambda _id: fresh)
    rec = SimpleNamespace(id=1, integration_id=3, record_type="customer", nue_id="C1")
    batches._prepare(ctx, SimpleNamespace(profile=None, config="stale"), rec, object(), [], {})
    assert built == [("cfg", "read")]
