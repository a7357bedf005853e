"""Dynamic shell completion: the scripts in ``completions/`` call back into the installed
command, and Typer calls these functions with the words typed so far.

Completion runs on every Tab press, so each callback is local, read-only and fast: profile names
come from the config file, account ids and currencies from the history store (opened read-only),
broker, field, column and schema names from the code. None of them opens the network or the
keyring, and any failure (no config, a broken TOML file, no database, a locked one) completes
nothing rather than printing an error into the user's command line.

File names are offered only where a file or directory is asked for (``--config``, ``--db``,
``--output``...): a word with no candidate (``-a`` before any snapshot, ``--since``) gets
none, where Typer's scripts fall back to the shell's file completion (bash ``-o default``,
zsh ``_files``, fish's default).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any  # at run time: Typer evaluates the callbacks' annotations

# Active ISO 4217 codes, without fund, metal and testing codes (XAU, XTS, ...).
ISO_4217 = tuple("""
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
""".split())
RECENT_RUNS = 50  # currencies seen in the last runs: an index range scan, not a table scan
DB_TIMEOUT = 0.2  # seconds: a database locked by a running snapshot completes nothing


def _option(ctx: Any, name: str) -> Any:
    """An option's value given after the command or before it (``--demo``, ``--config``).

    A value typed on the command line wins over one that came from the environment
    (``BALANCECLI_CONFIG`` fills ``--config`` of every level)."""
    chain = []
    while ctx is not None:
        chain.append(ctx)
        ctx = getattr(ctx, "parent", None)
    for typed_only in (True, False):
        for level in chain:
            value = (getattr(level, "params", None) or {}).get(name)
            if value and (not typed_only or _typed(level, name)):
                return value
    return None


def _typed(ctx: Any, name: str) -> bool:
    from balancecli.cli.typer_internals import parameter_source

    return parameter_source(ctx, name) in ("COMMANDLINE", "")  # unknown: take the value


def _matching(candidates: Iterable[str], incomplete: str, *, fold: bool = False,
              exclude: Iterable[str] = ()) -> list[str]:
    """Candidates starting with ``incomplete``. ``fold``: case-insensitive, answered in the
    case typed (Typer keeps only candidates that start with the exact text typed; the commands
    upper-case currencies themselves)."""
    skip = set(exclude)
    prefix = incomplete.upper() if fold else incomplete
    lower = fold and incomplete != incomplete.upper()
    seen: dict[str, None] = {}
    for value in candidates:
        if value and value not in skip and (value.upper() if fold else value).startswith(prefix):
            seen.setdefault(value.lower() if lower else value, None)
    return list(seen)


def _already(ctx: Any, name: str) -> list[str]:
    value = _option(ctx, name)
    return [value] if isinstance(value, str) else list(value or ())


# -- profiles and brokers ----------------------------------------------------------------------


def profile_names(ctx: Any) -> list[str]:
    """The config's profile names in file order; the demo's with ``--demo``; [] on any error."""
    try:
        if _option(ctx, "demo"):
            from balancecli.demo import _DEMOS

            return list(_DEMOS)
        import tomllib

        from balancecli.core.files import read_private
        from balancecli.core.paths import MAX_CONFIG_BYTES, config_path

        # read_private: never a FIFO (Tab would hang the shell) or another user's file; not
        # config.read_toml, whose imports every Tab press would pay for.
        raw = read_private(config_path(_option(ctx, "config")), what="the config file",
                           cap=MAX_CONFIG_BYTES, next_step="")
        data = tomllib.loads(raw.decode("utf-8"))
        profiles = data.get("profiles")
        return [str(name) for name in profiles] if isinstance(profiles, dict) else []
    except Exception:  # noqa: BLE001 - completion must never fail loudly
        return []


def complete_profile(ctx: Any, incomplete: str) -> list[str]:
    """``-p/--profile``: the profiles not already given."""
    return _matching(profile_names(ctx), incomplete, exclude=_already(ctx, "profile"))


def complete_profile_arg(ctx: Any, incomplete: str) -> list[str]:
    """``auth login PROFILE``, ``profile show NAME``: any profile of the config."""
    return _matching(profile_names(ctx), incomplete)


def broker_names() -> list[str]:
    from balancecli.brokers import NAMES

    return list(NAMES)


def field_names() -> list[str]:
    """The balance amounts (``history --field``)."""
    from balancecli.core.models import MONEY_FIELDS, Balance

    return list(MONEY_FIELDS[Balance])


def complete_broker(incomplete: str) -> list[str]:
    return static(broker_names(), incomplete)


def complete_field(incomplete: str) -> list[str]:
    """``history --field``: the balance amounts."""
    return static(field_names(), incomplete)


def static(candidates: Iterable[str], incomplete: str) -> list[str]:
    """What a completer of candidates fixed by the code answers."""
    return _matching(candidates, incomplete)


# Completers whose candidates the code fixes: the completion table (completion_table.py,
# generated) holds the candidates, and a Tab press answers ``static(candidates, incomplete)``
# without importing the brokers or the model.
STATIC = {"complete_broker": broker_names, "complete_field": field_names}


def complete_period(incomplete: str) -> list[str]:
    """``history --every``: the periods."""
    return _matching(("1h", "1d", "1w", "1mo", "1y"), incomplete)


GROUPS = {"balance": ("broker", "profile", "currency", "account"),  # output.specs' groups
          "assets": ("asset", "broker", "profile", "account")}


def complete_group(ctx: Any, incomplete: str) -> list[str]:
    """``--by``: what the command's values can be grouped by."""
    command = getattr(ctx, "info_name", None)  # Click's context and fastcomplete's Level
    return _matching(GROUPS.get(command or "", GROUPS["balance"]), incomplete)


