"""Envelope encryption of personal data at rest: one data key per person, wrapped by a master key.

- Each person has one random AES-256 data key, stored only wrapped (AES-256-GCM) by a master key
  from settings (`MINDSPACE_MASTER_KEYS`), with the master key's id beside it. A database dump
  without the master keys holds no readable key and no readable text.
- Every sealed value is bound (GCM associated data) to its purpose, its row and its owner, so a
  ciphertext copied onto another row, into another column or to another person does not open.
- Rotation re-wraps the data keys (`Vault.rotate`, `mindspace rotate-master-key`); the sealed
  values never change. Roll a new master key out in three steps: add it last everywhere (every
  process can unwrap with it), then move it first (it wraps), then rotate; remove the old one
  only after that.
- Crypto-shredding: deleting a person's data key row (`shred`, or the account erasure through
  its ON DELETE CASCADE) leaves every value sealed with it unrecoverable, backups included.

Unwrapped data keys are not cached. Unwrapping is one AES-GCM operation on 32 bytes (a few
microseconds) and the wrapped key arrives in the same query as the rows it opens, so a cache
would save almost nothing, while it would keep plaintext keys in memory beyond the request that
needed them and let a shredded key live on in every process that had it cached.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import uuid
import weakref
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import ForeignKey, Index, LargeBinary, String, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mindspace.platform.clock import utc_now
from mindspace.platform.config import Settings
from mindspace.platform.db import USER_TABLE, Base, Database, DbScope, OwnedMixin, ReadConnection

KEY_BYTES = 32
_NONCE_BYTES = 12
_SEALED_FORMAT = b"\x01"  # room to change the layout without guessing at old values
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PURPOSE = re.compile(r"^[a-z0-9_.:-]{1,80}$")


class DecryptionError(Exception):
    """A sealed value did not open: moved to another row or person, tampered with, or sealed
    under a key that no longer exists (shredded)."""


class UnknownMasterKey(DecryptionError):
    """A data key is wrapped by a master key this process was not given."""


class UserDataKey(OwnedMixin, Base):
    """A person's data key, wrapped. One row a person, made on their first sealed value."""

    __tablename__ = "user_data_key"
    # Rotation looks for the keys not yet under the active master key.
    __table_args__ = (Index("ix_user_data_key_master_key_id", "master_key_id"),)

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), primary_key=True
    )
    master_key_id: Mapped[str] = mapped_column(String(64))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    rotated_at: Mapped[datetime | None]


class MasterKeys:
    """The master keys a process holds, the first of which wraps."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("at least one master key is needed")
        for key_id, key in keys:
            if not _KEY_ID.match(key_id):
                raise ValueError(f"master key id {key_id!r} must match {_KEY_ID.pattern}")
            if len(key) != KEY_BYTES:
                raise ValueError(f"master key {key_id!r} must be {KEY_BYTES} bytes")
        self.active_id = keys[0][0]
        self._aeads = {key_id: AESGCM(key) for key_id, key in keys}

    @classmethod
    def from_settings(cls, settings: Settings) -> MasterKeys:
        if not settings.master_keys:
            return cls([development_master_key(settings.data_dir / "keys")])
        keys = []
        for key_id, encoded in settings.master_keys.items():
            try:
                keys.append((key_id, base64.b64decode(encoded.get_secret_value(), validate=True)))
            except (binascii.Error, ValueError):
                raise ValueError(f"master key {key_id!r} is not valid base64") from None
        return cls(keys)

    def knows(self, key_id: str) -> bool:
        return key_id in self._aeads

    def wrap(self, owner_id: uuid.UUID, data_key: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aeads[self.active_id].encrypt(
            nonce, data_key, _wrap_context(owner_id, self.active_id)
        )
        return self.active_id, nonce + sealed

    def unwrap(self, owner_id: uuid.UUID, key_id: str, wrapped: bytes) -> bytes:
        aead = self._aeads.get(key_id)
        if aead is None:
            raise UnknownMasterKey(f"data key wrapped by unknown master key {key_id!r}")
        try:
            return aead.decrypt(
                wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], _wrap_context(owner_id, key_id)
            )
        except InvalidTag:
            raise DecryptionError("data key does not unwrap") from None


def _wrap_context(owner_id: uuid.UUID, key_id: str) -> bytes:
    # A wrapped key copied onto another person's row does not unwrap.
    return b"mindspace/data-key|" + owner_id.bytes + b"|" + key_id.encode()


def development_master_key(directory: Path) -> tuple[str, bytes]:
    """A master key kept under the data folder, so a developer's journal survives a restart.
    Created atomically: the API and the worker of `serve` may both start at once."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "master-key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as out:
            out.write(base64.b64encode(os.urandom(KEY_BYTES)))
    key = base64.b64decode(path.read_bytes().strip())
    # The id names the key without revealing it, and is the same whenever the file is.
    return "dev-" + hashlib.sha256(key).hexdigest()[:12], key


