"""`python -m codec init|rotate`: create or rotate the payload codec's keyring in Vault/OpenBao.

    init     stores a new random keyring when there is none (make run's OpenBao setup does this itself)
    rotate   adds a new random key and makes it current; payloads under older keys still decode

Each prints only a key id (the current one, or the new one) on stdout. The token comes from VAULT_TOKEN
(an operator's token allowed to write <VAULT_KV_MOUNT>/data/temporal-codec/keys), else the root token
`make run` keeps in <DATA_DIR>/openbao/init.json. Vault's address, mount and CA come from the settings.

Running workers and API processes keep encrypting under the key that was current when they loaded the
keyring, and reload it when they meet a newer key id; restart them to encrypt under the new key.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import hvac
from hvac.exceptions import VaultError
from requests.exceptions import RequestException

from codec.admin import ensure_keyring, rotate_keyring
from codec.errors import CodecError
from config.settings import Settings, get_settings
from stack.config import StackPaths
from stack.openbao_setup import InitKeys, read_json


def operator_token(settings: Settings) -> str:
    token = os.environ.get("VAULT_TOKEN", "")
    if token:
        return token
    init_path = StackPaths(settings.data_dir).openbao / "init.json"
    stored = read_json(init_path)
    if stored is None:
        raise CodecError(f"set VAULT_TOKEN (no {init_path} from make run's OpenBao either)")
    return InitKeys.model_validate(stored).root_token


def vault_admin_client(settings: Settings) -> hvac.Client:
    verify: str | bool = str(settings.vault_ca_bundle) if settings.vault_ca_bundle else True
    return hvac.Client(url=settings.vault_addr, token=operator_token(settings), verify=verify, timeout=30)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m codec", description="Create or rotate the payload codec keyring in Vault."
    )
    parser.add_argument("command", choices=["init", "rotate"])
    args = parser.parse_args(argv)
    settings = get_settings()
    mount = settings.vault_kv_mount
    try:
        client = vault_admin_client(settings)
        if args.command == "init":
            print(ensure_keyring(client, mount).current)
        else:
            print(rotate_keyring(client, mount).current)
            print(
                "rotated: restart the workers and API processes to encrypt under the new key "
                "(they decode it already)",
                file=sys.stderr,
            )
    except CodecError as exc:
        print(f"codec {args.command}: {exc}", file=sys.stderr)
        return 1
    except (VaultError, RequestException) as exc:
        # hvac's message is Vault's response text: keep only the kind.
        print(
            f"codec {args.command}: Vault refused or did not answer ({type(exc).__name__})", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
