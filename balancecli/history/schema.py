"""The history database itself: where it lives, its schema and migrations, and opening it.

``Database`` is the base of ``Store``: it owns the connection, the transaction helper and the
migrations; ``write.Writer`` and ``query.Reader`` add the writing and the reading on top.

Schema versions (``PRAGMA user_version``): 1 was the first layout (time only on ``runs``); 2
copies the run time into the row tables so that the ``(account_id, taken_at)`` index answers
series queries without a join, and keeps a table of every account stored so that
``balances_at`` seeks per account. ``MIGRATIONS[n]`` takes a database from version n to n + 1;
a new database runs them all, so a fresh file and a migrated one have the same schema. A
database from a newer balancecli is refused (ConfigError), never downgraded.

SQLite errors become ``UnavailableError`` (busy or locked beyond the timeout: exit 5) or
``ConfigError`` (not a database, unwritable path, disk full: exit 3).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Self

from balancecli.errors import ConfigError, UnavailableError
from balancecli.models import MONEY_FIELDS, Asset, Balance

SCHEMA_VERSION = 2
BUSY_TIMEOUT = 30.0
ENV_DB = "BALANCECLI_DB"

BALANCE_FIELDS: tuple[str, ...] = MONEY_FIELDS[Balance]
ASSET_FIELDS: tuple[str, ...] = MONEY_FIELDS[Asset]
BALANCE_TEXT = ("profile", "broker", "account_id", "account_name", "account_type", "currency",
                 "as_of")
ASSET_TEXT = ("profile", "broker", "account_id", "asset")


def _money_columns(fields: Sequence[str]) -> str:
    return ", ".join(f"{name} TEXT" for name in fields)


MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            profiles_json TEXT NOT NULL,
            ok INTEGER NOT NULL,
            error_count INTEGER NOT NULL,
            errors_json TEXT NOT NULL,
            balance_count INTEGER NOT NULL,
            asset_count INTEGER NOT NULL)""",
        f"""CREATE TABLE balances (
            run_id INTEGER NOT NULL REFERENCES runs(id),
            profile TEXT NOT NULL, broker TEXT NOT NULL, account_id TEXT NOT NULL,
            account_name TEXT, account_type TEXT, currency TEXT, as_of TEXT,
            {_money_columns(BALANCE_FIELDS)},
            extra_json TEXT)""",
        f"""CREATE TABLE assets (
            run_id INTEGER NOT NULL REFERENCES runs(id),
            profile TEXT NOT NULL, broker TEXT NOT NULL, account_id TEXT NOT NULL,
            asset TEXT NOT NULL,
            {_money_columns(ASSET_FIELDS)},
            extra_json TEXT)""",
        "CREATE INDEX runs_started ON runs(started_at)",
        "CREATE INDEX balances_run ON balances(run_id)",
        "CREATE INDEX balances_account ON balances(account_id, run_id)",
        "CREATE INDEX assets_run ON assets(run_id)",
        "CREATE INDEX assets_account ON assets(account_id, run_id)",
    ),
    (
        "ALTER TABLE balances ADD COLUMN taken_at TEXT",
        "ALTER TABLE assets ADD COLUMN taken_at TEXT",
        "UPDATE balances SET taken_at = (SELECT started_at FROM runs WHERE runs.id = run_id)",
        "UPDATE assets SET taken_at = (SELECT started_at FROM runs WHERE runs.id = run_id)",
        "DROP INDEX balances_run",
        "DROP INDEX balances_account",
        "DROP INDEX assets_run",
        "DROP INDEX assets_account",
        "CREATE INDEX balances_account_time ON balances(account_id, taken_at)",
        "CREATE INDEX balances_time ON balances(taken_at)",
        "CREATE INDEX assets_account_time ON assets(account_id, taken_at)",
        "CREATE INDEX assets_time ON assets(taken_at)",
        # Every account ever stored: lets balances_at() seek per account instead of scanning.
        """CREATE TABLE accounts (
            account_id TEXT NOT NULL, profile TEXT NOT NULL, broker TEXT NOT NULL,
            PRIMARY KEY (account_id, profile, broker)) WITHOUT ROWID""",
        "INSERT OR IGNORE INTO accounts SELECT DISTINCT account_id, profile, broker FROM balances",
        "INSERT OR IGNORE INTO accounts SELECT DISTINCT account_id, profile, broker FROM assets",
    ),
)
assert len(MIGRATIONS) == SCHEMA_VERSION


def db_path(explicit: str | os.PathLike[str] | None = None, *, demo: bool = False) -> Path:
    """``--db``, else ``BALANCECLI_DB``, else the user data dir's ``history.sqlite3``; with
    ``--demo`` the default is ``history-demo.sqlite3`` so demo data never mixes with yours."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    import platformdirs

    name = "history-demo.sqlite3" if demo else "history.sqlite3"
    return Path(platformdirs.user_data_dir("balancecli")) / name


@contextlib.contextmanager
def sqlite_errors(path: Path) -> Iterator[None]:
    """SQLite failures as the CLI's error kinds (busy -> 5, anything else -> 3)."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise UnavailableError(
                f"the history database {path} stayed locked for {BUSY_TIMEOUT:.0f} s ({text})",
                next_step="retry later; another balancecli run holds the database",
            ) from None
        raise ConfigError(
            f"cannot use the history database {path}: {text}",
            next_step="check the path, its permissions and free disk space (or use --db PATH)",
        ) from None
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"{path} is not a usable balancecli history database: {exc}",
            next_step="move the file away or choose another one with --db PATH",
        ) from None


class Database:
    """One open history database; ``Store`` adds reading and writing. Use ``Store.open(path)``;
    close with ``close()`` or ``with``."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    # -- opening and migrations ---------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Self:
        path = db_path(path)
        if not path.exists():
            if not create:
                raise ConfigError(
                    f"no history database at {path}",
                    next_step="run: balancecli snapshot (or pass --db PATH)",
                )
            create_file(path)
        with sqlite_errors(path):
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
            store = cls(path, conn)
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
                store._set_wal()
                conn.execute("PRAGMA synchronous = FULL")
                store._migrate()
            except BaseException:
                conn.close()
                raise
        return store

    def _set_wal(self) -> None:
        # WAL lets readers run during a write and makes a killed writer's frames invisible.
        # Switching needs a moment of exclusive access; other openers may hold the file.
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode.lower() == "wal":
                return
            try:
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode.lower() == "wal":
                    return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise sqlite3.OperationalError("database is locked (cannot enable WAL)")
            time.sleep(0.05)

    def user_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        version = self.user_version()
        if version == SCHEMA_VERSION:
            return
        self._refuse_newer(version)
        with self.transaction():
            version = self.user_version()  # another process may have migrated meanwhile
            self._refuse_newer(version)
            for step in MIGRATIONS[version:]:
                for statement in step:
                    self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"the history database {self.path} has schema version {version}; this "
                f"balancecli knows up to {SCHEMA_VERSION}",
                next_step="upgrade balancecli (the file is left untouched)",
            )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def integrity_check(self) -> str:
        return ";".join(r[0] for r in self._conn.execute("PRAGMA integrity_check"))


def create_file(path: Path) -> None:
    """The directory 0700 (only the last level is ours to create) and the file 0600."""
    parent = path.parent
    try:
        if not parent.exists():
            parent.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                parent.mkdir(mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # a concurrent run created it
    except OSError as exc:
        raise ConfigError(
            f"cannot create the history database {path}: {exc.strerror}",
            next_step="check the directory's permissions (or use --db PATH)",
        ) from None
    os.close(fd)
