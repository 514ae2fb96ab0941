"""What the commands share: the model options (one set, the same in ``brief``, ``batch`` and
``serve``), settings built from them, and our errors as one line and an exit code."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from summarizer.errors import ConfigurationError, SummarizerError

# Options shared by every command that talks to a model.
BaseUrl = Annotated[
    str | None,
    typer.Option("--base-url", help="OpenAI-compatible endpoint. [env: OPENAI_BASE_URL]", show_default=False),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key", help="API key (not needed on loopback). [env: OPENAI_API_KEY]", show_default=False
    ),
]
Model = Annotated[
    str | None,
    typer.Option("--model", help="Model name at the endpoint. [env: SUMMARIZER_MODEL]", show_default=False),
]
ModelPath = Annotated[
    Path | None,
    typer.Option(
        "--model-path",
        help="Run this GGUF file in the embedded server instead of a known model. "
        "[env: SUMMARIZER_MODEL_PATH]",
        show_default=False,
    ),
]
EmbeddedModel = Annotated[
    str | None,
    typer.Option(
        "--embedded-model",
        help="Known model for the embedded server (see `summarizer models`; default "
        "qwen2.5-coder-1.5b). [env: SUMMARIZER_EMBEDDED_MODEL]",
        show_default=False,
    ),
]
Slots = Annotated[
    int | None,
    typer.Option(
        "--slots",
        min=1,
        max=16,
        help="Answers the embedded server decodes side by side (default 1; on 2 CPU cores 2 or 4 "
        "gained nothing, see bench/embedded_slots.py). [env: SUMMARIZER_EMBEDDED_SLOTS]",
        show_default=False,
    ),
]
StructuredOut = Annotated[
    str | None,
    typer.Option(
        "--structured-output",
        help="auto | tools | json_schema | json_object | grammar. [env: SUMMARIZER_STRUCTURED_OUTPUT]",
        show_default=False,
    ),
]
Timeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        help="Seconds per model request (default 600). [env: SUMMARIZER_TIMEOUT]",
        show_default=False,
    ),
]
MaxBytes = Annotated[
    int | None,
    typer.Option(
        "--max-bytes",
        help="Largest article file accepted (default 2000000). [env: SUMMARIZER_MAX_BYTES]",
        show_default=False,
    ),
]

# The options above by parameter name, in the order ``--help`` shows them.
MODEL_OPTIONS: dict[str, Any] = {
    "base_url": BaseUrl, "api_key": ApiKey, "model": Model, "model_path": ModelPath,
    "embedded_model": EmbeddedModel, "embedded_slots": Slots, "structured_output": StructuredOut,
    "timeout": Timeout, "max_bytes": MaxBytes,
}  # fmt: skip

F = TypeVar("F", bound=Callable[..., Any])


def with_model_options(command: F) -> F:
    """Give a command the model options, written once: its own parameters, then these (typer
    reads the signature); the command takes them as ``**model`` and passes them to
    ``model_settings``."""
    signature = inspect.signature(command, eval_str=True)  # the annotations as objects, not strings
    own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
        for name, kind in MODEL_OPTIONS.items()
    ]
    command.__signature__ = signature.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
    return command


def model_settings(model: Mapping[str, Any]) -> Any:
    """``Settings`` from a command's model options: the flags given, over the environment and
    the defaults."""
    return settings_from(**{k: model.get(k) for k in MODEL_OPTIONS})


def settings_from(**flags: Any) -> Any:
    from summarizer.settings import Settings

    given: dict[str, Any] = {
        k: (str(v) if isinstance(v, Path) else v) for k, v in flags.items() if v is not None
    }
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigurationError(
            f"invalid setting {where}: {first['msg']}; check the flag or environment variable"
        ) from None


def fail(error: SummarizerError) -> NoReturn:
    typer.echo(f"summarizer: error: {error}", err=True)
    raise typer.Exit(error.exit_code)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Our errors become one line and their exit code; Ctrl-C (or SIGTERM) exits 130.

    Context managers inside (the embedded server above all) are closed on the way out.
    """
    try:
        yield
    except SummarizerError as exc:
        fail(exc)
    except KeyboardInterrupt:
        typer.echo("summarizer: interrupted", err=True)
        raise typer.Exit(130) from None
