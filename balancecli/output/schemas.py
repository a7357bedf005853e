"""JSON Schemas (draft 2020-12) of every JSON document balancecli prints.

``balancecli schema NAME`` prints one; the test suite validates every JSON output of every
command against them, so a change of shape fails a test before it reaches a script. Rows are
built from the model's dataclass fields: every field is required (nulls are written, never
left out), amounts are JSON numbers or null, nothing else may appear, and each field's
``description`` is its text in ``core.models``. ``broker`` is one of the registry's names.
Envelopes are written out by hand, because they are the contract scripts rely on.

Plain dicts, no jsonschema import: the schemas are data; only the tests need a validator.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from balancecli.brokers import NAMES as BROKERS
from balancecli.brokers.mapping import STATUSES, TYPES
from balancecli.core.models import MONEY_FIELDS, Account, Asset, Balance, doc_of

BALANCE_FIELDS = MONEY_FIELDS[Balance]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ERROR_KINDS = ("config", "auth", "unavailable", "rate_limited", "stale", "bad_response",
               "broker_error")

TIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"}
NUMBER = {"type": ["number", "null"]}
TEXT = {"type": ["string", "null"]}
COUNT = {"type": "integer", "minimum": 0}


def obj(properties: dict[str, Any], *, optional: tuple[str, ...] = (),
        extra: bool = False) -> dict[str, Any]:
    """An object with exactly these properties (all required unless listed as optional)."""
    return {"type": "object", "properties": properties,
            "required": [k for k in properties if k not in optional],
            "additionalProperties": extra}


# Fields whose values are the same words for every broker (``brokers.mapping``), or null.
NORMALIZED = {"type": TYPES, "account_type": TYPES, "status": STATUSES}


def row(model: type) -> dict[str, Any]:
    """Every model field, in order, with its description; Decimal fields are numbers or null,
    ``extra`` an object, an account's type and status one of their normalized words or null."""
    props: dict[str, Any] = {}
    for f in dataclasses.fields(model):
        if f.name == "extra":
            kind: dict[str, Any] = {"type": "object"}
        elif f.name == "broker":
            kind = {"enum": list(BROKERS)}
        elif f.name in NORMALIZED:
            kind = {"enum": [*NORMALIZED[f.name], None]}
        elif f.type == "Decimal | None":
            kind = {"$ref": "#/$defs/amount"}
        elif f.type == "str":
            kind = {"type": "string"}
        else:
            kind = dict(TEXT)
        props[f.name] = {"description": doc_of(f), **kind} if doc_of(f) else kind
    return obj(props)


ERROR = obj({"profile": TEXT, "broker": TEXT, "account_id": TEXT,
             "kind": {"enum": list(ERROR_KINDS)}, "message": {"type": "string"},
             "http_status": {"type": ["integer", "null"]}})

# An account the broker lists but serves no balances for (brokers.base.Skipped): left out of
# the rows, not an error.
SKIPPED = {"type": "array", "items": obj({
    "profile": {"type": "string"}, "broker": {"enum": list(BROKERS)},
    "account_id": {"type": "string"}, "reason": {"type": "string"}}),
    "description": "Accounts left out: the broker lists them but its API serves no balances "
                   "for them (an account type its balances endpoint refuses). "
                   "Present only when there are some; not errors."}

BALANCE_TOTAL = obj({"currency": TEXT, "accounts": COUNT, "cash": NUMBER, "equity": NUMBER,
                     "buying_power": NUMBER, "incomplete": {"type": "boolean"}})

RATE_SOURCES = ["identity", "broker", "config", "ecb"]
DAY = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
DAY_OR_NULL = {"anyOf": [DAY, {"type": "null"}]}

