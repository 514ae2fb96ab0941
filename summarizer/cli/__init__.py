"""The ``summarizer`` command: a thin shell over the Python API.

Errors become one line on stderr (``summarizer: error: ...``) and the exit code of their class
(see ``summarizer.errors``); Ctrl-C exits 130 after the embedded server is stopped.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from summarizer.cli.models import models_app
from summarizer.cli.options import fail, model_settings, user_errors, with_model_options
from summarizer.errors import ConfigurationError, SummarizerError

app = typer.Typer(
    name="summarizer",
    help="Turn news articles into validated, source-grounded event summaries.\n\n"
    "With no endpoint configured, a local llama.cpp server with a small local model "
    "(Qwen2.5-Coder-1.5B; see `summarizer models`) is started and stopped for you. Point "
    "--base-url at OpenAI, vLLM or Ollama for newsroom-grade briefs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


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
@with_model_options
def brief(
    path: Annotated[str, typer.Argument(help="Article file (.txt .md .html .json), or - for stdin.")],
    output_format: Annotated[str, typer.Option("--format", "-f", help="markdown | json | html")] = "markdown",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    **model: Any,
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
        settings = model_settings(model)
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
@with_model_options
def batch(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Folders (recursive: .txt .md .html .json .jsonl), JSONL files, or - (JSONL on stdin)."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Append-only JSONL of records.")],
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            help="Model requests in flight (meanwhile the next articles are prepared, the answered checked).",
        ),
    ] = 4,
    rpm: Annotated[
        float | None, typer.Option("--rpm", min=1, help="Client-side requests per minute.")
    ] = None,
    tpm: Annotated[float | None, typer.Option("--tpm", min=1, help="Client-side tokens per minute.")] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run again the articles in OUT.failed.jsonl.")
    ] = False,
    shard: Annotated[
        str | None, typer.Option("--shard", help="K/N: take only this machine's share, e.g. 2/8.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count articles, estimate tokens and cost; call nothing.")
    ] = False,
    price_in: Annotated[float | None, typer.Option("--price-in", help="USD per 1M prompt tokens.")] = None,
    price_out: Annotated[float | None, typer.Option("--price-out", help="USD per 1M output tokens.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, only the final tally.")] = False,
    via: Annotated[
        str,
        typer.Option(
            "--via",
            help="local: requests as you go (--concurrency at a time). batch-api: the "
            "provider's Batch API (half price, answers within 24 h; needs --base-url).",
        ),
    ] = "local",
    poll: Annotated[
        float, typer.Option("--poll", min=0.01, help="batch-api: seconds between looks at the batches.")
    ] = 60.0,
    batch_requests: Annotated[
        int,
        typer.Option("--batch-requests", min=1, help="batch-api: most requests in one uploaded file."),
    ] = 50_000,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Write the requests of the articles not done yet to this JSONL (OpenAI batch "
            "format, for vllm run-batch); call nothing.",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="local: this process. ray: actors on a Ray cluster (the ray extra; needs --base-url).",
        ),
    ] = "local",
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            min=1,
            help="local: worker processes sharing --concurrency, for a fast endpoint the client "
            "cannot keep up with on one core (needs --base-url).",
        ),
    ] = 1,
    actors: Annotated[
        int, typer.Option("--actors", min=1, help="ray: actors, each with --concurrency in flight.")
    ] = 2,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            envvar="RAY_ADDRESS",
            show_default=False,
            help="ray: the cluster to join (auto, or ray://host:10001); default: a local Ray for this run.",
        ),
    ] = None,
    import_: Annotated[
        Path | None,
        typer.Option(
            "--import",
            help="Collect a results JSONL (vllm run-batch's output) into OUT: validated, grounded.",
        ),
    ] = None,
    **model: Any,
) -> None:
    """Summarise a whole archive into OUT (JSONL), resumably and exactly once.

    Each finished article is fsynced to OUT before it counts; failures go to
    OUT.failed.jsonl with the reason. Rerunning the same command skips what is done
    (zero model calls) and finishes the rest; --retry-failed also redoes failures.
    Identical texts are summarised once. The final line always reads
    'inputs = succeeded + failed + pending'.

    --via batch-api sends the articles through the provider's Batch API: request files
    are uploaded and their batches created once, their ids kept in OUT.batch-api/ so a
    stopped run resumes by polling; each answer is checked like a synchronous one.
    --export/--import do the same through files, for vllm run-batch. --processes N runs
    the articles in N worker processes on this machine; --engine ray on a Ray cluster's
    actors (the ray extra), into the same OUT.

    Exit codes: 0 all succeeded, 8 some articles failed (see OUT.failed.jsonl),
    2 configuration, 4 endpoint, 5 bad API key (run stopped), 7 output file
    problem (e.g. disk full; finished work kept), 130 interrupted (rerun to resume).
    """
    import asyncio

    from summarizer.batch import EXIT_SOME_FAILED, BatchOptions, estimate, parse_shard
    from summarizer.inputs import count_inputs, iter_inputs, other_files, output_among_inputs
    from summarizer.pricing import pricing_for

    with user_errors():
        settings = model_settings(model)
        options = BatchOptions(concurrency, rpm, tpm, retry_failed, parse_shard(shard))
        model_name = settings.resolved_model()
        pricing = pricing_for(
            model_name, embedded=settings.embedded, price_in=price_in, price_out=price_out,
            base_url=settings.base_url,
        )  # fmt: skip
        # The run's own files (OUT, OUT.failed.jsonl) are never read back as articles.
        items = iter_inputs(inputs, max_bytes=settings.max_bytes, output=output)
        if (warning := output_among_inputs(inputs, output)) is not None:
            typer.echo(f"summarizer: {warning}", err=True)
        if skipped := other_files(inputs, output=output):
            names = ", ".join(p.name for p in skipped[:3]) + (", ..." if len(skipped) > 3 else "")
            typer.echo(
                f"summarizer: note: {len(skipped)} file{'s' * (len(skipped) != 1)} in the folders "
                f"skipped, not an article type ({names}); articles are .txt, .md, .html, .json, .jsonl",
                err=True,
            )
        if via not in ("local", "batch-api"):
            raise ConfigurationError(f"unknown --via {via!r}; use local or batch-api")
        if engine not in ("local", "ray"):
            raise ConfigurationError(f"unknown --engine {engine!r}; use local or ray")
        if engine == "ray" and (via != "local" or export or import_):
            raise ConfigurationError(
                "--engine ray runs requests as they go: drop --via, --export and --import"
            )
        if processes > 1 and (engine != "local" or via != "local" or export or import_):
            raise ConfigurationError(
                "--processes is for requests as they go on this machine: drop --engine, --via, "
                "--export and --import, or --processes"
            )
        if export is not None and import_ is not None:
            raise ConfigurationError("give --export or --import, not both (export, run, then import)")
        if dry_run and via == "batch-api":
            _dry_run_batch_api(items, settings, pricing.at_batch_rates(), batch_requests)
            return
        if dry_run:
            est = estimate(items, settings)
            cost = pricing.cost(est["prompt_tokens"], est["completion_tokens_max"])
            money = f"${cost:.2f} at most ({pricing.source})" if cost is not None else pricing.source
            typer.echo(
                f"{est['articles']} articles ({est['unreadable']} unreadable); about "
                f"{est['prompt_tokens']:,} prompt tokens ({est['counted_by']}), at most "
                f"{est['completion_tokens_max']:,} output tokens for {model_name}; cost {money}"
            )
            return
        total = count_inputs(inputs, output=output)
        if total is not None and options.shard is not None:
            total = None  # a shard's share is known only after hashing each article
        runner = _runner(
            settings, output, options, pricing, quiet=quiet, via=via, poll=poll,
            batch_requests=batch_requests, export=export, results=import_,
            ray=(actors, ray_address) if engine == "ray" else None, processes=processes,
        )  # fmt: skip
        tally = asyncio.run(runner.run(items, total))
    _after_files(runner, export, import_)
    if tally.interrupted:
        held = " (the batches go on at the provider)" if via == "batch-api" else ""
        typer.echo(f"summarizer: interrupted{held}; rerun the same command to resume", err=True)
        raise typer.Exit(130)
    if tally.failed:
        raise typer.Exit(EXIT_SOME_FAILED)


def _runner(
    settings: Any, output: Path, options: Any, pricing: Any, *, quiet: bool, via: str, poll: float,
    batch_requests: int, export: Path | None, results: Path | None, ray: tuple[int, str | None] | None,
    processes: int = 1,
) -> Any:  # fmt: skip
    """The runner the options ask for: local, Batch API, through a file, or on Ray."""
    from summarizer.batch import BatchRunner
    from summarizer.batch.exchange import ExportRunner, ImportRunner
    from summarizer.batch.provider import ProviderOptions, ProviderRunner
    from summarizer.progress import progress_for

    if ray is not None:
        from summarizer.batch.ray_engine import RayRunner

        actors, address = ray
        progress = progress_for(pricing, quiet=quiet)
        return RayRunner(settings, output, options, actors=actors, address=address, progress=progress)
    if export is not None:
        return ExportRunner(settings, output, export, options, progress=progress_for(pricing, quiet=quiet))
    if results is not None:
        progress = progress_for(pricing.at_batch_rates(), quiet=quiet)
        return ImportRunner(settings, output, results, options, progress=progress)
    if via == "batch-api":
        provider = ProviderOptions(poll_seconds=poll, max_requests=batch_requests)
        progress = progress_for(pricing.at_batch_rates(), quiet=quiet)
        return ProviderRunner(settings, output, options, provider=provider, progress=progress)
    if processes > 1:
        from summarizer.batch.processes import ProcessRunner

        progress = progress_for(pricing, quiet=quiet)
        return ProcessRunner(settings, output, options, processes=processes, progress=progress)
    return BatchRunner(settings, output, options, progress=progress_for(pricing, quiet=quiet))


def _after_files(runner: Any, export: Path | None, results: Path | None) -> None:
    """What ``--export``/``--import`` did, in a line."""
    if export is not None:
        typer.echo(f"summarizer: wrote {runner.written} requests to {export}", err=True)
    if results is not None and runner.missing:
        typer.echo(
            f"summarizer: {runner.missing} articles have no line in {results}; they stay pending "
            "(--export again writes only those)",
            err=True,
        )


def _dry_run_batch_api(items: Any, settings: Any, pricing: Any, batch_requests: int) -> None:
    from summarizer.batch.provider_state import MAX_BYTES
    from summarizer.batch.request_lines import batch_endpoint, estimate_requests
    from summarizer.progress import human_size

    est = estimate_requests(items, settings, batch_endpoint(settings), batch_requests, MAX_BYTES)
    cost = pricing.cost(est["prompt_tokens"], est["completion_tokens_max"])
    money = f"${cost:.2f} at most ({pricing.source})" if cost is not None else pricing.source
    typer.echo(
        f"{est['articles']} articles ({est['unreadable']} unreadable): {est['requests']} requests in "
        f"{est['files']} file{'s' * (est['files'] != 1)} ({human_size(est['bytes'])}); about "
        f"{est['prompt_tokens']:,} prompt tokens ({est['counted_by']}), at most "
        f"{est['completion_tokens_max']:,} output tokens for {settings.resolved_model()}; cost {money}"
    )


@app.command()
@with_model_options
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any free one).")] = 8765,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="SUMMARIZER_DATA_DIR",
            show_default=False,
            help="Where briefs are kept (SQLite). Default: $XDG_DATA_HOME/summarizer/desk "
            "(~/.local/share/summarizer/desk).",
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            show_default=False,
            help="Model calls at a time (default 4 with --base-url; always 1 for the embedded model).",
        ),
    ] = None,
    max_queue: Annotated[int, typer.Option("--max-queue", min=1, help="Briefs waiting; more get 429.")] = 100,
    rate_limit: Annotated[
        float, typer.Option("--rate-limit", min=0, help="Briefs a minute per client address (0: no limit).")
    ] = 60.0,
    max_body: Annotated[
        int | None,
        typer.Option(
            "--max-body",
            min=1,
            show_default=False,
            help="Largest request body in bytes (default 2 x --max-bytes + 1 MB).",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="SUMMARIZER_TOKEN",
            show_default=False,
            help="Require this bearer token on every request.",
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow a non-loopback --host without a token.")
    ] = False,
    read_timeout: Annotated[
        float,
        typer.Option(
            "--read-timeout",
            min=0.1,
            help="Seconds a client has to send a request's headers (and its "
            "body, plus 1 s per 64 KiB); slower connections are closed.",
        ),
    ] = 10.0,
    max_connections: Annotated[
        int,
        typer.Option("--max-connections", min=1, help="Open connections in all (below the open-file limit)."),
    ] = 512,
    retention: Annotated[
        float | None,
        typer.Option(
            "--retention",
            min=0.01,
            show_default=False,
            help="Delete finished briefs (and their articles) this many days after they finished.",
        ),
    ] = None,
    max_per_client: Annotated[
        int,
        typer.Option(
            "--max-per-client", min=1, help="Open connections from one address (behind a proxy: raise it)."
        ),
    ] = 64,
    relay: Annotated[
        bool,
        typer.Option(
            "--relay/--no-relay",
            help="Make endpoint calls through a relay process that outlives the desk, so a crash "
            "or kill -9 never pays twice for a call in flight (not used with the embedded model).",
        ),
    ] = True,
    **model: Any,
) -> None:
    """Serve the editor's desk: a web page and an HTTP API for briefs (OpenAPI at /openapi.json).

    Paste or drop an article, watch it queue and run, read the brief beside the article and
    copy its Markdown. Briefs are kept in SQLite under --data-dir: the same article (same
    prompt, schema and model) is served from there without a model call, and work queued or
    running when the server stopped is taken up again on the next start. The embedded model
    is started once and kept warm; --base-url uses an endpoint instead.

    Listens on 127.0.0.1 unless --host says otherwise; any other address needs --token
    (or --insecure). Exit codes: 0 stopped (Ctrl-C or SIGTERM), 2 configuration.
    """
    from summarizer.desk.connections import ConnectionLimits
    from summarizer.desk.server import ServeOptions, serve
    from summarizer.desk.store import default_data_dir

    with user_errors():
        settings = model_settings(model)
        options = ServeOptions(
            data_dir=data_dir or default_data_dir(), host=host, port=port, concurrency=concurrency,
            max_queue=max_queue, rate_per_minute=rate_limit, max_body=max_body, token=token or None,
            insecure=insecure, limits=ConnectionLimits(read_timeout, max_connections, max_per_client),
            retention_days=retention, relay=relay,
        )  # fmt: skip
        serve(settings, options)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the stored record (the same as schemas/event_summary.schema.json)."""
    from summarizer.schema import record_json_schema

    sys.stdout.write(json.dumps(record_json_schema(), indent=2, ensure_ascii=False) + "\n")


app.add_typer(models_app, name="models")


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
