"""`crmpay demo`: the whole tour against the built-in sandbox, no account needed.

It runs on a temporary home (or `--home DIR`) with secrets kept in memory, so the
user's real configuration and keyring are never touched.
"""

from __future__ import annotations

import typer

from crmpay.cli._app import Application


def demo(
    home: str = typer.Option(None, "--home", help="Keep the demo's config and store in DIR.", metavar="DIR"),
    json_output: bool = typer.Option(False, "--json", help="Print a JSON summary at the end."),
) -> None:
    """Start the sandbox, connect GoCardless and Mollie to it, and collect a payment.

    Example: crmpay demo
    """
    import tempfile
    from pathlib import Path

    from crmpay.cli._output import Output
    from crmpay.demo import run_tour

    app = Application.current()
    narrator = Output(tables_to_stderr=True) if json_output else app.out
    if home:
        summary = run_tour(Path(home), narrator)
    else:
        with tempfile.TemporaryDirectory(prefix="crmpay-demo-") as tmp:
            summary = run_tour(Path(tmp), narrator)
    if json_output:
        app.out.json(summary)


command = demo
