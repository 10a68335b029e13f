"""The `crmpay` command line.

The root group is lazy: `crmpay --help` lists commands from the table below without
importing them, and a command's module (and what it needs: SDKs, the store, reportlab,
the sandbox) is imported only when that command runs.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from crmpay import __version__

# name -> (module, one-line help). A module exposes `command` (a Typer app or function).
COMMANDS: dict[str, tuple[str, str]] = {
    "connect": ("crmpay.cli.connect", "Connect a service: check credentials, keep them in the keyring."),
    "disconnect": ("crmpay.cli.disconnect", "Remove a service's secrets and settings from a profile."),
    "status": ("crmpay.cli.status", "Show which services are connected, and from where."),
    "config": ("crmpay.cli.config_cmd", "Show or change the configuration file."),
    "sync": ("crmpay.cli.sync", "Sync providers into the store, then push the changes to the CRM."),
    "customers": ("crmpay.cli.customers", "List and show customers in the store."),
    "mandates": ("crmpay.cli.mandates", "Import, list and show direct-debit mandates."),
    "invoices": ("crmpay.cli.invoices", "Create, credit, send, collect, render and list invoices."),
    "payments": ("crmpay.cli.payments", "List payments; cancel a direct debit; record a manual payment."),
    "subscriptions": ("crmpay.cli.subscriptions", "Recurring invoices: create, list, reprice, pause, cancel."),
    "billing": ("crmpay.cli.billing", "Issue and collect what subscriptions have come due (cron, daily)."),
    "dunning": ("crmpay.cli.dunning", "Reminders for unpaid invoices, and where each stands."),
    "calls": ("crmpay.cli.calls", "Import call records (SipSim, Asterisk) into the CRM, by rules."),
    "crm": ("crmpay.cli.crm", "Check the profile's CRM mapping and scopes."),
    "webhooks": ("crmpay.cli.webhooks", "Receive provider webhooks: the store and the CRM kept current."),
    "sandbox": ("crmpay.cli.sandbox", "Run the built-in sandbox of every service."),
    "demo": ("crmpay.cli.demo", "Tour crmpay against the built-in sandbox, no account needed."),
}

# Other names of a command: the singular of a group (`crmpay invoices send` = `crmpay
# invoices send`). They run the same command and are not listed in `crmpay --help`.
ALIASES: dict[str, str] = {"invoice": "invoices", "payment": "payments"}


class LazyGroup(TyperGroup):
    """Imports a command's module only when that command is run (or its help shown).

    The context is typed `Any`: typer's base class names the click `Context` it bundles
    privately (recent releases) or click's own (older ones), and both are accepted here.
    """

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _tidy_help(self)  # the root's own options (typer adds completion's late), as every command's
        self._listing = True  # the command list needs names and help lines only
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def get_command(self, ctx: Any, name: str) -> Any:
        name = ALIASES.get(name, name)
        if name not in COMMANDS:
            return None
        module, help_text = COMMANDS[name]
        if self._listing:
            return TyperCommand(name, help=help_text, short_help=help_text)
        import importlib

        target = importlib.import_module(module).command
        if not isinstance(target, typer.Typer):  # a plain function: a single command
            single = typer.Typer()
            single.command(name=name)(target)
            target = single
        target._add_completion = False  # completion belongs to `crmpay` itself, not each command
        command = typer.main.get_command(target)
        command.name = name
        _tidy_help(command)
        return command

    def invoke(self, ctx: Any) -> Any:
        from crmpay.core.errors import CrmpayError

        try:
            return super().invoke(ctx)
        except CrmpayError as exc:
            _report(str(exc), verbose=_verbose(ctx))
            ctx.exit(int(exc.exit_code))
        except (typer.TyperException, typer.Exit, typer.Abort):
            raise
        except (KeyboardInterrupt, BrokenPipeError):  # a closed pipe: main() ends quietly
            raise
        except Exception as exc:  # the environment's doing (exit 2 or 5), else a bug
            from crmpay.core.errors import from_environment

            known = from_environment(exc)
            if known is not None:
                _report(str(known), verbose=_verbose(ctx))
                ctx.exit(int(known.exit_code))
            _report(
                f"internal error: {type(exc).__name__}: {exc}",
                verbose=_verbose(ctx),
                hint="run again with --verbose for the traceback",
            )
            ctx.exit(1)


def _tidy_help(command: Any) -> None:
    """What typer shows of a command and its sub-commands: no `<bool>` type on a flag
    (`--help` included), arguments by name, and docstrings as paragraphs (source line breaks would otherwise
    print mid-sentence)."""
    for param in getattr(command, "params", []):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif param.param_type_name == "argument" and param.metavar is None and param.name:
            param.metavar = param.name.upper()  # `NUMBER`, not `{number}`
    if command.help:
        command.help = _paragraphs(command.help)
    make_help_option = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = make_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        _tidy_help(sub)


def _paragraphs(text: str) -> str:
    """A docstring's paragraphs, each on one line (rich wraps them to the terminal)."""
    import inspect
    import re

    return "\n\n".join(" ".join(part.split()) for part in re.split(r"\n\s*\n", inspect.cleandoc(text)))


def _verbose(ctx: typer.Context) -> bool:
    state = ctx.find_root().obj
    return bool(getattr(state, "verbose", False)) or "--verbose" in sys.argv


def _report(message: str, *, verbose: bool, hint: str | None = None) -> None:
    if verbose:
        import traceback

        traceback.print_exc(file=sys.stderr)
    line = f"error: {message}"
    if hint and not verbose:
        line += f" ({hint})"
    print(line, file=sys.stderr)


def _version(value: bool) -> None:
    if value:
        print(f"crmpay {__version__}")
        raise typer.Exit()


SERVERS = ("sandbox", "webhooks", "demo")  # long-running by design: no command deadline

app = typer.Typer(
    cls=LazyGroup,
    name="crmpay",
    help=(
        "Direct-debit billing from the terminal: Zoho CRM, GoCardless, Mollie and call "
        "records, with a built-in sandbox.\n\nStart with: crmpay demo"
    ),
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    profile: str | None = typer.Option(
        None, "--profile", "-p", help="Profile to use (else CRMPAY_PROFILE, else the file's default)."
    ),
    home: str | None = typer.Option(
        None, "--home", help="Keep config and data under DIR (else CRMPAY_HOME).", metavar="DIR"
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show details and tracebacks."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    import logging

    from crmpay.cli._app import Application

    # Libraries log through the root logger (the Mollie SDK warns on every idempotent
    # replay); a command says what matters itself, so only errors pass unless --verbose.
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, format="%(name)s: %(message)s")
    ctx.obj = Application.start(profile=profile, home=home, verbose=verbose)
    ctx.call_on_close(ctx.obj.close)
    if ctx.invoked_subcommand not in SERVERS:  # a command ends within CRMPAY_COMMAND_TIMEOUT
        from crmpay.retry import command_deadline

        ctx.with_resource(command_deadline())


def main() -> None:
    try:
        app(prog_name="crmpay")
    except BrokenPipeError:  # `crmpay … | head` closed the pipe: not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit flush goes nowhere
