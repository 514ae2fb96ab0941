"""``batch --via batch-api`` and ``--export``/``--import`` against the fake's Files and Batches
endpoints (fault-injection tier: shuffled results, error and expired lines, a failed batch, a
403 on a download, kills). Under test: every article ends exactly once in the output or the dead
letters, no request is submitted twice, answers pass the same validation and grounding."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from summarizer.batch import BatchOptions, BatchRunner
from summarizer.batch.exchange import ExportRunner, ImportRunner
from summarizer.batch.provider import ProviderOptions, ProviderRunner
from summarizer.batch.provider_state import ProviderState, state_folder
from summarizer.errors import BatchError, ConfigurationError
from summarizer.inputs import iter_inputs
from summarizer.ledger import OwnFiles
from summarizer.llm.batches import ProviderBatches
from summarizer.pricing import Pricing
from summarizer.settings import Settings
from tests.support.fake_openai import FakeServer
from tests.test_batch import _reaped, lines, settings_for, write_archive

FAST = ProviderOptions(poll_seconds=0.02, max_requests=4, download_wait=0.01)


def run_api(fake: FakeServer, arch: Path, out: Path, provider: ProviderOptions = FAST, **kw: Any) -> Any:
    settings = settings_for(fake, **kw.pop("settings", {}))
    runner = ProviderRunner(settings, out, BatchOptions(concurrency=4, **kw), provider=provider)
    return asyncio.run(runner.run(iter_inputs([str(arch)], max_bytes=settings.max_bytes, output=out)))


def keys_in(out: Path) -> tuple[list[str], list[str]]:
    failed = out.with_name(out.stem + ".failed.jsonl")
    return [r["key"] for r in lines(out)], [r["key"] for r in lines(failed)]


def test_shuffled_failed_and_expired_lines_end_exactly_once(tmp_path: Path) -> None:
    n = 14
    arch = tmp_path / "a"
    # One article fails on every submission, one answers "invalid" once (re-asked synchronously).
    write_archive(arch, n, faults={6: "500*", 5: "invalid"})
    out = tmp_path / "out.jsonl"
    with FakeServer() as fake:
        fake.batches.expire(2)  # the first batch runs 2 of its 4 lines, then expires
        fake.batches.fail_downloads(1)  # the first download answers 403
        tally = run_api(fake, arch, out)
        runs = fake.batches.runs
        sync_calls = fake.requests_for("Town5") - runs[_key_of(out, "a0005")]
        assert fake.batches.refused_downloads == 1
    done, failed = keys_in(out)
    assert len(done) == n - 1 and len(set(done)) == n - 1
    assert len(failed) == 1 and failed[0] not in done
    assert tally.inputs == n and tally.succeeded == n - 1 and tally.failed == 1 and tally.pending == 0
    # The article failing every time was submitted three times (max_submissions), then dead-lettered.
    assert runs[failed[0]] == 3
    dead = lines(out.with_name("out.failed.jsonl"))[0]
    assert "after 3 submissions" in dead["message"] and "fake fault 500" in dead["message"]
    # Expired lines were submitted again and answered; nothing answered was run twice.
    assert sum(runs.values()) == n - 1 + 3 and max(v for k, v in runs.items() if k != failed[0]) == 1
    # The invalid answer was re-asked once, synchronously, and the record counts both calls.
    assert sync_calls == 1
    record = next(r for r in lines(out) if r["article"]["id"] == "a0005")
    assert record["provenance"]["attempts"] == 2
    # Every record went through grounding: quotes tied to the article's text.
    for r in lines(out):
        assert r["summary"]["events"], r["article"]["id"]
    # Collected parts leave no files behind; the state says what happened to each.
    state = ProviderState(state_folder(out))
    state.load()
    assert all(p.status == "collected" for p in state.parts)
    assert sorted(f.name for f in state_folder(out).iterdir()) == ["state.json"]


def _key_of(out: Path, article_id: str) -> str:
    return next(r["key"] for r in lines(out) if r["article"]["id"] == article_id)


def test_rerun_after_collection_sends_nothing(tmp_path: Path) -> None:
    arch = tmp_path / "a"
    write_archive(arch, 5)
    out = tmp_path / "out.jsonl"
    with FakeServer() as fake:
        run_api(fake, arch, out)
        uploads, creates, requests = fake.batches.uploads, fake.batches.creates, fake.requests
        tally = run_api(fake, arch, out)
        assert (fake.batches.uploads, fake.batches.creates) == (uploads, creates)
        assert fake.requests == requests
    assert tally.already_done == 5 and tally.model_calls == 0


def test_a_kill_after_creating_a_batch_finds_it_instead_of_creating_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arch = tmp_path / "a"
    write_archive(arch, 3)
    out = tmp_path / "out.jsonl"
    real_create = ProviderBatches.create

    async def create_then_crash(self: ProviderBatches, file_id: str, metadata: dict[str, str]) -> Any:
        await real_create(self, file_id, metadata)
        raise BatchError("killed before the batch id was noted (test)")

    with FakeServer() as fake:
        monkeypatch.setattr(ProviderBatches, "create", create_then_crash)
        with pytest.raises(BatchError, match="killed before"):
            run_api(fake, arch, out)
        state = ProviderState(state_folder(out))
        state.load()
        assert [p.status for p in state.parts] == ["uploaded"] and state.parts[0].batch_id is None
        monkeypatch.setattr(ProviderBatches, "create", real_create)
        tally = run_api(fake, arch, out)
        assert fake.batches.creates == 1 and fake.batches.uploads == 1
        assert set(fake.batches.runs.values()) == {1}
    assert tally.succeeded == 3 and len(keys_in(out)[0]) == 3


def _cli_api(fake_url: str, arch: Path, out: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}
    env.update({"OPENAI_BASE_URL": fake_url, "SUMMARIZER_MODEL": "fake-model", "OPENAI_API_KEY": "k"})
    return subprocess.Popen(
        [sys.executable, "-m", "summarizer", "batch", str(arch), "-o", str(out), "--via", "batch-api",
         "--poll", "0.05", "--batch-requests", "3", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def test_sigkill_while_polling_then_rerun_submits_nothing_twice(tmp_path: Path) -> None:
    n = 8
    arch = tmp_path / "a"
    write_archive(arch, n)
    out = tmp_path / "out.jsonl"
    state_file = state_folder(out) / "state.json"
    with FakeServer() as fake:
        fake.batches.polls = 10**6  # the batches stay in progress while the first run polls
        with _reaped(_cli_api(fake.base_url, arch, out)) as proc:
            deadline = time.monotonic() + 60
            parts: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                if state_file.exists():
                    parts = orjson.loads(state_file.read_bytes())["parts"]
                    if len(parts) == 3 and all(p["status"] == "in_progress" for p in parts):
                        break
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
        assert len(parts) == 3 and all(p["batch_id"] for p in parts), parts
        assert fake.batches.creates == 3 and fake.batches.uploads == 3
        fake.batches.polls = 0  # the next look finds them done
        with _reaped(_cli_api(fake.base_url, arch, out)) as proc:
            _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert fake.batches.creates == 3 and fake.batches.uploads == 3  # resumed by polling
        assert len(fake.batches.runs) == n and set(fake.batches.runs.values()) == {1}
    done, failed = keys_in(out)
    assert len(done) == n and len(set(done)) == n and not failed
    assert f"{n} inputs = {n} succeeded" in err


def test_a_failed_batch_dead_letters_its_lines_with_the_providers_reason(tmp_path: Path) -> None:
    arch = tmp_path / "a"
    write_archive(arch, 2)
    out = tmp_path / "out.jsonl"
    with FakeServer() as fake:
        settings = settings_for(fake)
        runner = ProviderRunner(settings, out, provider=FAST)
        # A part file that repeats a custom_id, as a bug or a hand edit would leave it.
        state = runner.state
        runner.state.folder.mkdir(parents=True)
        from summarizer.batch.provider_state import Held, PartWriter

        writer = PartWriter(state)
        items = list(iter_inputs([str(arch)], max_bytes=10**6))
        article = items[0].load()
        held = Held("k" * 64, items[0].name, 1, article)
        body = runner.bodies.body(article)
        writer.add(held, body)
        writer.add(held, body)
        writer.seal()
        tally = asyncio.run(runner.run([]))
        assert fake.batches.creates == 1 and not fake.batches.runs
    dead = lines(out.with_name("out.failed.jsonl"))
    assert len(dead) == 2 and "duplicate" in dead[0]["message"]
    assert tally.failed == 0  # not among this run's inputs: written, not counted as inputs


def test_a_batch_failed_for_a_full_queue_is_submitted_again(tmp_path: Path) -> None:
    arch = tmp_path / "a"
    write_archive(arch, 3)
    out = tmp_path / "out.jsonl"
    with FakeServer() as fake:
        fake.batches.fail_next("token_limit_exceeded", "Enqueued token limit reached for fake-model.")
        tally = run_api(fake, arch, out)
        assert fake.batches.creates == 2 and set(fake.batches.runs.values()) == {1}
    assert tally.succeeded == 3 and tally.failed == 0 and len(keys_in(out)[0]) == 3


def test_import_without_a_base_url_checks_answers_as_they_are(tmp_path: Path) -> None:
    arch = tmp_path / "a"
    write_archive(arch, 3, faults={1: "invalid"})  # its answer cannot be re-asked offline
    requests_file, results_file = tmp_path / "requests.jsonl", tmp_path / "results.jsonl"
    out = tmp_path / "out.jsonl"
    offline = Settings(model="fake-model")  # no --base-url: what a vllm run-batch user has
    exporter = ExportRunner(offline, out, requests_file)
    asyncio.run(exporter.run(iter_inputs([str(arch)], max_bytes=10**6)))
    with FakeServer() as fake:
        _run_batch_file(fake.base_url, requests_file, results_file, skip=0)
        before = fake.requests
        tally = asyncio.run(
            ImportRunner(offline, out, results_file).run(iter_inputs([str(arch)], max_bytes=10**6))
        )
        assert fake.requests == before  # nothing sent anywhere while importing
    assert (tally.succeeded, tally.failed) == (2, 1)
    dead = lines(out.with_name("out.failed.jsonl"))
    assert dead[0]["id"] == "a0001" and "did not fit the schema" in dead[0]["message"]
    records = lines(out)
    assert {r["provenance"]["backend"] for r in records} == {"vllm-run-batch.invalid"}
    assert all(r["provenance"]["structured_output"] == "json_schema" for r in records)


def test_export_empties_an_old_file_first(tmp_path: Path) -> None:
    arch = tmp_path / "a"
    write_archive(arch, 2)
    requests_file, out = tmp_path / "requests.jsonl", tmp_path / "out.jsonl"
    requests_file.write_text('{"custom_id": "stale"}\n')
    with FakeServer() as fake:
        run_api(fake, arch, out)  # everything done
        exporter = ExportRunner(settings_for(fake), out, requests_file)
        asyncio.run(exporter.run(iter_inputs([str(arch)], max_bytes=10**6)))
    assert exporter.written == 0 and requests_file.read_bytes() == b""


def test_the_state_folder_is_never_read_as_input(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    folder = state_folder(out)
    folder.mkdir()
    own = OwnFiles(out)
    assert folder / "part-0001.articles.jsonl" in own
    assert folder / "state.json" in own
    assert tmp_path / "other" / "part-0001.articles.jsonl" not in own
    assert tmp_path / "part-0001.articles.jsonl" not in own


def test_batch_api_needs_a_provider_and_the_json_schema_form(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="needs a provider"):
        ProviderRunner(Settings(), tmp_path / "o.jsonl")
    forced = Settings(base_url="http://127.0.0.1:1/v1", model="m", structured_output="tools")
    with pytest.raises(ConfigurationError, match="json_schema"):
        ProviderRunner(forced, tmp_path / "o.jsonl")


def test_batch_rates_are_half_the_list_price_and_given_prices_stand() -> None:
    listed = Pricing(0.15, 0.6, "list price")
    assert listed.at_batch_rates().cost(1_000_000, 1_000_000) == pytest.approx(0.375)
    given = Pricing(1.0, 2.0, "given prices")
    assert given.at_batch_rates() == given


def test_export_then_import_gives_the_local_runners_records(tmp_path: Path) -> None:
    n = 6
    arch = tmp_path / "a"
    write_archive(arch, n, faults={4: "500*"})
    requests_file = tmp_path / "requests.jsonl"
    results_file = tmp_path / "results.jsonl"
    out, local = tmp_path / "out.jsonl", tmp_path / "local.jsonl"
    with FakeServer() as fake:
        settings = settings_for(fake)
        exporter = ExportRunner(settings, out, requests_file)
        asyncio.run(exporter.run(iter_inputs([str(arch)], max_bytes=10**6)))
        assert exporter.written == n and fake.requests == 0
        # What vllm run-batch does with the file, done here line by line against the fake.
        _run_batch_file(fake.base_url, requests_file, results_file, skip=1)
        importer = ImportRunner(settings, out, results_file)
        tally = asyncio.run(importer.run(iter_inputs([str(arch)], max_bytes=10**6)))
        asyncio.run(BatchRunner(settings, local).run(iter_inputs([str(arch)], max_bytes=10**6)))
    assert importer.missing == 1 and tally.pending == 1
    done, failed = keys_in(out)
    local_done, local_failed = keys_in(local)
    assert len(failed) == 1 and set(failed) == set(local_failed)
    assert set(done) < set(local_done) and len(done) == n - 2
    by_key = {r["key"]: r for r in lines(local)}
    for r in lines(out):  # the same answer gives the same brief, whichever way it came
        assert r["summary"] == by_key[r["key"]]["summary"]


def _run_batch_file(base_url: str, requests_file: Path, results_file: Path, *, skip: int) -> None:
    """A stand-in for ``vllm run-batch``: each line's body posted to the server, results written
    in OpenAI's batch output format; the last ``skip`` lines left out (not run)."""
    import httpx2

    rows = [json.loads(line) for line in requests_file.read_text().splitlines()]
    with httpx2.Client(base_url=base_url, timeout=30) as http, results_file.open("w") as fh:
        for n, row in enumerate(rows[: len(rows) - skip]):
            response = http.post("/chat/completions", json=row["body"])
            result = {"id": f"vllm-{n}", "custom_id": row["custom_id"],
                      "response": {"status_code": response.status_code, "body": response.json()}, "error": None}  # fmt: skip
            fh.write(json.dumps(result) + "\n")


def test_cli_dry_run_counts_files_and_prices_at_batch_rates(tmp_path: Path) -> None:
    write_archive(tmp_path / "a", 5)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "summarizer", "batch", str(tmp_path / "a"), "-o", str(tmp_path / "o.jsonl"),
         "--via", "batch-api", "--base-url", "http://127.0.0.1:9/v1", "--model", "gpt-4o-mini",
         "--batch-requests", "2", "--dry-run"],
        check=False, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "5 requests in 3 files" in proc.stdout and "Batch API rate (half)" in proc.stdout
    assert not (tmp_path / "o.jsonl").exists()