# The one-currency valuation (balance/assets/history --in CUR).
CONVERTED = obj({
    "currency": {"type": "string"},
    "total": NUMBER,
    "incomplete": {"type": "boolean"},
    "accounts": {"type": "array", "items": obj({
        "profile": {"type": "string"}, "account_id": {"type": "string"},
        "value": {"type": "number"},
        "value_field": {"type": "string"},  # equity, cash, available or the assets' sum
        "from": {"type": "string"}, "rate": {"type": "number"},
        "rate_source": {"enum": RATE_SOURCES}, "rate_date": DAY_OR_NULL})},
    "unconverted": {"type": "array", "items": obj({
        "profile": {"type": "string"}, "account_id": {"type": "string"}, "currency": TEXT,
        "reason": {"type": "string"}})},
    "by": {"enum": ["broker", "profile", "currency", "account", "asset"],
           "description": "--by GROUP: what the groups are of."},
    "groups": {
        "type": "array",
        "description": "--by GROUP: the values summed per group, largest first. balance: "
                       "the converted accounts (key: a broker name, a profile, the "
                       "currency an account was valued from, or \"PROFILE ACCOUNT\"), so "
                       "the values sum to total; assets: the asset rows valued (key: the "
                       "asset code, a broker, a profile or \"PROFILE ACCOUNT\"), which sum "
                       "to the total of those rows, not to the accounts' total.",
        "items": obj({
            "key": {"type": "string"}, "value": {"type": "number"},
            "share": {"type": ["number", "null"],
                      "description": "The group's value over the sum of all groups' "
                                     "values, a fraction of 1 with 12 decimals; the shares "
                                     "sum to exactly 1 (rounded down, the units left given "
                                     "to the largest remainders); null when the sum is 0."}})},
}, optional=("by", "groups"))

AMOUNT = {**NUMBER, "description": "An amount with the digits the broker sent, or null when "
                                    "it sent none (never 0 in its place)."}
DEFS = {
    "amount": AMOUNT,
    "error": ERROR,
    "converted": CONVERTED,
    "account": row(Account),
    "balance": row(Balance),
    "asset": row(Asset),
}


def document(name: str, properties: dict[str, Any], *, optional: tuple[str, ...] = (),
             description: str = "") -> dict[str, Any]:
    schema = {"$schema": DRAFT, "title": name, "description": description,
              **obj({"schema": {"const": name}, **properties}, optional=optional)}
    used = {k for k in DEFS if _refers(schema, k)}
    used |= {k for n in used for k in DEFS if _refers(DEFS[n], k)}  # rows refer to "amount"
    if used:
        schema["$defs"] = {k: v for k, v in DEFS.items() if k in used}
    return schema


def _refers(node: Any, name: str) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == f"#/$defs/{name}" or any(
            _refers(v, name) for v in node.values())
    if isinstance(node, list):
        return any(_refers(v, name) for v in node)
    return False


def errors() -> dict[str, Any]:
    return {"type": "array", "items": {"$ref": "#/$defs/error"}}


def rows_of(kind: str) -> dict[str, Any]:
    return {"type": "array", "items": {"$ref": f"#/$defs/{kind}"}}


def _point() -> dict[str, Any]:
    return obj({"time": TIME, "run_id": COUNT, "value": NUMBER})


PERIOD = {"enum": ["1h", "1d", "1w", "1mo", "1y", None],
          "description": "--every: the last run of each local hour, day, ISO week, month or "
                         "year was kept (a close); null: every run."}
NEWEST = {"type": ["integer", "null"], "minimum": 1,
          "description": "--last N: only the N newest points of each series (runs) were "
                         "kept; null: all."}


def _run_point() -> dict[str, Any]:
    return obj({"run_id": COUNT, "taken_at": TIME, "total": NUMBER,
                "incomplete": {"type": "boolean"}})


