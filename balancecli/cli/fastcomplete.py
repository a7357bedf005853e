"""Tab answered from the generated completion table, without importing Typer.

Each Tab press runs the command once. Importing Typer and building the command tree is about
half of that time, and almost every answer is static (command names, option names, choices)
or comes from ``complete.py``'s read-only callbacks. This module answers from
``completion_table.py`` (generated from the app by ``tests/tools/make_completion_table.py``)
what Typer's completion would answer: it walks the words as Typer's vendored Click parser does
in resilient mode (``typer/_click/parser.py``, ``shell_completion._resolve_context`` and
``_resolve_incomplete``: long and short options, ``--opt=value``, clustered short flags, ``--``,
a group stopping at its first argument, an unknown option ending the parse of its level) and
hands the callbacks a stand-in for the Click context with the same ``params``, ``parent``,
``info_name`` and ``get_parameter_source``.

Whenever it meets something it does not model, it raises ``Fallback`` and Typer answers as
before, only slower. ``tests/unit/cli/test_fastcomplete.py`` runs a corpus of command lines
through both and requires identical output for every shell.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from balancecli.cli.optional_values import optional_value

TYPE_CHECKING = False  # typing costs ~2 ms to import, and every Tab press pays for it
if TYPE_CHECKING:
    from typing import Any

# What a parameter of the table is when the generator left a key out (its common value).
PARAM_DEFAULTS: dict[str, Any] = {
    "opts": [], "secondary": [], "action": "store", "nargs": 1, "flag": False, "const": None,
    "multiple": False, "hidden": False, "envvar": None, "splitter": None, "expose": True,
    "help": None, "value": "raw", "default": None, "complete": None, "files": None,
}
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})

Item = tuple[str, "str | None"]  # a candidate and its help text (shown by zsh, fish, pwsh)


class Fallback(Exception):
    """Not modelled here: Typer answers instead."""


class _UsageError(Exception):
    """What Click's parser raises; in resilient mode it ends the parse of that level."""


class _NoSuchOption(_UsageError):
    pass


class Source:
    """A parameter's source, as ``ctx.get_parameter_source`` returns it (only ``name`` is read)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Source.{self.name}"


COMMANDLINE, ENVIRONMENT, DEFAULT = Source("COMMANDLINE"), Source("ENVIRONMENT"), Source("DEFAULT")


class Level:
    """One command level of the line: what a completion callback gets as its ``ctx``."""

    def __init__(self, node: dict[str, Any], parent: Level | None,
                 info_name: str | None = None) -> None:
        self.node = node
        self.parent = parent
        # the command's name as typed, as Click's ``ctx.info_name`` (the root's: balancecli)
        self.info_name = info_name if info_name is not None else "balancecli"
        self.params: dict[str, Any] = {}
        self.sources: dict[str, Source] = {}
        self.protected: list[str] = []
        self.args: list[str] = []

    def get_parameter_source(self, name: str) -> Source | None:
        return self.sources.get(name)


def params_of(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for param in node["params"]:
        yield {**PARAM_DEFAULTS, **param}


def candidates(root: dict[str, Any], args: list[str], incomplete: str,
               environ: Mapping[str, str]) -> list[Item]:
    """What Typer's ``ShellComplete.get_completions(args, incomplete)`` returns."""
    return answer(root, args, incomplete, environ)[0]


def answer(root: dict[str, Any], args: list[str], incomplete: str,
           environ: Mapping[str, str]) -> tuple[list[Item], str | None]:
    """The candidates, and ``"file"``/``"dir"`` when the word is the value of a path
    parameter (``typer_internals.path_kind``: where the shells' own file names are offered
    if nothing matched), else None."""
    items, param = _resolved(root, list(args), incomplete, environ)
    return items, None if param is None else param["files"]


def _resolved(root: dict[str, Any], args: list[str], incomplete: str,
              environ: Mapping[str, str]) -> tuple[list[Item], dict[str, Any] | None]:
    level = resolve(root, args, environ)
    if incomplete == "=":
        incomplete = ""
    elif "=" in incomplete and incomplete.startswith("-"):
        name, _, incomplete = incomplete.partition("=")
        args.append(name)
    if "--" not in args and incomplete.startswith("-"):
        return _command_items(level, incomplete), None
    params = list(params_of(level.node))
    for param in params:
        if _incomplete_option(args, param):
            return _param_items(level, param, incomplete), param
    for param in params:
        if _incomplete_argument(level, param):
            return _param_items(level, param, incomplete), param
    return _command_items(level, incomplete), None


def resolve(root: dict[str, Any], args: list[str], environ: Mapping[str, str]) -> Level:
    """The innermost command level the words reach (``_resolve_context``)."""
    level = _make_level(root, args, None, environ)
    rest = level.protected + level.args
    while rest:
        if "commands" not in level.node:
            break
        sub = dict(level.node["commands"]).get(rest[0])
        if sub is None:
            return level
        level = _make_level(sub, rest[1:], level, environ, rest[0])
        rest = level.protected + level.args
    return level


