"""check_vault_login (activities/health.py) against the tests' OpenBao: the worker's AppRole logs in, and
the token it got for the check is revoked at once."""

from __future__ import annotations

import hvac
import pytest
from pydantic import SecretStr
from temporalio.testing import ActivityEnvironment

from activities.health import HealthActivities
from config.settings import Settings
from stack.openbao import OpenBaoServer
from stack.openbao_setup import POLICY_NAME
from vault.errors import VaultLoginFailed


def token_accessors(openbao: OpenBaoServer) -> set[str]:
    root = hvac.Client(url=openbao.addr, token=openbao.root_token)
    return set(root.list("auth/token/accessors")["data"]["keys"])


async def test_check_vault_login_reports_the_policy_and_leaves_no_token(
    activity_settings: Settings, openbao: OpenBaoServer
) -> None:
    before = token_accessors(openbao)

    check = await ActivityEnvironment().run(HealthActivities(activity_settings).check_vault_login)

    assert POLICY_NAME in check.policies
    assert check.ttl_seconds > 0
    assert token_accessors(openbao) <= before


async def test_check_vault_login_with_a_wrong_secret_fails(activity_settings: Settings) -> None:
    wrong = activity_settings.model_copy(update={"vault_secret_id": SecretStr("not-the-secret-id")})

    with pytest.raises(VaultLoginFailed):
        await ActivityEnvironment().run(HealthActivities(wrong).check_vault_login)