def _data_documents() -> list[dict[str, Any]]:
    """What the data commands print: accounts, balance, assets, snapshot."""
    converted = {"$ref": "#/$defs/converted"}
    return [
        document("balancecli.accounts/1", {
            "generated_at": TIME, "accounts": rows_of("account"), "errors": errors()},
            description="balancecli accounts -f json"),
        document("balancecli.balance/1", {
            "generated_at": TIME, "balances": rows_of("balance"),
            "totals": {"type": "array", "items": BALANCE_TOTAL},
            "converted": converted, "skipped": SKIPPED, "errors": errors()},
            optional=("converted", "skipped"),
            description="balancecli balance -f json (converted: with --in CUR)"),
        document("balancecli.assets/1", {
            "generated_at": TIME, "assets": rows_of("asset"),
            "converted": converted, "skipped": SKIPPED, "errors": errors()},
            optional=("converted", "skipped"),
            description="balancecli assets -f json (converted: with --in CUR)"),
        document("balancecli.snapshot/1", {
            "generated_at": TIME, "db": {"type": "string"},
            "run": obj({"id": COUNT, "started_at": TIME, "finished_at": TIME,
                        "profiles": {"type": "array", "items": {"type": "string"}},
                        "ok": {"type": "boolean"}, "balances": COUNT, "assets": COUNT,
                        "accounts": COUNT, "errors": COUNT}),
            "errors": errors()}, description="balancecli snapshot -f json"),
    ]


def _history_documents() -> list[dict[str, Any]]:
    """What ``history`` prints: series, net worth over time, one moment, pruning."""
    since_until = {"since": {"anyOf": [TIME, {"type": "null"}]},
                   "until": {"anyOf": [TIME, {"type": "null"}]}, "every": PERIOD, "newest": NEWEST}
    field = {"enum": list(BALANCE_FIELDS)}
    at_row = dict(row(Balance))
    at_row["properties"] = {**at_row["properties"], "snapshot_at": TIME, "run_id": COUNT}
    at_row["required"] = list(at_row["properties"])
    return [
        document("balancecli.history/1", {
            "generated_at": TIME,
            "field": {"anyOf": [field, {"type": "null"}],
                      "description": "--field; null: each series follows equity, else cash, "
                                     "else available (its own field)."}, **since_until,
            "series": {"type": "array", "items": obj({
                "profile": {"type": "string"}, "broker": {"enum": list(BROKERS)},
                "account_id": {"type": "string"}, "currency": TEXT,
                "field": {**field, "description": "The balance field of the values."},
                "points": COUNT,
                "first": {"anyOf": [_point(), {"type": "null"}]},
                "last": {"anyOf": [_point(), {"type": "null"}]},
                "change": NUMBER, "values": {"type": "array", "items": _point()}})},
            "totals": {"type": "array", "items": obj({
                "currency": TEXT, "accounts": COUNT, "first": NUMBER, "last": NUMBER,
                "change": NUMBER, "incomplete": {"type": "boolean"}})},
            "errors": errors()}, description="balancecli history -f json"),
        document("balancecli.history.networth/1", {
            "generated_at": TIME, "currency": {"type": "string"}, **since_until,
            "runs": {"type": "array", "items": obj({
                "run_id": COUNT, "taken_at": TIME, "currency": {"type": "string"},
                "total": NUMBER, "incomplete": {"type": "boolean"}, "accounts": COUNT,
                "unconverted": COUNT, "change": NUMBER,
                "converted": {"$ref": "#/$defs/converted"}})},
            "first": {"anyOf": [{"type": "null"}, _run_point()]},
            "last": {"anyOf": [{"type": "null"}, _run_point()]},
            "change": NUMBER, "change_pct": NUMBER, "sparkline": {"type": "string"},
            "errors": errors()}, description="balancecli history --in CUR -f json"),
        document("balancecli.history.at/1", {
            "generated_at": TIME, "at": TIME,
            "balances": {"type": "array", "items": at_row},
            "totals": {"type": "array", "items": BALANCE_TOTAL}, "errors": errors()},
            description="balancecli history --at TIME -f json"),
        document("balancecli.prune/1", {
            "generated_at": TIME, "cutoff": TIME, "dry_run": {"type": "boolean"},
            "matched_runs": COUNT, "deleted_runs": COUNT,
            "first": {"anyOf": [{"type": "null"}, TIME]},
            "last": {"anyOf": [{"type": "null"}, TIME]}, "kept_runs": COUNT},
            description="balancecli history --prune --keep SPAN [--dry-run] -f json"),
    ]