def _make_level(node: dict[str, Any], args: list[str], parent: Level | None,
                environ: Mapping[str, str], info_name: str | None = None) -> Level:
    level = Level(node, parent, info_name)
    for option, default in node.get("optional_values", {}).items():
        args = optional_value(args, option, default)
    params = list(params_of(node))
    values, rest = _Parser(node, params).parse(args)
    for param in params:
        value, source = _consume(param, values, environ)
        level.sources[param["name"]] = source
        if param["expose"]:
            level.params[param["name"]] = value
    if "commands" in node:
        level.protected, level.args = rest[:1], rest[1:]
    else:
        level.args = rest
    return level


class _Parser:
    """Click's ``_OptionParser`` for one level, errors ending the parse (resilient mode)."""

    def __init__(self, node: dict[str, Any], params: list[dict[str, Any]]) -> None:
        self.interspersed = bool(node["interspersed"])
        self.long: dict[str, tuple[dict[str, Any], Any]] = {}
        self.short: dict[str, tuple[dict[str, Any], Any]] = {}
        self.arguments = [p for p in params if p["action"] == "argument"]
        for param in params:
            if param["action"] == "argument":
                continue
            if param["flag"] and param["action"] != "count" and param["secondary"]:
                self._add(param["opts"], param, True)
                self._add(param["secondary"], param, False)
            else:
                self._add(param["opts"], param, param["const"])
        self.values: dict[str, Any] = {}
        self.rargs: list[str] = []

    def _add(self, opts: list[str], param: dict[str, Any], const: Any) -> None:
        for opt in opts:
            short = not opt.startswith("--") and len(opt) == 2
            (self.short if short else self.long)[opt] = (param, const)

    def parse(self, args: list[str]) -> tuple[dict[str, Any], list[str]]:
        self.rargs, largs = list(args), []
        try:
            while self.rargs:
                arg = self.rargs.pop(0)
                if arg == "--":
                    break
                if arg[:1] == "-" and len(arg) > 1:
                    self._option(arg)
                elif self.interspersed:
                    largs.append(arg)
                else:
                    self.rargs.insert(0, arg)
                    break
            largs = self._arguments(largs + self.rargs)
        except _UsageError:
            pass
        return self.values, largs

    def _arguments(self, words: list[str]) -> list[str]:
        unpacked, rest = _unpack(words, [p["nargs"] for p in self.arguments])
        for param, value in zip(self.arguments, unpacked, strict=True):
            if param["nargs"] > 1:
                holes = sum(1 for x in value if x is None)
                if holes == len(value):
                    value = None
                elif holes:
                    raise _UsageError
            if param["nargs"] == -1 and value == ():
                value = None
            self.values[param["name"]] = value
        return rest

    def _option(self, arg: str) -> None:
        explicit = None
        name = arg
        if "=" in arg:
            name, explicit = arg.split("=", 1)
        try:
            self._long(name, explicit)
        except _NoSuchOption:
            if arg[:2] == "--":
                raise
            self._short(arg)

    def _long(self, opt: str, explicit: str | None) -> None:
        if opt not in self.long:
            raise _NoSuchOption
        param, const = self.long[opt]
        if param["action"] in ("store", "append"):
            if explicit is not None:
                self.rargs.insert(0, explicit)
            value = self._value(param)
        elif explicit is not None:
            raise _UsageError
        else:
            value = None
        self._store(param, const, value)

    def _short(self, arg: str) -> None:
        prefix = arg[0]
        for i, ch in enumerate(arg[1:], start=2):
            found = self.short.get(prefix + ch)
            if found is None:
                raise _NoSuchOption
            param, const = found
            stop = False
            value = None
            if param["action"] in ("store", "append"):
                if i < len(arg):
                    self.rargs.insert(0, arg[i:])
                    stop = True
                value = self._value(param)
            self._store(param, const, value)
            if stop:
                break

    def _value(self, param: dict[str, Any]) -> Any:
        nargs = param["nargs"]
        if len(self.rargs) < nargs:
            raise _UsageError
        if nargs == 1:
            return self.rargs.pop(0)
        value = tuple(self.rargs[:nargs])
        del self.rargs[:nargs]
        return value

    def _store(self, param: dict[str, Any], const: Any, value: Any) -> None:
        action, name = param["action"], param["name"]
        if action == "store":
            self.values[name] = value
        elif action == "store_const":
            self.values[name] = const
        elif action == "append":
            self.values.setdefault(name, []).append(value)
        elif action == "append_const":
            self.values.setdefault(name, []).append(const)
        else:  # count
            self.values[name] = self.values.get(name, 0) + 1


