"""Fencing an expelled group member out of its transactions.

aiokafka has no generation-aware transactional offset commit (KIP-447): the broker
accepts the offsets of a transaction from any producer, also from a consumer the group
expelled minutes ago. Under CPU load that happens: a member whose event loop is starved
past the session (or rebalance) timeout sends no heartbeat, the coordinator gives its
partitions to another member, which processes the same records from the last committed
offset, and the starved member then wakes up and commits the batch it still holds. Both
outputs are committed: a read_committed reader sees the records twice.

So a transaction asks the coordinator, as its last step before the commit, whether this
member still belongs to the current generation of a stable group (a heartbeat with its
generation and member id). Any answer but "yes" aborts the transaction. A "yes" also
restarts the member's session timer, and partitions move again only after this member
rejoined (its revoke waits for the transaction) or after a full session timeout without
heartbeats, far longer than the commit that follows.
"""

from __future__ import annotations

from typing import Any

import aiokafka.errors as kafka_errors
from aiokafka.protocol.group import HeartbeatRequest

from exos_common.bus.errors import MembershipLost


async def confirm_membership(coordinator: Any) -> None:
    """Raise MembershipLost unless the group coordinator confirms that this member is
    in the current generation of a stable group. `coordinator` is aiokafka's group
    coordinator of the consumer (`AIOKafkaConsumer._coordinator`)."""
    group, generation, member = (
        coordinator.group_id,
        coordinator.generation,
        coordinator.member_id,
    )
    if generation < 0 or not member:
        coordinator.request_rejoin()
        raise MembershipLost(f"not a member of group {group}")
    try:
        response = await coordinator._send_req(HeartbeatRequest(group, generation, member))
    except kafka_errors.KafkaError as exc:
        # Unconfirmed is not confirmed; rejoining resets positions and state.
        coordinator.request_rejoin()
        raise MembershipLost(f"group {group} coordinator unreachable: {exc!r}") from exc
    error = kafka_errors.for_code(response.error_code)
    if error is kafka_errors.NoError:
        return
    if error in (kafka_errors.IllegalGenerationError, kafka_errors.UnknownMemberIdError):
        coordinator.reset_generation()
    else:  # rebalancing, coordinator moved: the partitions may be about to move
        coordinator.request_rejoin()
    raise MembershipLost(
        f"group {group} refused generation {generation} of member {member}: {error.__name__}"
    )
