"""The one place a check-in's note is sealed for storage and opened again.

Notes are sealed with the person's data key (`platform.crypto`), bound to the check-in's id
and the owner, like journal entries: a dump shows no note, a note moved to another row or
person does not open, and erasing the person's key shreds every note. Notes written before
encryption (a 0x00 marker, then UTF-8) still open; the crypto format starts with 0x01.
"""

from __future__ import annotations

import uuid

from mindspace.platform.crypto import DataKey

PLAIN = b"\x00"
PURPOSE = "mood_checkin.note"


def seal_note(key: DataKey, checkin_id: uuid.UUID, note: str) -> bytes:
    return key.seal_text(note, purpose=PURPOSE, row_id=checkin_id)


def open_note(key: DataKey | None, checkin_id: uuid.UUID, sealed: bytes) -> str | None:
    """The note, or None once the person's key is shredded (the rest of the check-in stays).
    A note moved or tampered with raises `DecryptionError`: never someone else's words."""
    if sealed[:1] == PLAIN:
        return sealed[1:].decode()
    if key is None:
        return None
    return key.open_text(sealed, purpose=PURPOSE, row_id=checkin_id)