def _unpack(words: list[str], nargs_spec: list[int]) -> tuple[list[Any], list[str]]:
    """Click's ``_unpack_args``: values for the arguments, and what is left over."""
    args = list(words)
    spec = list(nargs_spec)
    out: list[Any] = []
    star: int | None = None

    def fetch(items: list[Any]) -> Any:
        if not items:
            return None
        return items.pop(0) if star is None else items.pop()

    while spec:
        nargs = fetch(spec)
        if nargs == 1:
            out.append(fetch(args))
        elif nargs > 1:
            group = [fetch(args) for _ in range(nargs)]
            if star is not None:
                group.reverse()
            out.append(tuple(group))
        elif nargs < 0:
            if star is not None:
                raise Fallback  # two arguments taking every word: Click refuses it too
            star = len(out)
            out.append(None)
    if star is not None:
        out[star] = tuple(args)
        args = []
        out[star + 1:] = reversed(out[star + 1:])
    return out, args


def _consume(param: dict[str, Any], values: dict[str, Any],
             environ: Mapping[str, str]) -> tuple[Any, Source]:
    """The value and source Click gives the parameter: command line, environment, default."""
    raw = values.get(param["name"])
    source = COMMANDLINE
    if raw is None:
        raw = _from_environment(param, environ)
        source = ENVIRONMENT
    if raw is None:
        raw = param["default"]
        source = DEFAULT
    return _converted(param, raw), source


def _from_environment(param: dict[str, Any], environ: Mapping[str, str]) -> Any:
    envvar = param["envvar"]
    names = [envvar] if isinstance(envvar, str) else list(envvar or ())
    value: Any = next((environ[n] for n in names if environ.get(n)), None)
    if value is not None and (param["nargs"] != 1 or param["multiple"]):
        value = value.split(param["splitter"]) if param["splitter"] else value.split()
    return value


def _converted(param: dict[str, Any], raw: Any) -> Any:
    """The value a callback reads in ``ctx.params``; None where Typer's conversion fails."""
    from pathlib import Path

    kind = param["value"]
    if raw is None or kind == "raw":
        return raw
    if kind == "flag":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        return True if text in _TRUE else False if text in _FALSE else None
    if kind == "count":
        try:
            return int(raw)
        except (TypeError, ValueError):
            return None
    if kind == "list":
        ok = isinstance(raw, list | tuple) and all(isinstance(v, str) for v in raw)
        return list(raw) if ok else None
    if not isinstance(raw, str):
        return None
    return Path(raw) if kind == "path" else raw


def _incomplete_option(args: list[str], param: dict[str, Any]) -> bool:
    """The last word is this option's name and its value is being typed."""
    if param["action"] == "argument" or param["flag"]:
        return False
    last = None
    for index, arg in enumerate(reversed(args)):
        if index + 1 > param["nargs"]:
            break
        if arg.startswith("-"):
            last = arg
            break
    return last is not None and last in param["opts"]


def _incomplete_argument(level: Level, param: dict[str, Any]) -> bool:
    if param["action"] != "argument":
        return False
    value = level.params.get(param["name"])
    nargs = param["nargs"]
    return (nargs == -1 or level.sources.get(param["name"]) is not COMMANDLINE
            or (nargs > 1 and isinstance(value, tuple | list) and len(value) < nargs))


def _command_items(level: Level, incomplete: str) -> list[Item]:
    """A group's commands, then option names (``Group/Command.shell_complete``)."""
    items: list[Item] = [(name, sub["help"]) for name, sub in level.node.get("commands", ())
                         if name.startswith(incomplete) and not sub["hidden"]]
    if incomplete and not incomplete[0].isalnum():
        for param in params_of(level.node):
            if param["action"] == "argument" or param["hidden"] or (
                    not param["multiple"]
                    and level.sources.get(param["name"]) is COMMANDLINE):
                continue
            items.extend((name, param["help"]) for name in [*param["opts"], *param["secondary"]]
                         if name.startswith(incomplete))
    return items


def _param_items(level: Level, param: dict[str, Any], incomplete: str) -> list[Item]:
    """The values of one parameter (``_TyperParameter.shell_complete``)."""
    spec = param["complete"]
    if spec is None:
        return []
    kind = spec[0]
    if kind == "choices":
        values, case_sensitive = spec[1], spec[2]
        if case_sensitive:
            return [(v, None) for v in values if v.startswith(incomplete)]
        lower = incomplete.lower()
        return [(v, None) for v in values if v.lower().startswith(lower)]
    if kind == "file":
        return [(incomplete, None)]
    from balancecli.cli import complete

    if kind == "static":
        results: Any = complete.static(spec[1], incomplete)
    elif kind == "call":
        roles = {"ctx": level, "args": [], "incomplete": incomplete}
        callback = getattr(complete, spec[1])
        results = callback(**{name: roles[role] for role, name in spec[2].items()})
    else:
        raise Fallback
    items: list[Item] = []
    for result in results:
        value, text = (result[0], result[1]) if isinstance(result, tuple) else (result, None)
        if not isinstance(value, str) or not isinstance(text, str | None):
            raise Fallback
        if value.startswith(incomplete):
            items.append((value, text))
    return items