def _profile_documents() -> list[dict[str, Any]]:
    """What the profile, auth and doctor commands print."""
    field_status = obj({"field": {"type": "string"}, "required": {"type": "boolean"},
                        "present": {"type": "boolean"},
                        "source": {"enum": ["env", "keyring", "config", None]},
                        "last4": TEXT})
    return [
        document("balancecli.profiles/1", {
            "config": {"type": "string"},
            "profiles": {"type": "array", "items": obj({
                "profile": {"type": "string"}, "broker": TEXT, "valid": {"type": "boolean"},
                "problem": TEXT})}},
            description="balancecli profile list -f json"),
        document("balancecli.profile/1", {
            "profile": {"type": "string"}, "config": {"type": "string"},
            "settings": {"type": "object"},
            "effective": {"type": ["object", "null"],
                          "description": "every setting with its default; null when the "
                                         "profile is not valid"},
            "problem": {**TEXT, "description": "why the profile is not valid (exit 3)"}},
            description="balancecli profile show NAME -f json"),
        document("balancecli.profile_path/1", {
            "config": {"type": "string"},
            "source": {"enum": ["flag", "env", "default", "demo"]},
            "exists": {"type": "boolean"}},
            description="balancecli profile path -f json"),
        document("balancecli.auth_status/1", {
            "keyring_backend": {"type": "string"},
            "profiles": {"type": "array", "items": obj({
                "profile": {"type": "string"}, "broker": {"enum": list(BROKERS)},
                "ok": {"type": "boolean"}, "problem": TEXT,
                "fields": {"type": "array", "items": field_status},
                "access_token_expires_at": {"anyOf": [TIME, {"type": "null"}]},
                "access_token_expired": {"type": ["boolean", "null"]},
                "refresh_token": {"type": "boolean"},
                "keyring": {"enum": ["used", "not needed", "unusable"]}})}},
            description="balancecli auth status -f json"),
        document("balancecli.doctor/1", {
            "profiles": {"type": "array", "items": obj({
                "profile": {"type": "string"}, "broker": TEXT, "ok": {"type": "boolean"},
                "checks": {"type": "array", "items": obj({
                    "name": {"type": "string"}, "ok": {"type": "boolean"},
                    "detail": {"type": "string"}})}})}},
            description="balancecli doctor -f json"),
    ]


def _rates_documents() -> list[dict[str, Any]]:
    """What ``rates show`` and ``rates update`` print."""
    return [
        document("balancecli.rates/1", {
            "generated_at": TIME, "currency": {"type": "string"},
            "ecb": {"anyOf": [{"type": "null"}, obj({
                "file": {"type": "string"}, "origin": {"enum": ["bundled", "downloaded"]},
                "latest": DAY, "age_days": {"type": "integer"}, "stale": {"type": "boolean"},
                "max_age_days": {"type": "integer"}, "url": {"type": "string"}})]},
            "rates": {"type": "array", "items": obj({
                "from": {"type": "string"}, "to": {"type": "string"}, "rate": NUMBER,
                "rate_source": {"enum": [*RATE_SOURCES, None]}, "rate_date": DAY_OR_NULL,
                "stale": {"type": "boolean"}, "how": {"type": "string"}})}},
            description="balancecli rates show -f json"),
        document("balancecli.rates.update/1", {
            "file": {"type": "string"}, "url": {"type": "string"}, "latest": DAY,
            "currencies": COUNT, "in_use": {"type": "string"}},
            description="balancecli rates update -f json"),
    ]


def _build() -> dict[str, dict[str, Any]]:
    """Every schema by name, in the order ``balancecli schema`` lists them."""
    docs = [*_data_documents(), *_history_documents(), *_profile_documents(),
            *_rates_documents()]
    return {d["title"]: d for d in docs}


SCHEMAS: dict[str, dict[str, Any]] = _build()
NAMES = tuple(SCHEMAS)


def get(name: str) -> dict[str, Any] | None:
    """The schema called ``name``; ``balance`` is short for ``balancecli.balance/1``."""
    if name in SCHEMAS:
        return SCHEMAS[name]
    for full in NAMES:
        if full.removeprefix("balancecli.").split("/")[0] == name:
            return SCHEMAS[full]
    return None
