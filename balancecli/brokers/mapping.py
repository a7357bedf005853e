"""Field mappings as data: each normalized field and the broker field it is copied from.

A broker module declares one ``FieldMap`` per kind of row it reads from one response (the
accounts of the account list, the balance of a balances answer, the assets in its currency
details, ...), with the request and the public API document it follows. Its parser reads the
broker's fields through that declaration (``amounts``, ``key``, ``used``), so the field names
are written once, and the README's "Reference" section is generated from the same declarations
(``python tests/tools/make_reference.py``; a test fails when the two differ).

Only normalized fields are declared: what else the broker sent goes under its own name into
``extra``. A value is copied, never computed: a field whose source says only ``note`` is not
in the response (it is the fetch time, the account's currency, or null). A field with a closed
set of values across brokers (an account's ``type`` and ``status``) declares ``values``: the
broker's words to the normalized ones (``STATUSES``, ``TYPES``); a word it does not list is
null, never guessed, and the broker's own value stays in ``extra`` under its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from balancecli.brokers.payload import obj
from balancecli.core.models import MONEY_FIELDS, Account, Asset, Balance, extra_from
from balancecli.core.numbers import to_decimal, to_text

# The normalized values (documented in the model and the JSON Schemas).
STATUSES = ("active", "restricted", "inactive", "closed")
TYPES = ("cash", "margin", "futures", "dvp", "forex", "securities", "crypto")


def word(text: str) -> str:
    """A broker's word compared for ``values``: case and spacing left out."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class From:
    """Where one normalized field comes from.

    ``key``: the broker's field (``Parent.Child`` for a field of a nested object); ``fallback``:
    the broker's field used when ``key`` is missing or blank; ``value``: a constant (when the
    response has no such field, or as the last resort after ``key``); ``setting``: a profile
    setting; ``within``: ``key`` is read from an item of this list, not from the row's object;
    ``values``: the broker's values (any case) to the normalized ones, the broker's own value
    kept in ``extra``; ``note``: what else happens to it, for people."""

    key: str | None = None
    fallback: str | None = None
    value: str | None = None
    setting: str | None = None
    within: str | None = None
    values: Mapping[str, str] | None = None
    note: str = ""

    def normalized(self, text: str | None) -> str | None:
        """``text`` (the broker's value) as the normalized value; None when ``values`` does
        not list it."""
        if text is None or self.values is None:
            return text
        wanted = word(text)
        return next((v for k, v in self.values.items() if word(k) == wanted), None)

    @property
    def leaf(self) -> str | None:
        """The field's own name inside its object (``UnrealizedProfitLoss``)."""
        return None if self.key is None else self.key.rpartition(".")[2]

    @property
    def parent(self) -> str | None:
        """The nested object that holds ``key`` (``BalanceDetail``), or None."""
        return self.key.rpartition(".")[0] or None if self.key else None


Model = type[Account] | type[Balance] | type[Asset]


