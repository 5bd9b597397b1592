"""What every route needs, hung on app.state.ctx."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from emulator.jwt_keys import SigningKey
from emulator.settings import EmulatorSettings
from emulator.store import Store

if TYPE_CHECKING:
    from emulator.notifier import Notifier
    from emulator.throttle import Throttle


@dataclass
class Ctx:
    settings: EmulatorSettings
    store: Store
    keys: SigningKey
    notifier: Notifier
    throttle: Throttle


def ctx_of(request: Request) -> Ctx:
    ctx: Ctx = request.app.state.ctx
    return ctx


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")
