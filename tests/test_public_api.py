import summarizer


def test_public_names_are_pinned() -> None:
    assert sorted(summarizer.__all__) == [
        "Article",
        "EventSummary",
        "SCHEMA_VERSION",
        "Settings",
        "Summarizer",
        "SummarizerError",
        "load_article",
        "summarize",
    ]
    for name in summarizer.__all__:
        assert hasattr(summarizer, name)


def test_error_tree_has_one_root_and_distinct_exit_codes() -> None:
    from summarizer import errors

    classes = [getattr(errors, n) for n in errors.__all__]
    assert all(issubclass(c, errors.SummarizerError) for c in classes)
    codes = [c.exit_code for c in classes]
    assert len(set(codes)) == len(codes)
    assert str(errors.InputError("a\nb   c")) == "a b c"  # always one line


def test_import_and_help_load_no_pipeline() -> None:
    """``import summarizer`` and ``summarizer --help`` load the public names lazily (PEP 562):
    neither imports the pipeline, the model client or openai (about a second of imports)."""
    import subprocess
    import sys

    probe = (
        "import sys, summarizer\n"
        "from typer.testing import CliRunner\n"
        "from summarizer.cli import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "print(sorted(m for m in ('summarizer.pipeline', 'summarizer.llm', 'openai') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
    assert summarizer.Summarizer.__module__ == "summarizer.pipeline"  # and the names still resolve