def complete_columns(ctx: Any, incomplete: str) -> list[str]:
    """``--columns a,b,``: the command's field names not yet in the list, after what is
    typed (``value_in`` and ``value`` are offered too, for ``--in``)."""
    from balancecli.output.specs import DATA

    spec = DATA.get(getattr(ctx, "info_name", None) or "")  # the command's name
    if spec is None:
        return []
    head, _, last = incomplete.rpartition(",")
    given = set(head.split(",")) if head else set()
    prefix = f"{head}," if head else ""
    return [prefix + name for name in _matching(spec.column_names(converting=spec.converts),
                                                last, exclude=given)]


def complete_schema(incomplete: str) -> list[str]:
    """``schema NAME``: the documents' short names (``balance``), or their full names once
    ``balancecli.`` is typed."""
    from balancecli.output.schemas import NAMES

    if incomplete.startswith("balancecli"):
        return _matching(NAMES, incomplete)
    return _matching([n.removeprefix("balancecli.").removesuffix("/1") for n in NAMES],
                     incomplete)


# -- the history store -------------------------------------------------------------------------


def _store_rows(ctx: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows from the history store opened read-only, or [] (no database, locked, too old)."""
    import sqlite3
    from urllib.parse import quote

    try:
        from balancecli.core.paths import db_path

        path = Path(db_path(_option(ctx, "db"), demo=bool(_option(ctx, "demo"))))
        if not path.is_file():
            return []
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        con = sqlite3.connect(uri, uri=True, timeout=DB_TIMEOUT)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()
    except Exception:  # noqa: BLE001 - completion must never fail loudly
        return []


def account_ids(ctx: Any) -> list[str]:
    """Every account id stored, of the given ``-p`` profiles if any."""
    profiles = _already(ctx, "profile")
    where = f" WHERE profile IN ({', '.join('?' * len(profiles))})" if profiles else ""
    rows = _store_rows(ctx, f"SELECT DISTINCT account_id FROM accounts{where} "
                            "ORDER BY account_id", tuple(profiles))
    return [str(r[0]) for r in rows]


def complete_account(ctx: Any, incomplete: str) -> list[str]:
    """``-a/--account``: account ids from the history store, not already given."""
    return _matching(account_ids(ctx), incomplete, exclude=_already(ctx, "account"))


def stored_currencies(ctx: Any) -> list[str]:
    """Currencies and assets of the last runs in the history store (crypto included)."""
    since = ("(SELECT started_at FROM runs ORDER BY started_at DESC "
             f"LIMIT 1 OFFSET {RECENT_RUNS - 1})")
    rows = _store_rows(
        ctx,
        f"SELECT currency FROM balances WHERE taken_at >= coalesce({since}, '') "
        f"UNION SELECT asset FROM assets WHERE taken_at >= coalesce({since}, '')")
    return sorted({str(r[0]).upper() for r in rows if r[0]})


def complete_currency(ctx: Any, incomplete: str) -> list[str]:
    """``--currency`` / ``--in``: what the history store has seen first, then ISO 4217."""
    return _matching([*stored_currencies(ctx), *ISO_4217], incomplete, fold=True)


# -- bash: words that contain ":" ---------------------------------------------------------------

BASH_SCRIPT = r"""
%(complete_func)s() {
    local IFS=$'\n'
    # Bash cuts words at COMP_WORDBREAKS, ":" included, so an account id such as
    # cqg-demo:RITHMIC-PAPER-7 would reach the command in three pieces. The command gets the
    # line as typed up to the cursor, and answers only the part bash replaces (after the last
    # ":" of the word being completed).
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD=$COMP_CWORD \
                   _BALANCECLI_COMP_LINE="${COMP_LINE:0:COMP_POINT}" \
                   _BALANCECLI_COMP_WORDBREAKS="$COMP_WORDBREAKS" \
                   %(autocomplete_var)s=complete_bash $1 ) )
    # A file or directory is asked for here: bash's own file names. Anywhere else a word
    # with no candidate gets none.
    if [[ ${COMPREPLY[0]} == "-:files:-" ]]; then
        COMPREPLY=()
        compopt -o default
    elif [[ ${COMPREPLY[0]} == "-:dirs:-" ]]; then
        COMPREPLY=()
        compopt -o dirnames
    fi
    return 0
}

