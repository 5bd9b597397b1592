"""How client errors become Temporal retry semantics.

Revoked grants are non-retryable (retrying cannot help, only the user can); throttling retries exactly
after Graph's Retry-After via `next_retry_delay`; everything else retries with the policy's backoff.
Messages are the clients' own, which never contain a token or a secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from temporalio.exceptions import ApplicationError

from graph.errors import GraphError, Throttled
from graph.identity_errors import IdentityError, ReconnectRequired
from payloads.connection import GRANT_REVOKED
from vault.errors import TokenNotFound, VaultStoreError


def grant_revoked(reason: str) -> ApplicationError:
    return ApplicationError(reason, type=GRANT_REVOKED, non_retryable=True)


@contextmanager
def retry_semantics(operation: str) -> Iterator[None]:
    try:
        yield
    except ReconnectRequired as err:
        raise grant_revoked(err.reason) from None
    except TokenNotFound:
        raise grant_revoked("no tokens are stored for this connection; connect the mailbox again") from None
    except Throttled as err:
        delay = timedelta(seconds=err.retry_after) if err.retry_after is not None else None
        raise ApplicationError(
            f"{operation}: Microsoft Graph is throttling this mailbox",
            type="Throttled",
            next_retry_delay=delay,
        ) from None
    except (GraphError, IdentityError, VaultStoreError) as err:
        # `from None`: the client's message is safe, the chained HTTP response might not be.
        raise ApplicationError(f"{operation}: {err}", type=type(err).__name__) from None
