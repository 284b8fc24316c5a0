"""Account events that a lower layer reports and a higher one delivers.

`quotas` records a crossed quota threshold but sits below `webhooks`, so it
cannot call the webhook emitter itself. `webhooks` registers its emitter here
once, when the app loads (WebhooksConfig.ready), and `quotas` publishes the
event with its data. One explicit registration, no signals; with no receiver
(an installation without the webhooks app) the event is simply not delivered.
"""

from __future__ import annotations

from typing import Protocol


class AccountEventReceiver(Protocol):
    def __call__(self, account, *, livemode: bool, event_type: str, data: dict): ...


_receivers: list[AccountEventReceiver] = []


def register_account_event_receiver(receiver: AccountEventReceiver) -> None:
    if receiver not in _receivers:
        _receivers.append(receiver)


def publish_account_event(account, *, livemode: bool, event_type: str, data: dict) -> None:
    """Hands the event to every receiver, in the caller's transaction (the
    webhooks outbox writes its rows there and queues deliveries on commit)."""
    for receiver in _receivers:
        receiver(account, livemode=livemode, event_type=event_type, data=data)