class DataKey:
    """One person's unwrapped data key, for one unit of work. Seals and opens their values."""

    __slots__ = ("_aead", "_raw", "owner_id")

    def __init__(self, owner_id: uuid.UUID, raw: bytes) -> None:
        self.owner_id = owner_id
        self._raw = raw
        self._aead = AESGCM(raw)

    def seal(self, plaintext: bytes, *, purpose: str, row_id: uuid.UUID) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        context = self._context(purpose, row_id)
        return _SEALED_FORMAT + nonce + self._aead.encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, *, purpose: str, row_id: uuid.UUID) -> bytes:
        if sealed[:1] != _SEALED_FORMAT:
            raise DecryptionError("unknown sealed-value format")
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, self._context(purpose, row_id))
        except InvalidTag:
            raise DecryptionError(f"{purpose} of {row_id} does not open") from None

    def seal_text(self, text: str, *, purpose: str, row_id: uuid.UUID) -> bytes:
        return self.seal(text.encode(), purpose=purpose, row_id=row_id)

    def open_text(self, sealed: bytes, *, purpose: str, row_id: uuid.UUID) -> str:
        return self.open(sealed, purpose=purpose, row_id=row_id).decode()

    def subkey(self, label: str) -> bytes:
        """A key derived for one use (a blind index, say): shredded with the data key, and
        useless for opening anything."""
        if not _PURPOSE.match(label):
            raise ValueError(f"label {label!r} must match {_PURPOSE.pattern}")
        return HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_BYTES,
            salt=None,
            info=b"mindspace/" + label.encode(),
        ).derive(self._raw)

    def _context(self, purpose: str, row_id: uuid.UUID) -> bytes:
        if not _PURPOSE.match(purpose):
            raise ValueError(f"purpose {purpose!r} must match {_PURPOSE.pattern}")
        return purpose.encode() + b"|" + row_id.bytes + b"|" + self.owner_id.bytes


_DATA_KEY_SQL = "SELECT master_key_id, wrapped_key FROM user_data_key WHERE owner_id = $1"


class Vault:
    """The master keys and the data-key table, used together. One per process."""

    def __init__(self, master: MasterKeys) -> None:
        self.master = master

    def open_wrapped(self, owner_id: uuid.UUID, master_key_id: str, wrapped: bytes) -> DataKey:
        """A data key from its stored columns, for reads that fetch them joined to the rows
        they open (one round trip; see the `user_data_key` table)."""
        return DataKey(owner_id, self.master.unwrap(owner_id, master_key_id, wrapped))

    async def find_data_key(self, session: AsyncSession, owner_id: uuid.UUID) -> DataKey | None:
        """The person's data key, or None if they never sealed anything (or it was shredded)."""
        stmt = select(UserDataKey.master_key_id, UserDataKey.wrapped_key).where(
            UserDataKey.owner_id == owner_id
        )
        row = (await session.execute(stmt)).first()
        return None if row is None else self.open_wrapped(owner_id, *row)

    async def read_data_key(self, reader: ReadConnection, owner_id: uuid.UUID) -> DataKey | None:
        """`find_data_key` on the driver read path (`Database.reader`)."""
        row = await reader.fetchrow(_DATA_KEY_SQL, owner_id)
        if row is None:
            return None
        return self.open_wrapped(owner_id, row["master_key_id"], row["wrapped_key"])

    async def data_key(self, session: AsyncSession, owner_id: uuid.UUID) -> DataKey:
        """The person's data key, made on first use. Two first writes at once both end up
        with the one that was stored first."""
        existing = await self.find_data_key(session, owner_id)
        if existing is not None:
            return existing
        key_id, wrapped = self.master.wrap(owner_id, os.urandom(KEY_BYTES))
        await session.execute(
            insert(UserDataKey)
            .values(owner_id=owner_id, master_key_id=key_id, wrapped_key=wrapped)
            .on_conflict_do_nothing(index_elements=[UserDataKey.owner_id])
        )
        stored = await self.find_data_key(session, owner_id)
        if stored is None:  # pragma: no cover - the row was just written or already there
            raise RuntimeError("data key vanished while being created")
        return stored

    async def rotate(self, db: Database, *, batch: int = 500) -> int:
        """Re-wraps every data key not wrapped by the active master key; returns how many.
        Sealed values are untouched. Safe to run while the app serves and to run twice."""
        total = 0
        while True:
            async with db.session(None, scope=DbScope.system) as session:
                stmt = (
                    select(UserDataKey)
                    .where(UserDataKey.master_key_id != self.master.active_id)
                    .order_by(UserDataKey.owner_id)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
                rows = list((await session.execute(stmt)).scalars())
                for row in rows:
                    raw = self.master.unwrap(row.owner_id, row.master_key_id, row.wrapped_key)
                    row.master_key_id, row.wrapped_key = self.master.wrap(row.owner_id, raw)
                    row.rotated_at = utc_now()
            if not rows:
                return total
            total += len(rows)


async def shred(session: AsyncSession, owner_id: uuid.UUID) -> bool:
    """Deletes the person's data key: everything sealed with it becomes unrecoverable.
    Returns whether there was one. Account erasure does the same through the foreign key."""
    result = await session.execute(
        delete(UserDataKey).where(UserDataKey.owner_id == owner_id).returning(UserDataKey.owner_id)
    )
    return result.first() is not None


# The vault of each database, for code that is handed only a session (a domain's data-export
# hook); everything else is handed the vault explicitly. Keyed by engine, so several apps in
# one process (tests, the CLI) each keep their own.
_vaults: weakref.WeakKeyDictionary[AsyncEngine, Vault] = weakref.WeakKeyDictionary()


def attach_vault(db: Database, vault: Vault) -> None:
    _vaults[db.engine] = vault


def attached_vault(db: Database) -> Vault | None:
    return _vaults.get(db.engine)


def vault_for(session: AsyncSession) -> Vault:
    """The vault attached to the database `session` belongs to."""
    vault = _vaults.get(session.bind) if isinstance(session.bind, AsyncEngine) else None
    if vault is None:
        raise RuntimeError("no vault attached to this database: the app or worker attaches one")
    return vault
