"""``summarizer models``: the local models the embedded server can run."""

from __future__ import annotations

from typing import Annotated

import typer

from summarizer.cli.options import user_errors

models_app = typer.Typer(
    help="The local models the embedded server can run: list them, assemble one, print its path.\n\n"
    "Without a sub-command: list them.",
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)
ModelName = Annotated[
    str | None, typer.Argument(help="A known model (default: qwen2.5-coder-1.5b).", show_default=False)
]


@models_app.callback()
def models_list(ctx: typer.Context) -> None:
    """List the known models: name, size, state, where the file is, what it is for."""
    if ctx.invoked_subcommand is not None:
        return
    from summarizer.local.models import DEFAULT_MODEL, REGISTRY, human_size, status

    with user_errors():
        for model in REGISTRY.values():
            state = status(model)
            default = " (default)" if model.name == DEFAULT_MODEL else ""
            typer.echo(f"{model.name}{default}  {human_size(model.size)}  {state.state}  {model.license}")
            typer.echo(f"    {model.purpose}")
            if state.state == "ready":
                typer.echo(f"    file: {state.path}")
            elif state.state == "not assembled":
                typer.echo(f"    assembled on first use, or now: summarizer models pull {model.name}")
                typer.echo(f"    into: {state.path}")
            else:
                typer.echo(f"    install: {model.install}")


@models_app.command("pull")
def models_pull(name: ModelName = None) -> None:
    """Make a known model ready: assemble it into the cache if needed and verify its sha256."""
    from summarizer.local.models import DEFAULT_MODEL, ensure_model

    with user_errors():
        path = ensure_model(name or DEFAULT_MODEL, verify=True)
    typer.echo(f"{name or DEFAULT_MODEL} ready: {path}", err=True)


@models_app.command("path")
def models_path(name: ModelName = None) -> None:
    """Print the GGUF path of a known model (assembling it first if needed), e.g. for --model-path."""
    from summarizer.local.models import DEFAULT_MODEL, ensure_model

    with user_errors():
        path = ensure_model(name or DEFAULT_MODEL)
    typer.echo(str(path))
