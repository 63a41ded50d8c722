"""The one place a check-in's note is sealed for storage and opened again.

ENCRYPTION SEAM: the platform has no crypto module yet, so a note is stored as plain UTF-8
behind a one-byte format marker (0x00). When `platform.crypto` lands, `seal_note` encrypts
(another marker, then the ciphertext, bound to `owner_id`) and `open_note` decrypts by marker;
notes already stored as 0x00 stay readable, and the column (bytea) needs no migration.
"""

from __future__ import annotations

import uuid

PLAIN = b"\x00"


class UnreadableNote(ValueError):
    """Stored bytes in a format this build does not know."""


def seal_note(owner_id: uuid.UUID, note: str) -> bytes:
    return PLAIN + note.encode()


def open_note(owner_id: uuid.UUID, sealed: bytes) -> str:
    if sealed[:1] == PLAIN:
        return sealed[1:].decode()
    raise UnreadableNote(f"note format {sealed[:1]!r} is not known")