@dataclass(frozen=True)
class FieldMap:
    """How one kind of row is read from one response: normalized name ← the broker's field.

    ``request``: what is asked (``GET /v3/brokerage/accounts``); ``document``: the public API
    document it follows (a URL, or ``owner/repository:path``); ``each``: the list of the
    response whose items are the rows (None: the response object is the row); ``rows``: how
    many rows one response gives, for people; ``variant``: the API variant this map is for
    (``v2``), when the broker has several."""

    model: Model
    request: str
    document: str
    fields: Mapping[str, str | From]
    each: str | None = None
    rows: str = ""
    variant: str = ""
    _sources: dict[str, From] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        known = {f for f in self.model.__dataclass_fields__}
        unknown = sorted(set(self.fields) - known)
        if unknown:
            raise ValueError(f"{self.model.__name__} has no field {unknown[0]!r}")
        sources = {name: spec if isinstance(spec, From) else From(spec)
                   for name, spec in self.fields.items()}
        allowed = {"status": STATUSES, "type": TYPES}
        for name, spec in sources.items():
            odd = sorted(set((spec.values or {}).values()) - set(allowed.get(name, ())))
            if odd:
                raise ValueError(f"{name}: {odd[0]!r} is not a normalized {name}")
        object.__setattr__(self, "_sources", sources)

    @property
    def sources(self) -> dict[str, From]:
        """Every declared field with its source, in declaration order."""
        return dict(self._sources)

    def source(self, name: str) -> From:
        return self._sources[name]

    def key(self, name: str) -> str:
        """The broker's field (its own name) that normalized field ``name`` is read from."""
        leaf = self._sources[name].leaf
        if leaf is None:
            raise KeyError(f"{name} is not read from a broker field")
        return leaf

    def read(self, item: Mapping[str, Any], name: str) -> tuple[str | None, str | None]:
        """Normalized field ``name`` as text, and the broker field it was read from: ``key``,
        else ``fallback`` when that is blank (``Alias`` else ``ClearingAccount``), else the
        constant ``value`` (with no field)."""
        spec = self._sources[name]
        candidates = [k for k in (spec.key, spec.fallback) if k is not None]
        for key in candidates:
            text = to_text(item.get(key))
            if text:
                return text, key
        return spec.value, candidates[-1] if candidates and spec.value is None else None

    def normal(self, item: Mapping[str, Any], name: str) -> str | None:
        """Field ``name`` read as ``read`` does, then mapped through its ``values``."""
        return self._sources[name].normalized(self.read(item, name)[0])

    def amount_keys(self) -> dict[str, str]:
        """Money field -> the broker field it is read from, in declaration order."""
        money = MONEY_FIELDS[self.model]
        return {name: spec.leaf for name, spec in self._sources.items()
                if name in money and spec.leaf is not None}

    @property
    def used(self) -> frozenset[str]:
        """The top-level fields of the row's object that the normalized fields consume (a
        nested object counts as consumed: what is left of it goes to ``extra`` nested); a field
        read through ``values`` is not consumed: the broker's own value stays in ``extra``."""
        keys: set[str] = set()
        for spec in self._sources.values():
            if spec.values is not None:
                continue
            if spec.within is not None:
                keys.add(spec.within)
            elif spec.key is not None:
                keys.add(spec.parent or spec.key)
            if spec.fallback is not None and spec.within is None:
                keys.add(spec.fallback)
        return frozenset(keys)

    def amounts(self, item: Mapping[str, Any], *,
                within: Mapping[str, Mapping[str, Any]] | None = None
                ) -> dict[str, Decimal | None]:
        """The money fields read from ``item`` as exact decimals (None when not sent): plain
        and nested keys, and the keys of a ``within`` list from the item given for it."""
        values: dict[str, Decimal | None] = {}
        for name in MONEY_FIELDS[self.model]:
            spec = self._sources.get(name)
            if spec is None or spec.leaf is None:
                continue
            if spec.within is not None:
                if within is None or spec.within not in within:
                    continue
                holder: Mapping[str, Any] = within[spec.within]
            else:
                holder = self._holder(item, spec)
            values[name] = to_decimal(holder.get(spec.leaf), name=spec.leaf)
        return values

    def extra(self, item: Mapping[str, Any], *also: str) -> dict[str, Any]:
        """What the broker sent besides the normalized fields (and ``also``), under its own
        names; what is left of a nested object stays nested under its name."""
        extra = extra_from(dict(item), self.used | set(also))
        for parent in dict.fromkeys(s.parent for s in self._sources.values() if s.parent):
            consumed = {s.leaf for s in self._sources.values() if s.parent == parent}
            nested = obj(item.get(parent) or {}, parent)
            rest = extra_from(nested, {k for k in consumed if k})
            if rest:
                extra[parent] = rest
        return extra

    @staticmethod
    def _holder(item: Mapping[str, Any], spec: From) -> Mapping[str, Any]:
        if spec.parent is None:
            return item
        return obj(item.get(spec.parent) or {}, spec.parent)


def source_of(maps: tuple[FieldMap, ...], model: Model, name: str) -> str | None:
    """The broker field that ``model.name`` is read from in the first of ``maps`` that reads
    it, or None (used to say where a number came from: "broker qt TotalInUSD")."""
    for found in maps:
        if found.model is model and name in found.sources and found.sources[name].leaf:
            return found.sources[name].leaf
    return None
