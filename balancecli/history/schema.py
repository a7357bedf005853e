"""The history database itself: where it lives, its schema and migrations, and opening it.

``Database`` is the base of ``Store``: it owns the connection, the transaction helper and the
migrations; ``write.Writer`` and ``query.Reader`` add the writing and the reading on top.

Schema versions (``PRAGMA user_version``): 1 was the first layout (time only on ``runs``); 2
copies the run time into the row tables so that the ``(account_id, taken_at)`` index answers
series queries without a join, and keeps a table of every account stored so that
``balances_at`` seeks per account; 3 adds ``rates``: the broker rates each snapshot saw and
the config ``[rates]`` in force, so ``history --in CUR`` revalues old runs offline (see
``history.valued``). ``MIGRATIONS[n]`` takes a database from version n to n + 1; a new
database runs them all, so a fresh file and a migrated one have the same schema. A database
from a newer balancecli is refused (ConfigError), never downgraded.

Ownership: our files carry ``PRAGMA application_id`` ``APPLICATION_ID`` (set on creation and
when a legacy file is adopted). Opening reads the header before it writes anything: another
application's file (another id, or unmarked with tables that are not ours) and a database of a
newer schema are refused (ConfigError) without a byte changed, WAL switch included. An
unmarked file with our tables (written before the mark existed) is adopted. ``readonly`` opens
with ``mode=ro`` and never creates, migrates or marks anything.

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

from balancecli.core.errors import ConfigError, UnavailableError
from balancecli.core.models import MONEY_FIELDS, Asset, Balance
from balancecli.core.paths import ENV_DB as ENV_DB
from balancecli.core.paths import db_path as db_path

SCHEMA_VERSION = 3
# ``history`` reads (read-only, never upgrading) from this version on: 3 only added ``rates``,
# which a version-2 file reads as empty (``history --in`` then uses config and ECB rates).
READABLE_FROM = 2
# Marks our files (``PRAGMA application_id``, bytes 68-71 of the SQLite header): "BLNC". Not a
# schema version: it never changes. A file with another id is another application's.
APPLICATION_ID = 0x424C4E43
OUR_TABLES = frozenset({"runs", "balances", "assets"})
BUSY_TIMEOUT = 30.0

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
    (
        # One row per rate a run saw: 1 base = num / den quote, exact decimal text. Broker rates
        # name their account; config rates (the [rates] table of that run) have NULL there.
        """CREATE TABLE rates (
            run_id INTEGER NOT NULL REFERENCES runs(id),
            taken_at TEXT NOT NULL,
            profile TEXT, account_id TEXT,
            base TEXT NOT NULL, quote TEXT NOT NULL,
            num TEXT NOT NULL, den TEXT NOT NULL,
            source TEXT NOT NULL,
            rate_date TEXT)""",
        "CREATE INDEX rates_time ON rates(taken_at)",
    ),
)
assert len(MIGRATIONS) == SCHEMA_VERSION


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

    def __init__(self, path: Path, conn: sqlite3.Connection, *, readonly: bool = False) -> None:
        from balancecli.history.damage import Damage

        self.path = path
        self._conn = conn
        self.readonly = readonly
        self.damage = Damage()  # what the reads left out (``history.damage``)

    # -- opening and migrations ---------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, create: bool = True,
             readonly: bool = False) -> Self:
        """Open (and with ``create`` make) the database at ``path``.

        Nothing is written before the file is known to be ours: a foreign SQLite file or one
        of a newer schema is refused (ConfigError) byte for byte untouched. ``readonly`` opens
        with ``mode=ro``: no file is created or modified (``history`` on read-only media)."""
        path = db_path(path)
        if not path.exists():
            if not create or readonly:
                raise ConfigError(
                    f"no history database at {path}",
                    next_step="run: balancecli snapshot (or pass --db PATH)",
                )
            create_file(path)
        _check_regular(path)
        with sqlite_errors(path):
            conn = _connect(path, readonly)
            store = cls(path, conn, readonly=readonly)
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
                state = store._inspect()
                if not readonly:
                    # WAL lets readers run during a write and makes a killed writer's frames
                    # invisible; FULL sync makes a committed run survive a power cut.
                    store._set_wal()
                    conn.execute("PRAGMA synchronous = FULL")
                    if state != "current":
                        store._migrate()
            except BaseException:
                conn.close()
                raise
        return store

    def _inspect(self) -> str:
        """"new", "legacy" (ours, unmarked), "old" (ours, older schema) or "current"; raises
        ConfigError for a file that is not ours or too new. Reads the header only."""
        # One statement, so one read transaction: a migration committing in between must not
        # show us its tables with the old header.
        app_id, version, names = self._conn.execute(
            "SELECT (SELECT application_id FROM pragma_application_id),"
            " (SELECT user_version FROM pragma_user_version),"
            " (SELECT group_concat(name, char(9)) FROM sqlite_master WHERE type = 'table')"
        ).fetchone()
        tables = set(names.split("\t")) if names else set()
        if app_id not in (0, APPLICATION_ID):
            raise ConfigError(
                f"{self.path} belongs to another application (SQLite application_id "
                f"{app_id:#010x}, balancecli's is {APPLICATION_ID:#010x}); it is left untouched",
                next_step="choose another file with --db PATH",
            )
        if app_id == APPLICATION_ID or OUR_TABLES <= tables:
            self._refuse_newer(version)
        if app_id == 0:
            if not tables and version == 0:
                state = "new"
            elif OUR_TABLES <= tables and version >= 1:
                state = "legacy"  # written before databases were marked: adopted
            else:
                shown = ", ".join(sorted(tables)[:5]) or "none"
                raise ConfigError(
                    f"{self.path} is not a balancecli history database (its tables: {shown}); "
                    "it is left untouched",
                    next_step="choose another file with --db PATH",
                )
        else:
            state = "current" if version == SCHEMA_VERSION else "old"
        if self.readonly and state != "current" and not (
                state in ("legacy", "old") and READABLE_FROM <= version <= SCHEMA_VERSION):
            if state == "new":
                raise ConfigError(f"the history database {self.path} is empty",
                                  next_step="run: balancecli snapshot")
            raise ConfigError(
                f"the history database {self.path} has schema version {version}, older than "
                f"this balancecli's {SCHEMA_VERSION}; reading does not upgrade it",
                next_step="run: balancecli snapshot (it upgrades the file first)",
            )
        return state

    def _set_wal(self) -> None:
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
        version: int = self._conn.execute("PRAGMA user_version").fetchone()[0]
        return version

    def _migrate(self) -> None:
        with self.transaction():
            # Another process may have migrated (or created) it meanwhile: look again.
            self._inspect()
            version = self.user_version()
            for step in MIGRATIONS[version:]:
                for statement in step:
                    self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")

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


def _check_regular(path: Path) -> None:
    """Only a regular file is opened: SQLite would wait forever on a FIFO (its first read
    never returns) and read a device as if it were a database."""
    import stat

    from balancecli.core.files import not_regular

    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return  # SQLite says what is wrong with it
    if not stat.S_ISREG(mode):
        raise not_regular(path, "the history database", mode,
                          "pass --db (or BALANCECLI_DB) the path of a database file, or of "
                          "one to create")


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if not readonly:
        return sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    uri = path.resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        conn.execute("PRAGMA application_id").fetchone()
    except sqlite3.OperationalError as exc:
        # A WAL database on read-only media: its -shm file cannot be created. Nobody can
        # write such a file either, so reading it as immutable is safe.
        if "unable to open" not in str(exc) and "readonly" not in str(exc):
            raise
        conn.close()
        conn = sqlite3.connect(uri + "&immutable=1", uri=True, timeout=BUSY_TIMEOUT,
                               isolation_level=None)
    return conn


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
