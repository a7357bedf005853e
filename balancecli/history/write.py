"""Writing to the history store: one run in one transaction, and pruning on request.

A run and all its rows go in ONE ``BEGIN IMMEDIATE`` transaction, so a process killed at any
point leaves the whole run or nothing. Failed runs are recorded too: their errors, redacted as
in the JSON ``errors`` list plus ``next_step``, show in ``history``. A row's time
(``taken_at``) is its run's ``started_at``; a missing amount is NULL, never 0.

Nothing secret is stored: every text of a row, its ``extra`` (keys too) and every error pass the
same mask as the output (``core.redact``) first, so a token a broker echoes in a field cannot
come back later from ``history``, whoever runs it and whatever secrets that run knows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from balancecli.core.errors import BalanceCliError
from balancecli.core.models import Asset, Balance
from balancecli.history.formats import Span, dumps_extra, format_time, money_text
from balancecli.history.schema import (
    ASSET_FIELDS,
    ASSET_TEXT,
    BALANCE_FIELDS,
    BALANCE_TEXT,
    Database,
    sqlite_errors,
)


class Writer(Database):
    """``record_run`` and ``prune`` (mixed into ``Store``)."""

    def record_run(
        self,
        *,
        started_at: datetime,
        finished_at: datetime,
        profiles: Sequence[str],
        balances: Sequence[Balance],
        assets: Sequence[Asset],
        errors: Sequence[BalanceCliError],
        rates: Sequence[tuple[str | None, str | None, Any]] = (),
    ) -> int:
        """Append one run and all its rows in one transaction; returns the run id.

        ``rates``: ``(profile, account_id, rate)`` for the rates the run saw (``rate`` has
        ``base, quote, num, den, source, day`` like ``balancecli.rates.Rate``); config rates
        have no profile or account."""
        from balancecli.core.redact import REDACTOR

        masked = REDACTOR.masker()
        taken_at = format_time(started_at)
        stored_errors = [masked({**e.as_dict(), "next_step": e.next_step}) for e in errors]
        b_cols = ("run_id", "taken_at", *BALANCE_TEXT, *BALANCE_FIELDS, "extra_json")
        a_cols = ("run_id", "taken_at", *ASSET_TEXT, *ASSET_FIELDS, "extra_json")
        with sqlite_errors(self.path), self.transaction():
            cursor = self._conn.execute(
                "INSERT INTO runs (started_at, finished_at, profiles_json, ok, error_count,"
                " errors_json, balance_count, asset_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (taken_at, format_time(finished_at), json.dumps(list(profiles)),
                 int(not errors), len(errors), json.dumps(stored_errors, ensure_ascii=False),
                 len(balances), len(assets)),
            )
            run_id = cursor.lastrowid
            assert run_id is not None
            self._conn.executemany(
                f"INSERT INTO balances ({', '.join(b_cols)})"
                f" VALUES ({', '.join('?' * len(b_cols))})",
                (
                    (run_id, taken_at, *(masked(getattr(b, n)) for n in BALANCE_TEXT),
                     *(money_text(getattr(b, n)) for n in BALANCE_FIELDS),
                     dumps_extra(masked(b.extra)) if b.extra else None)
                    for b in balances
                ),
            )
            self._conn.executemany(
                f"INSERT INTO assets ({', '.join(a_cols)})"
                f" VALUES ({', '.join('?' * len(a_cols))})",
                (
                    (run_id, taken_at, *(masked(getattr(a, n)) for n in ASSET_TEXT),
                     *(money_text(getattr(a, n)) for n in ASSET_FIELDS),
                     dumps_extra(masked(a.extra)) if a.extra else None)
                    for a in assets
                ),
            )
            self._conn.executemany(
                "INSERT OR IGNORE INTO accounts (account_id, profile, broker) VALUES (?, ?, ?)",
                {(masked(r.account_id), masked(r.profile), masked(r.broker))
                 for rows in (balances, assets) for r in rows},
            )
            self._conn.executemany(
                "INSERT INTO rates (run_id, taken_at, profile, account_id, base, quote, num,"
                " den, source, rate_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((run_id, taken_at, masked(profile), masked(account_id), masked(r.base),
                  masked(r.quote), money_text(r.num), money_text(r.den), masked(r.source),
                  r.day.isoformat() if r.day else None)
                 for profile, account_id, r in rates),
            )
        return run_id

    def prune(self, keep: timedelta | Span, *, now: datetime | None = None) -> int:
        """Delete the runs started before ``now - keep`` and their rows; returns how many."""
        now = now or datetime.now(UTC)
        return self.prune_before(keep.before(now) if isinstance(keep, Span) else now - keep)

    def prune_before(self, when: datetime) -> int:
        """Delete the runs started before ``when`` and their rows; returns how many. The CLI
        counts with ``Reader.runs_before`` first and deletes with the same cutoff."""
        cutoff = format_time(when)
        with sqlite_errors(self.path), self.transaction():
            self._conn.execute("DELETE FROM balances WHERE taken_at < ?", (cutoff,))
            self._conn.execute("DELETE FROM assets WHERE taken_at < ?", (cutoff,))
            self._conn.execute("DELETE FROM rates WHERE taken_at < ?", (cutoff,))
            self._conn.execute(
                "DELETE FROM accounts WHERE NOT EXISTS (SELECT 1 FROM balances AS t"
                " WHERE t.account_id = accounts.account_id AND t.profile = accounts.profile"
                " AND t.broker = accounts.broker) AND NOT EXISTS (SELECT 1 FROM assets AS t"
                " WHERE t.account_id = accounts.account_id AND t.profile = accounts.profile"
                " AND t.broker = accounts.broker)")
            return self._conn.execute("DELETE FROM runs WHERE started_at < ?", (cutoff,)).rowcount
