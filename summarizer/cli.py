"""The ``summarizer`` command: a thin shell over the Python API.

Errors become one line on stderr (``summarizer: error: ...``) and the exit code of their class
(see ``summarizer.errors``); Ctrl-C exits 130 after the embedded server is stopped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from summarizer.errors import ConfigurationError, SummarizerError

app = typer.Typer(
    name="summarizer",
    help="Turn news articles into validated, source-grounded event summaries.\n\n"
    "With no endpoint configured, a local llama.cpp server with the bundled SmolLM2 model is "
    "started and stopped for you (demo quality). Point --base-url at OpenAI, vLLM or Ollama "
    "for newsroom-grade briefs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

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
        "--model-path", help="Run this GGUF in the embedded server instead of SmolLM2.", show_default=False
    ),
]
StructuredOut = Annotated[
    str | None,
    typer.Option(
        "--structured-output",
        help="auto | tools | json_schema | json_object. [env: SUMMARIZER_STRUCTURED_OUTPUT]",
        show_default=False,
    ),
]
Timeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        help="Seconds per model request (default 180). [env: SUMMARIZER_TIMEOUT]",
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


def _settings(**flags: Any) -> Any:
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


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(SummarizerError(f"cannot write {output}: {exc.strerror}; check the path and free space"))
    typer.echo(f"wrote {output}", err=True)


@app.command()
def brief(
    path: Annotated[str, typer.Argument(help="Article file (.txt .md .html .json), or - for stdin.")],
    output_format: Annotated[str, typer.Option("--format", "-f", help="markdown | json | html")] = "markdown",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    model: Model = None,
    model_path: ModelPath = None,
    structured_output: StructuredOut = None,
    timeout: Timeout = None,
    max_bytes: MaxBytes = None,
) -> None:
    """Summarise one article and print a brief (Markdown by default).

    Every quote, figure and claim is checked against the article; what cannot be tied
    to its text is listed as rejected and the brief is flagged for review.

    Exit codes: 0 ok, 2 configuration, 3 bad input, 4 endpoint, 5 bad API key,
    6 unusable model answer, 130 interrupted.
    """
    from summarizer.articles import load_article
    from summarizer.pipeline import Summarizer
    from summarizer.render import to_json, to_markdown

    if output_format not in {"markdown", "json", "html"}:
        fail(ConfigurationError(f"unknown --format {output_format!r}; use markdown, json or html"))
    with user_errors():
        settings = _settings(
            base_url=base_url, api_key=api_key, model=model, model_path=model_path,
            structured_output=structured_output, timeout=timeout, max_bytes=max_bytes,
        )  # fmt: skip
        article = load_article(path, max_bytes=settings.max_bytes)
        with Summarizer(settings) as run:
            record = run.summarize(article)
    if output_format == "json":
        text = to_json(record) + "\n"
    elif output_format == "html":
        from summarizer.html import to_html

        text = to_html(record)
    else:
        text = to_markdown(record)
    _write(text, output)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the stored record (the same as schemas/event_summary.schema.json)."""
    from summarizer.schema import record_json_schema

    sys.stdout.write(json.dumps(record_json_schema(), indent=2, ensure_ascii=False) + "\n")


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM behaves like Ctrl-C: context managers stop the embedded server on the way out.
    raise KeyboardInterrupt


def main() -> None:
    # We report failures ourselves, in one line; instructor's per-attempt error logs are noise.
    logging.getLogger("instructor").setLevel(logging.CRITICAL)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("summarizer: interrupted", err=True)
        sys.exit(130)
