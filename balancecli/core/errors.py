"""Errors: each class carries its ``kind`` (as in the JSON ``errors``) and its exit code.

Broker code raises these; only ``cli/boundary.py`` turns them into one line on stderr. A
message never contains a secret (the CLI also runs every line through the redactor as a second
guard).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_AUTH = 4
EXIT_TEMPORARY = 5
EXIT_BAD_RESPONSE = 6
EXIT_PARTIAL = 7
EXIT_INTERRUPTED = 130

# When everything failed, the exit code is that of the most serious failure, in this order.
SEVERITY = (EXIT_AUTH, EXIT_CONFIG, EXIT_BAD_RESPONSE, EXIT_TEMPORARY)


class BalanceCliError(Exception):
    """Base of all expected failures."""

    kind = "broker_error"
    exit_code = EXIT_BAD_RESPONSE
    # (typed, meant): a name on the command line that is close to a known one (``-p tss``:
    # ``("tss", "ts")``), so the next step can be the same command with it corrected.
    retry_with: tuple[str, str] | None = None

    def __init__(
        self,
        message: str,
        *,
        profile: str | None = None,
        broker: str | None = None,
        account_id: str | None = None,
        http_status: int | None = None,
        next_step: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.profile = profile
        self.broker = broker
        self.account_id = account_id
        self.http_status = http_status
        self.next_step = next_step

    def bind(self, *, profile: str | None = None, broker: str | None = None,
             account_id: str | None = None) -> BalanceCliError:
        """Fill in where the error happened, keeping what is already known."""
        self.profile = self.profile or profile
        self.broker = self.broker or broker
        self.account_id = self.account_id or account_id
        return self

    def as_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "broker": self.broker,
            "account_id": self.account_id,
            "kind": self.kind,
            "message": self.message,
            "http_status": self.http_status,
        }


class ConfigError(BalanceCliError):
    kind = "config"
    exit_code = EXIT_CONFIG


class SettingError(ConfigError):
    """One setting of a profile is unknown, missing or has a value it cannot take.

    It says which (``setting``), and what would fix it where that is known: ``suggestion``, a
    value that the setting takes (a close choice, the documented form: ``https://HOST/api``),
    or for an unknown key the setting it is close to. Where the profile came from decides how
    the fix is worded (the config file: ``profile set``; ``profile add``: ``--set``), so the
    code that knows that (``config``, the profile commands) writes the next step."""

    def __init__(self, message: str, *, setting: str, suggestion: str | None = None,
                 unknown: bool = False, missing: bool = False, secret: bool = False,
                 profile: str | None = None, next_step: str | None = None) -> None:
        super().__init__(message, profile=profile, next_step=next_step)
        self.setting = setting
        self.suggestion = suggestion
        self.unknown = unknown  # the key itself is not a setting of the broker
        self.missing = missing  # a required setting that is not there
        self.secret = secret  # an unknown key that names a secret field


class AuthError(BalanceCliError):
    kind = "auth"
    exit_code = EXIT_AUTH


class UnavailableError(BalanceCliError):
    kind = "unavailable"
    exit_code = EXIT_TEMPORARY


class RateLimitedError(BalanceCliError):
    kind = "rate_limited"
    exit_code = EXIT_TEMPORARY


class StaleError(BalanceCliError):
    kind = "stale"
    exit_code = EXIT_TEMPORARY


class BadResponseError(BalanceCliError):
    kind = "bad_response"
    exit_code = EXIT_BAD_RESPONSE


class BrokerError(BalanceCliError):
    """The broker answered but refused the request (4xx other than auth)."""

    kind = "broker_error"
    exit_code = EXIT_BAD_RESPONSE


def exit_code_for(errors: list[BalanceCliError], *, anything_succeeded: bool) -> int:
    """0, 7 for a partial result, else the most serious failure's code (``SEVERITY``)."""
    if not errors:
        return EXIT_OK
    if anything_succeeded:
        return EXIT_PARTIAL
    codes = {e.exit_code for e in errors}
    for code in SEVERITY:
        if code in codes:
            return code
    return max(codes)
