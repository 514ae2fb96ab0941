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
