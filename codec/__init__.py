"""The Temporal payload codec: AES-256-GCM over every payload, keys in Vault/OpenBao.

keyring.py     Keyring: the keys by id and which one encrypts; JSON for storage
aes_gcm.py     EncryptionCodec: encrypts/decrypts payloads, reloads the keyring on an unknown key id
converter.py   data_converter(codec): the one data converter every Temporal client uses
vault_keys.py  the service reads the keyring from Vault with its AppRole (read only)
admin.py       operators create and rotate the keyring with a privileged token
__main__.py    `python -m codec init|rotate`
"""

from codec.aes_gcm import EncryptionCodec
from codec.converter import data_converter
from codec.errors import CodecError, InvalidKeyring, KeyringNotFound, PayloadDecryptionFailed, UnknownKeyId
from codec.keyring import Keyring

__all__ = [
    "CodecError",
    "EncryptionCodec",
    "InvalidKeyring",
    "Keyring",
    "KeyringNotFound",
    "PayloadDecryptionFailed",
    "UnknownKeyId",
    "data_converter",
]
