"""``ledgerflow customers``: the customer directory, synced from the account-opening system."""
from __future__ import annotations

from typing import Annotated

import typer

from interfaces.cli.common import _running, console

customers_app = typer.Typer(help="The customer directory (from the account-opening system).", no_args_is_help=True)


@customers_app.command("sync")
def customers_sync(
    source: Annotated[str | None, typer.Option(help="http(s) URL of the account-opening system or a JSON "
                                                        "file (default LEDGERFLOW_CUSTOMER_DIRECTORY)")] = None,
) -> None:
    """Import customer profiles; every new or changed customer is recorded as an event."""
    from domain.shared.context import CommandContext
    from infrastructure.forms.customers import directory_from_setting

    with _running() as container:
        directory = directory_from_setting(source or container.settings.customer_directory,
                                           container.settings.data_dir)
        with console.status("syncing customers…") as status:
            counts = container.forms.sync_customers(CommandContext.system("customer-sync"), directory.customers(),
                                                    lambda n: status.update(f"synced {n} customers…"))
        console.print(f"customers: {counts['registered']} registered, {counts['updated']} updated, "
                      f"{counts['unchanged']} unchanged")
