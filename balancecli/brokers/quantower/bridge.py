"""The Quantower bridge: a C# Strategy shipped with balancecli.

Quantower has no network API, only its in-process C# API, so ``BalanceCliBridge.cs`` runs inside
Quantower and exports ``Core.Instance.Accounts`` to a JSON document (a file and/or
``http://127.0.0.1:PORT/`` behind a bearer token) that ``balancecli.brokers.quantower`` reads.
"""

from __future__ import annotations

from balancecli.brokers.shipped import Commands, ShippedFile

SOURCE_FILE = "BalanceCliBridge.cs"
DEFAULT_EXPORT = "~/quantower/balancecli-export.json"


def bridge_source() -> str:
    """The C# source of the BalanceCliBridge Strategy."""
    from importlib.resources import files  # here: --help lists this command, fast

    return files("balancecli.brokers.quantower").joinpath(SOURCE_FILE).read_text(
        encoding="utf-8")


def install_steps(source_path: str | None = None) -> str:
    """How to build the bridge in Quantower and point a balancecli profile at it."""
    where = source_path or SOURCE_FILE
    return f"""\
Install the balancecli bridge in Quantower (Windows):
  1. Save the source: balancecli quantower bridge --output {where}
  2. In Visual Studio 2022 with the "Quantower Algo" extension, create a new
     "Quantower Strategy" project named BalanceCliBridge, replace its .cs file with {where}
     and build it: the extension copies the DLL into Quantower's Scripts\\Strategies folder.
     (Without the extension: a .NET 8 class library referencing TradingPlatform.BusinessLayer.dll
     from Quantower's TradingPlatform\\v1.*\\bin folder; copy the built DLL to
     Quantower\\Settings\\Scripts\\Strategies\\BalanceCliBridge\\.)
  3. In Quantower open Strategies manager, add "BalanceCliBridge", set its inputs and Run it:
       Export file path      default %USERPROFILE%\\quantower\\balancecli-export.json
       Export every N seconds (also re-exported about 1 s after an account update)
       HTTP port             0 = file only; else served on http://127.0.0.1:PORT/ only
       HTTP bearer token     needed for HTTP; generate one with:
                             python -c "import secrets; print(secrets.token_urlsafe(32))"
     Keep it running: balancecli reports an export older than max_age as stale (exit 5).
  4. Add a balancecli profile (config.toml):
       [profiles.qt]
       broker = "quantower"
       source = "{DEFAULT_EXPORT}"     # or "http://127.0.0.1:PORT/"
       max_age = 600                  # seconds; 0 disables the staleness check
     For an http source store the token: balancecli auth login qt
     (or set BALANCECLI_QT_TOKEN).
  5. Check: balancecli accounts -p qt
"""


# ``balancecli quantower bridge``: the broker's own command (registered through the registry).
COMMANDS = Commands(
    help="Quantower: print the C# bridge Strategy that exports accounts for balancecli.",
    examples=("balancecli quantower bridge -o BalanceCliBridge.cs",),
    files=(ShippedFile(
        name="bridge",
        help="Print the BalanceCliBridge C# Strategy source (install steps go to stderr).",
        what="the C# source",
        examples=("balancecli quantower bridge > BalanceCliBridge.cs",
                  "balancecli quantower bridge -o ~/Documents/BalanceCliBridge.cs"),
        content=bridge_source, steps=install_steps),),
)
