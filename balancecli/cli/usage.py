"""Usage errors in the tool's own words: one ``error:`` line and exit 2.

Typer validates options with pydantic and shows its wording in a Rich box ("Value error, 'xml'
is not one of ...", "Input should be greater than or equal to 0.1"): several lines a cron mail
or a script's log does not need, in words that are not ours. ``run(app)`` runs the app and
turns those errors into one line naming the option, what is wrong, and where the help is:

    error: --format: 'xml' is not a format; use table, json, jsonl or csv (run: balancecli
    balance --help)
"""

from __future__ import annotations

import sys
from typing import Any

import typer


def run(app: typer.Typer) -> None:
    """Run the root app (the console script's entry point); exits with the command's code."""
    import gc
    import os

    from balancecli.cli.coerce import install

    command = typer.main.get_command(only_invoked(app, sys.argv[1:]))
    install(command)  # option values without pydantic on the common path (coerce.py)
    if COMPLETE_VAR in os.environ or any(
            arg.startswith(("--show-completion", "--install-completion")) for arg in sys.argv):
        from balancecli.cli.complete import use_bash_script

        use_bash_script()  # ids with ":" complete in bash too (complete.py)
    # The modules and the command tree live as long as the process: the collector need not
    # walk them again, during the run (a full collection over ~10^5 objects) or when the
    # interpreter exits (30-40 ms of a 0.4 s run). Cyclic garbage of the run is still collected.
    gc.freeze()
    try:
        code = _main(command)
    finally:
        gc.freeze()  # at exit, nothing is left that needs collecting before the OS frees it
    sys.exit(code if isinstance(code, int) else 0)


def _main(command: Any) -> Any:
    try:
        return command.main(prog_name="balancecli", standalone_mode=False)
    except typer.TyperException as exc:  # Typer's (vendored Click's) usage errors
        if type(exc).__name__ != "NoArgsIsHelpError":  # the help is already printed
            sys.stderr.write(describe(exc) + "\n")
        sys.exit(getattr(exc, "exit_code", 2))
    except (typer.Abort, KeyboardInterrupt):
        # Click turns a Ctrl-C (or Ctrl-D at one of its prompts) before a command's own
        # boundary into Abort: still an interruption (exit 130), not an internal error.
        sys.stderr.write("interrupted\n")
        sys.exit(130)


COMPLETE_VAR = "_BALANCECLI_COMPLETE"  # set by the completion scripts when they call back
_ROOT_VALUED = frozenset({"--config"})  # the root's options that take a value
_ROOT_WHOLE = frozenset({"-h", "--help", "--version", "--install-completion",
                         "--show-completion", "--"})


def only_invoked(app: typer.Typer, args: list[str]) -> typer.Typer:
    """``app`` with only the command or group that ``args`` name, when they plainly name one.

    Typer builds the Click command of every command and group before parsing (about 20 ms
    for all of ours); a run needs one. Anything unusual (help or version at the root, shell
    completion, no command, an unknown name) gets the whole app, so its messages are unchanged.
    """
    import copy
    import os

    if COMPLETE_VAR in os.environ:
        return app  # a completion script asking: it may ask about any command
    name, skip = None, False
    for arg in args:
        if skip:
            skip = False
        elif arg in _ROOT_WHOLE:
            return app
        elif arg.startswith("-"):
            skip = arg in _ROOT_VALUED
        else:
            name = arg
            break
    if name is None:
        return app
    commands = [info for info in app.registered_commands if info.callback is not None and (
        info.name or typer.main.get_command_name(info.callback.__name__)) == name]
    groups = [info for info in app.registered_groups if info.name == name]
    if len(commands) + len(groups) != 1:
        return app
    pruned = copy.copy(app)
    pruned.registered_commands, pruned.registered_groups = commands, groups
    return pruned


def describe(exc: Any) -> str:
    """The one line for a Click/Typer usage error."""
    from balancecli.output.table import printable

    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "balancecli"
    message = _message(exc, ctx)
    return printable(f"error: {message} (run: {path} --help)")


def _option_name(param: Any) -> str:
    opts = [o for o in getattr(param, "opts", []) if o.startswith("--")]
    if opts:
        return opts[0]
    if getattr(param, "param_type_name", "") == "argument":
        return (param.metavar or param.name or "argument").upper()
    return (getattr(param, "opts", None) or [param.name])[0]


def _from_env(ctx: Any, param: Any) -> str | None:
    """The environment variable the bad value came from, if it did."""
    try:
        from typer._click.core import ParameterSource

        if ctx is not None and ctx.get_parameter_source(param.name) == \
                ParameterSource.ENVIRONMENT:
            envvar = param.envvar
            return envvar if isinstance(envvar, str) else ", ".join(envvar)
    except Exception:  # noqa: BLE001 - the hint is optional
        return None
    return None


def _message(exc: Any, ctx: Any) -> str:
    from typer._click import exceptions as click

    if isinstance(exc, click.MissingParameter) and getattr(exc, "param", None) is not None:
        return f"missing {exc.param.param_type_name} {_option_name(exc.param)}"
    if isinstance(exc, click.BadParameter) and getattr(exc, "param", None) is not None:
        param = exc.param
        name = _option_name(param)
        env = _from_env(ctx, param)
        if env:
            name = f"{env} (for {name})"
        cause = exc.__cause__
        if cause is not None and hasattr(cause, "errors"):
            return f"{name}: {_validation(cause.errors()[0], param)}"
        return f"{name}: {exc.message}"
    if isinstance(exc, click.BadParameter) and exc.param_hint:
        return f"{exc.param_hint}: {exc.message}"
    if isinstance(exc, click.NoSuchOption):
        possible = getattr(exc, "possibilities", None)
        hint = f"; did you mean {' or '.join(sorted(possible))}?" if possible else ""
        return f"no such option {exc.option_name}{hint}"
    text = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    text = text.rstrip(".")
    return text[:1].lower() + text[1:]


def _validation(error: dict[str, Any], param: Any) -> str:
    """pydantic's first error, in our words."""
    kind = str(error.get("type", ""))
    value = error.get("input")
    given = f"got {value}" if value is not None else "got nothing"
    limits = error.get("ctx") or {}
    seconds = param.metavar == "SECONDS"
    unit = " seconds" if seconds else ""
    if kind in ("greater_than_equal", "greater_than"):
        bound = limits.get("ge", limits.get("gt"))
        word = "at least" if kind == "greater_than_equal" else "more than"
        return f"must be {word} {bound}{unit}, {given}"
    if kind in ("less_than_equal", "less_than"):
        bound = limits.get("le", limits.get("lt"))
        word = "at most" if kind == "less_than_equal" else "less than"
        return f"must be {word} {bound}{unit}, {given}"
    if kind.startswith("int_"):
        return f"takes a whole number, {given}"
    if kind.startswith(("float_", "decimal_")):
        return f"takes a number{' of seconds' if seconds else ''}, {given}"
    choices = _choices(param)
    if choices:
        return f"{value!r} is not one of {', '.join(choices)}"
    if kind.startswith("bool"):
        return f"takes true or false, {given}"
    return f"invalid value {value!r}"


def _choices(param: Any) -> list[str]:
    descriptor = getattr(param, "type_descriptor", None)
    choices = getattr(descriptor, "choices", None) if descriptor is not None else None
    if not choices:
        return []
    return [str(getattr(c, "value", c)) for c in choices]
