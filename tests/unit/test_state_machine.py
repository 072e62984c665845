import pytest

from connector.domain.errors import InvalidTransition
from connector.domain.letter import (
    CHANGE_TARGET,
    FINAL,
    TRANSITIONS,
    WITHDRAWABLE,
    ChangeKind,
    State,
    can_transition,
    ensure_transition,
)


def test_every_state_has_a_row():
    assert set(TRANSITIONS) == set(State)


def test_happy_path_of_inbox_approval():
    path = [State.STAGED, State.DELIVERING, State.DELIVERED, State.REGISTERED,
            State.IN_PROGRESS, State.IN_PROGRESS, State.ANSWERED, State.CLOSED]
    for current, target in zip(path, path[1:]):
        assert ensure_transition(current, target) is target


def test_portal_approval_path():
    path = [State.STAGED, State.AWAITING_APPROVAL, State.APPROVED, State.DELIVERING,
            State.REGISTERED]
    for current, target in zip(path, path[1:]):
        assert can_transition(current, target)


@pytest.mark.parametrize("current,target", [
    (State.REGISTERED, State.DELIVERED),      # never back
    (State.ANSWERED, State.IN_PROGRESS),      # a late referral does not reopen
    (State.CLOSED, State.REGISTERED),
    (State.REJECTED, State.REGISTERED),
    (State.DELIVERED, State.STAGED),
    (State.STAGED, State.REGISTERED),         # only through delivery
    (State.AWAITING_APPROVAL, State.DELIVERING),  # portal letters need an approval first
])
def test_forbidden_moves_raise(current, target):
    assert not can_transition(current, target)
    with pytest.raises(InvalidTransition) as err:
        ensure_transition(current, target)
    assert err.value.current == current.value and err.value.target == target.value


def test_final_states_go_nowhere():
    for state in FINAL:
        assert TRANSITIONS[state] == frozenset()


def test_withdraw_only_before_the_organization_has_it():
    assert WITHDRAWABLE == {State.STAGED, State.AWAITING_APPROVAL}
    for state in State:
        assert can_transition(state, State.WITHDRAWN) == (state in WITHDRAWABLE)


def test_dead_letters_can_be_retried_and_failures_can_die():
    assert can_transition(State.DEAD, State.DELIVERING)
    assert can_transition(State.DELIVERY_FAILED, State.DEAD)


def test_every_change_kind_has_a_target_state():
    assert set(CHANGE_TARGET) == set(ChangeKind)
