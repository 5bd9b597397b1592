"""Background upkeep: reauthorizationRequired before a subscription's authorization lapses, silent removal
of expired subscriptions, loss of notifications held too long (`missed`), token cleanup."""

from __future__ import annotations

import asyncio
import logging
import time

from emulator.models import Subscription
from emulator.notifier import Notifier
from emulator.store import Store

log = logging.getLogger("emulator.sweeper")


def remove_subscription(store: Store, notifier: Notifier, sub: Subscription, notify: bool = True) -> None:
    """Graph removing a subscription (e.g. access conditions changed): `subscriptionRemoved` when notify.
    Held notifications go with it, without `missed`: the subscription they belonged to is gone, and
    subscriptionRemoved already asks for a new subscription and a delta resync."""
    with store.lock:
        store.state.subscriptions.pop(sub.id, None)
        store.changed()
    if notify:
        notifier.send_lifecycle(sub, "subscriptionRemoved")
    notifier.drop_held(sub, notify_missed=False)


def require_reauthorization(store: Store, notifier: Notifier, sub: Subscription, now: bool = False) -> None:
    with store.lock:
        if now:
            sub.authorized_until = min(sub.authorized_until, time.time())
        sub.reauth_sent = True
        store.changed()
    notifier.send_lifecycle(sub, "reauthorizationRequired")


def sweep_once(store: Store, notifier: Notifier) -> None:
    s = store.settings
    now = time.time()
    for sub in list(store.state.subscriptions.values()):
        if sub.expires <= now:
            # Microsoft's lifecycle docs send subscriptionRemoved when Graph removes a live subscription,
            # not when one simply expires unrenewed: that one just disappears (see README.md).
            remove_subscription(store, notifier, sub, notify=False)
            continue
        if not sub.reauth_sent and now >= sub.authorized_until - s.reauthorization_lead_seconds:
            require_reauthorization(store, notifier, sub)
        if sub.id in notifier.held:
            notifier.drop_held(sub, older_than=now - s.paused_loss_seconds)
    with store.lock:
        st = store.state
        for code in [c for c, v in st.auth_codes.items() if v.expires < now - 3600]:
            st.auth_codes.pop(code, None)
        for tok in [t for t, v in st.access_tokens.items() if v.expires < now - 86400]:
            st.access_tokens.pop(tok, None)


async def run_sweeper(store: Store, notifier: Notifier) -> None:
    while True:
        await asyncio.sleep(store.settings.sweep_interval_seconds)
        try:
            sweep_once(store, notifier)
        except Exception:  # one bad sweep must not end upkeep for the life of the process
            log.exception("sweep failed")
