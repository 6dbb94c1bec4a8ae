"""Byte budgets per client address and in total, alone and inside a session's state."""

from __future__ import annotations

import pytest

from realtime.exceptions import BufferFull, OverBudget
from realtime.protocol.budget import Budgets
from realtime.protocol.session import SessionState


def test_an_address_holds_at_most_its_budget() -> None:
    budgets = Budgets()
    ada = budgets.join("10.0.0.1", limit=100, total=None)
    assert ada.fits(100)
    ada.charge(60)
    assert ada.fits(40) and not ada.fits(41)
    assert "max_client_bytes" in ada.refusal(41)
    ada.charge(-60)
    assert ada.fits(10_000)  # an address that holds nothing takes any one message


def test_the_total_bounds_every_address_together() -> None:
    budgets = Budgets()
    ada = budgets.join("10.0.0.1", limit=100, total=150)
    bob = budgets.join("10.0.0.2", limit=100, total=150)
    ada.charge(100)
    bob.charge(40)
    assert bob.fits(10) and not bob.fits(11)
    assert "max_total_bytes" in bob.refusal(11)
    assert budgets.held() == 140 and budgets.held("10.0.0.2") == 40


def test_an_address_is_forgotten_with_its_last_session() -> None:
    budgets = Budgets()
    first = budgets.join("10.0.0.1", 100, None)
    budgets.join("10.0.0.1", 100, None)
    first.charge(30)
    budgets.leave("10.0.0.1", held=10)
    assert (budgets.sessions("10.0.0.1"), budgets.held("10.0.0.1")) == (1, 20)
    budgets.leave("10.0.0.1", held=20)
    assert (len(budgets), budgets.held()) == (0, 0)


def state_of(budgets: Budgets, client: str) -> SessionState:
    budget = budgets.join(client, limit=100, total=None)
    return SessionState(now=0.0, max_queue=None, max_buffer_bytes=None, budget=budget)


def test_a_session_charges_and_frees_its_address_both_ways() -> None:
    budgets = Budgets()
    one, two = state_of(budgets, "10.0.0.1"), state_of(budgets, "10.0.0.1")
    one.push("x" * 50, 50)
    one.deliver(1, "y" * 30, 30, 0.0)
    assert (one.held, budgets.held("10.0.0.1")) == (80, 80)
    assert two.has_room(20) and not two.has_room(21)
    with pytest.raises(BufferFull, match="max_client_bytes"):
        two.push("z" * 21, 21)
    with pytest.raises(OverBudget, match="max_client_bytes"):
        two.deliver(1, "z" * 21, 21, 0.0)
    assert two.inbound.received == 0  # not taken: the client sends it again
    one.ack(1)
    assert one.take() == "y" * 30
    assert budgets.held("10.0.0.1") == 0
    two.push("z" * 21, 21)
    two.deliver(1, "z" * 21, 21, 0.0)
    assert budgets.held("10.0.0.1") == 42


def test_attach_frees_what_it_acknowledges() -> None:
    budgets = Budgets()
    state = state_of(budgets, "10.0.0.1")
    state.push("a" * 10, 10)
    state.push("b" * 10, 10)
    state.attach("c1", "websocket", 1, 0.0)
    assert budgets.held("10.0.0.1") == 10
