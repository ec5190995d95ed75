"""On-disk cache of model outputs, keyed by model and input text.

One SQLite file holds every model's logits. Writes are transactions (atomic), entries
carry a checksum and their shape, and an entry that fails either check is treated as
missing and recomputed. A file that SQLite cannot read is moved aside, not trusted.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
import warnings
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS evals (
    model TEXT NOT NULL,
    key BLOB NOT NULL,
    logits BLOB NOT NULL,
    truncated INTEGER NOT NULL,
    crc INTEGER NOT NULL,
    PRIMARY KEY (model, key)
) WITHOUT ROWID
"""


def default_cache_dir() -> Path:
    """``$TRUSTAUDIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/trustaudit``, else ``~/.cache/trustaudit``."""
    env = os.environ.get("TRUSTAUDIT_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "trustaudit"


def text_key(text_a: str, text_b: str | None) -> bytes:
    """Digest of one input: a single text and a pair with an empty second text differ."""
    digest = hashlib.sha256()
    digest.update(b"P" if text_b is not None else b"S")
    digest.update(str(len(text_a)).encode() + b":" + text_a.encode("utf-8", "surrogatepass"))
    if text_b is not None:
        digest.update(b"\x00" + text_b.encode("utf-8", "surrogatepass"))
    return digest.digest()


class EvalCache:
    """Logits of (model, text) pairs in one SQLite file under ``directory``."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.path = self.directory / "evals.sqlite"
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=60)
            conn.execute(_SCHEMA)
            conn.execute("SELECT count(*) FROM evals LIMIT 1").fetchone()
        except sqlite3.DatabaseError as exc:
            aside = self.path.with_name(f"evals.corrupt-{int(time.time())}.sqlite")
            warnings.warn(f"evaluation cache {self.path} is unreadable ({exc}); moved to {aside}", stacklevel=3)
            os.replace(self.path, aside)
            conn = sqlite3.connect(self.path, timeout=60)
            conn.execute(_SCHEMA)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        self._conn = conn
        return conn

    def get_many(self, model: str, keys: Sequence[bytes], n_labels: int) -> dict[bytes, tuple[np.ndarray, bool]]:
        """Valid cached entries among ``keys``; corrupt or mis-shaped ones are left out."""
        conn = self._connect()
        found: dict[bytes, tuple[np.ndarray, bool]] = {}
        step = 500
        for start in range(0, len(keys), step):
            chunk = list(keys[start:start + step])
            marks = ",".join("?" * len(chunk))
            try:
                rows = conn.execute(
                    f"SELECT key, logits, truncated, crc FROM evals WHERE model = ? AND key IN ({marks})",
                    [model, *chunk],
                ).fetchall()
            except sqlite3.DatabaseError:
                return found
            for key, blob, truncated, crc in rows:
                if len(blob) != 4 * n_labels or zlib.crc32(blob) != crc:
                    continue
                logits = np.frombuffer(blob, dtype="<f4")
                if not np.all(np.isfinite(logits)):
                    continue
                found[bytes(key)] = (logits.copy(), bool(truncated))
        return found

    def put_many(self, model: str, items: Iterable[tuple[bytes, np.ndarray, bool]]) -> None:
        """Store entries in one transaction (all or none)."""
        rows = []
        for key, logits, truncated in items:
            blob = np.ascontiguousarray(logits, dtype="<f4").tobytes()
            rows.append((model, key, blob, int(truncated), zlib.crc32(blob)))
        if not rows:
            return
        conn = self._connect()
        try:
            with conn:
                conn.executemany("INSERT OR REPLACE INTO evals VALUES (?, ?, ?, ?, ?)", rows)
        except sqlite3.OperationalError as exc:
            warnings.warn(f"could not write to the evaluation cache {self.path}: {exc}", stacklevel=3)

    def close(self) -> None:
        """Close the connection (reopened on next use)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
