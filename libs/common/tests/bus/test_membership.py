"""The membership check that ends every transaction: each coordinator answer maps to
go on, or abort and rejoin. The coordinator here stands in for aiokafka's group
coordinator (its answers are what a broker sends); the real broker cases are in
test_kafka_zombie.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiokafka.errors as kafka_errors
import pytest

from exos_common.bus.errors import CommitFailed, MembershipLost
from exos_common.bus.membership import confirm_membership


@dataclass
class Answer:
    error_code: int


@dataclass
class Coordinator:
    answer: int | Exception = 0
    group_id: str = "enrich"
    generation: int = 7
    member_id: str = "enrich-a-1"
    sent: list[Any] = field(default_factory=list)
    rejoin_requested: bool = False
    generation_reset: bool = False

    async def _send_req(self, request: Any) -> Answer:
        self.sent.append(request)
        if isinstance(self.answer, Exception):
            raise self.answer
        return Answer(self.answer)

    def request_rejoin(self) -> None:
        self.rejoin_requested = True

    def reset_generation(self) -> None:
        self.generation_reset = self.rejoin_requested = True


async def test_a_member_of_the_current_generation_goes_on() -> None:
    coordinator = Coordinator(answer=0)
    await confirm_membership(coordinator)
    [request] = coordinator.sent
    assert (request._group, request._generation_id, request._member_id) == (
        "enrich",
        7,
        "enrich-a-1",
    )
    assert not coordinator.rejoin_requested


@pytest.mark.parametrize(
    "error", [kafka_errors.UnknownMemberIdError, kafka_errors.IllegalGenerationError]
)
async def test_an_expelled_member_is_refused_and_resets_its_generation(error: Any) -> None:
    coordinator = Coordinator(answer=error.errno)
    with pytest.raises(MembershipLost, match=error.__name__):
        await confirm_membership(coordinator)
    assert coordinator.generation_reset


@pytest.mark.parametrize(
    "error",
    [
        kafka_errors.RebalanceInProgressError,
        kafka_errors.NotCoordinatorForGroupError,
        kafka_errors.GroupCoordinatorNotAvailableError,
    ],
)
async def test_a_rebalance_or_a_moved_coordinator_aborts_and_rejoins(error: Any) -> None:
    coordinator = Coordinator(answer=error.errno)
    with pytest.raises(MembershipLost):
        await confirm_membership(coordinator)
    assert coordinator.rejoin_requested and not coordinator.generation_reset


async def test_an_unreachable_coordinator_is_not_a_confirmation() -> None:
    coordinator = Coordinator(answer=kafka_errors.KafkaConnectionError("gone"))
    with pytest.raises(MembershipLost, match="unreachable"):
        await confirm_membership(coordinator)
    assert coordinator.rejoin_requested


@pytest.mark.parametrize(("generation", "member"), [(-1, ""), (-1, "enrich-a-1"), (3, "")])
async def test_a_member_without_generation_is_refused_without_asking(
    generation: int, member: str
) -> None:
    coordinator = Coordinator(generation=generation, member_id=member)
    with pytest.raises(MembershipLost, match="not a member"):
        await confirm_membership(coordinator)
    assert coordinator.sent == [] and coordinator.rejoin_requested


def test_membership_lost_is_a_refused_commit() -> None:
    assert issubclass(MembershipLost, CommitFailed)