complete -F %(complete_func)s %(prog_name)s
"""


def split_arg_string(string: str) -> list[str]:
    """Words as a shell would split them, an unfinished quote or escape kept as typed (Click's
    ``shell_completion.split_arg_string``)."""
    import shlex

    lex = shlex.shlex(string, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    out = []
    try:
        for token in lex:
            out.append(token)
    except ValueError:
        out.append(lex.token)
    return out


def bash_words(environ: Mapping[str, str]) -> tuple[list[str], str] | None:
    """The words before the one being completed, and that one, from the line BASH_SCRIPT
    passes; None without it (an older script: COMP_WORDS as Typer reads them)."""
    line = environ.get("_BALANCECLI_COMP_LINE")
    if not line:
        return None
    words = split_arg_string(line)
    if line[-1].isspace() or not words:
        return words[1:], ""
    return words[1:-1], words[-1]


def bash_reply(values: Iterable[str], incomplete: str, wordbreaks: str) -> str:
    """The candidates as bash replaces them: only the part after the last word break (":")
    of the word being completed."""
    breaks = set(wordbreaks) - set(" \t\n\"'")
    kept = max((incomplete.rfind(c) for c in breaks), default=-1) + 1
    return "\n".join(v[kept:] if v[:kept] == incomplete[:kept] else v for v in values)


MARKS = {"file": "-:files:-", "dir": "-:dirs:-"}  # what the bash script turns into file names


def path_mark(kind: str | None) -> str:
    """bash's reply when nothing matched: the mark BASH_SCRIPT turns into the shell's own
    file (or directory) names where a path is asked for, else nothing."""
    return MARKS[kind] if kind else ""


def zsh_empty(kind: str | None) -> str:
    """zsh's reply when nothing matched: its own file names only where a path is asked for."""
    return {"file": "_files", "dir": "_files -/"}.get(kind or "", "")


def use_bash_script() -> None:
    """Make ``--show-completion bash`` and ``complete_bash`` ours (see BASH_SCRIPT); without
    ``_BALANCECLI_COMP_LINE`` (an older script) it completes as Typer does. zsh and fish
    offer file names only where a path is asked for, too (``use_other_shells``)."""
    import os

    from balancecli.cli.typer_internals import bash_completion, path_kind

    use_other_shells()

    found = bash_completion()
    if found is None:  # another Typer: its own script, colons and all
        return
    BashComplete, add_completion_class, _, _completion_scripts = found  # noqa: N806

    class Bash(BashComplete):  # type: ignore[valid-type, misc]  # a class from typer_internals
        source_template = BASH_SCRIPT

        def get_completion_args(self) -> tuple[list[str], str]:
            return bash_words(os.environ) or super().get_completion_args()

        def complete(self) -> str:
            args, incomplete = self.get_completion_args()
            values = [self.format_completion(item)
                      for item in self.get_completions(args, incomplete)]
            if not values:
                return path_mark(path_kind(self, args, incomplete))
            return bash_reply(values, incomplete, os.environ.get("_BALANCECLI_COMP_WORDBREAKS", ""))

    add_completion_class(Bash, "bash")  # what the script calls back
    _completion_scripts["bash"] = BASH_SCRIPT  # what --show/--install-completion write


def use_other_shells() -> None:
    """zsh and fish: file names only where a file or directory is asked for. Typer's classes
    answer ``_files`` (zsh) or let fish offer files whenever nothing matched."""
    import sys

    from balancecli.cli.typer_internals import bash_completion, other_shells, path_kind

    found, bash = other_shells(), bash_completion()
    if found is None or bash is None:
        return
    ZshComplete, FishComplete = found  # noqa: N806
    add_completion_class = bash[1]

    class Zsh(ZshComplete):  # type: ignore[valid-type, misc]  # a class from typer_internals
        def complete(self) -> str:
            args, incomplete = self.get_completion_args()
            if self.get_completions(args, incomplete):
                return super().complete()  # type: ignore[no-any-return]
            return zsh_empty(path_kind(self, args, incomplete))

    class Fish(FishComplete):  # type: ignore[valid-type, misc]  # a class from typer_internals
        def complete(self) -> str:
            import os

            args, incomplete = self.get_completion_args()
            if os.getenv("_TYPER_COMPLETE_FISH_ACTION", "") == "is-args" and not \
                    self.get_completions(args, incomplete):
                # exit 1: fish offers files; 0: our (empty) answer, so nothing
                sys.exit(1 if path_kind(self, args, incomplete) else 0)
            return super().complete()  # type: ignore[no-any-return]

    add_completion_class(Zsh, "zsh")
    add_completion_class(Fish, "fish")
