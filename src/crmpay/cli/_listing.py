"""The shared `list` / `show` commands of the store's record kinds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from crmpay.cli._app import Application
from crmpay.core.errors import UsageError


def listing_app(
    kind: str,
    fetch: Callable[..., list[dict[str, Any]]],
    columns: tuple[str, ...],
    with_status: bool = True,
    help: str | None = None,
) -> typer.Typer:
    """A Typer group with `list` and `show` over `fetch(store, **filters)`; a command
    module may add more commands to it."""
    app = typer.Typer(
        help=help or f"List and show {kind}s in the store (filled by `crmpay sync`).", no_args_is_help=True
    )

    @app.command("list")
    def list_(
        provider: str = typer.Option(None, help="Only this provider."),
        status: str = typer.Option(None, help="Only this status (provider's or normalised).", hidden=not with_status),
        customer: str = typer.Option(None, "--customer", help="Only the customer with this email."),
        since: str = typer.Option(None, "--since", help="Created on or after this date (YYYY-MM-DD)."),
        limit: int = typer.Option(None, "--limit", min=1, help="At most N records."),
        json_output: bool = typer.Option(False, "--json", help="Print JSON (a list)."),
    ) -> None:
        from crmpay.cli._options import optional_date

        if status is not None and not with_status:
            raise UsageError(f"{kind}s have no status to filter on", hint=f"see `crmpay {kind}s list --help`")
        day = optional_date(since, "--since")
        filters = {"provider": provider, "customer": customer, "since": day and day.isoformat(), "limit": limit}
        if with_status:
            filters["status"] = status
        out = Application.current()
        items = fetch(out.store(), **filters)
        if json_output:
            out.out.json(items)
            return
        out.out.table(
            columns,
            [[item.get(c) for c in columns] for item in items],
            title=f"{kind}s",
            empty=f"no {kind}s in the store",
        )

    list_.__doc__ = f"List {kind}s, newest first.\n\n    Example: crmpay {kind}s list --provider gocardless --json"

    @app.command("show")
    def show(
        ident: str = typer.Argument(..., help=f"The provider's {kind} id."),
        json_output: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        from crmpay.cli._options import not_empty
        from crmpay.services.listing import one

        not_empty(ident, f"{kind} id")
        out = Application.current()
        item = one(fetch(out.store(), ident=ident), kind, ident)
        if json_output:
            out.out.json(item)
            return
        out.out.fields(item.items(), title=f"{kind} {ident}")

    show.__doc__ = f"Show one {kind}.\n\n    Example: crmpay {kind}s show ID --json"
    return app
