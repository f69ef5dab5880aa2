"""Neural data is personal: encryption at rest.

(De-identification, defacing and private training are to come, issue 12.)

:mod:`neurodl.privacy.crypto` encrypts any file or folder with chunked AES-256-GCM,
keys from a passphrase (Argon2id) or a key file.
"""

from neurodl.privacy.crypto import (
    decrypt_bytes,
    decrypt_path,
    encrypt_bytes,
    encrypt_path,
    generate_key_file,
    read_key_file,
)

__all__ = [
    "decrypt_bytes",
    "decrypt_path",
    "encrypt_bytes",
    "encrypt_path",
    "generate_key_file",
    "read_key_file",
]
