"""Prompt templates: versioned Jinja2 files rendered in a sandbox with strict undefined.

The article goes inside a data block delimited by a boundary derived from the sha256 of its own
text: deterministic (so cassettes match) and impossible for the text to contain or close.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel

from summarizer.articles import Article
from summarizer.resources import data_dir
from summarizer.schema import PointerDraft
from summarizer.units import Units, analyse

DEFAULT_TEMPLATE = "summarize.j2"


@dataclass(frozen=True)
class RenderedPrompt:
    version: str
    messages: list[dict[str, str]]


@cache
def _environment() -> SandboxedEnvironment:
    # Plain text, not HTML: no autoescape. Sandbox + StrictUndefined: a typo is an error.
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(data_dir("prompts"))),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )


def boundary_for(text: str) -> str:
    """A boundary token the text does not contain (checked, not just hoped)."""
    salt = 0
    while True:
        digest = hashlib.sha256(f"{salt}:{text}".encode()).hexdigest()[:20]
        token = f"ARTICLE-{digest.upper()}"
        if token not in text:
            return token
        salt += 1  # pragma: no cover - needs a sha256 preimage


def _guide_lines(
    schema: dict[str, Any], defs: dict[str, Any], prefix: str, listed: dict[str, str] | None = None
) -> list[str]:
    """One line per field; an enum already listed for another field is named, not repeated
    (the 17 IPTC topics once, not twice: a shorter prefix to evaluate)."""
    listed = {} if listed is None else listed
    lines: list[str] = []
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        options = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
        node = options[0] if options else prop
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        if node.get("type") == "array":
            path += "[]"
            item = node.get("items", {})
            node = defs[item["$ref"].rsplit("/", 1)[-1]] if "$ref" in item else item
        enum = node.get("enum")
        text = prop.get("description") or node.get("description") or ""
        if enum:
            choices = ", ".join(json.dumps(e) for e in enum)
            if choices in listed:
                text = f"{text} One of the {listed[choices]} values.".strip()
            else:
                listed[choices] = path
                text = (text + " One of: " + choices + ".").strip()
        if text:
            lines.append(f"- {path}: {text}")
        if node.get("type") == "object" or "properties" in node:
            lines.extend(_guide_lines(node, defs, path + ".", listed))
    return lines


@cache
def field_guide(model: type[BaseModel] = PointerDraft) -> str:
    """The schema's field descriptions as a compact list: the model's instructions.

    Cheaper than pasting the JSON Schema (a third of the tokens), which matters in an
    8k-token context; endpoints that take a schema still receive the full one.
    """
    schema = model.model_json_schema()
    return "\n".join(_guide_lines(schema, schema.get("$defs", {}), ""))


@cache
def system_message(template: str = DEFAULT_TEMPLATE) -> str:
    """The system message, identical for every article (the prefix the server's KV cache keeps)."""
    module = _environment().get_template(template).make_module()
    return str(module.system(field_guide())).strip()  # type: ignore[attr-defined]


@cache
def prompt_version(template: str = DEFAULT_TEMPLATE) -> str:
    module = _environment().get_template(template).make_module()
    return str(module.version)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class UnitLines:
    """The article's units as the prompt shows them."""

    lines: list[str]
    quotations: list[str]
    numbers: list[str]


WITHHELD_LINE = "[passage withheld: suspected instructions to an AI; it cannot be cited]"


def unit_lines(units: Units) -> UnitLines:
    """One line per sentence ("S3: ..."), a blank line between paragraphs; withheld passages
    shown once as a marker; quotations and numbers listed by id after the data block."""
    text = units.text
    lines: list[str] = []
    paragraph = 0
    for s in units.sentences:
        if s.paragraph != paragraph and lines:
            lines.append("")
        paragraph = s.paragraph
        if s.withheld:
            if lines[-1:] != [WITHHELD_LINE]:
                lines.append(WITHHELD_LINE)
            continue
        lines.append(f"{s.id}: {' '.join(text[s.start : s.end].split())}")
    quotations = [
        f"{q.id} in {units.sentences[q.sentence].id}, choose: " + " | ".join(q.candidates)
        for q in units.quotations
        if q.asked
    ]
    numbers = [
        f"{n.id} in {units.sentences[n.sentence].id}: {' '.join(n.span.text.split())}" for n in units.numbers
    ]
    return UnitLines(lines, quotations, numbers)


def render_prompt(
    article: Article, template: str = DEFAULT_TEMPLATE, units: Units | None = None
) -> RenderedPrompt:
    module = _environment().get_template(template).make_module()
    boundary = boundary_for(article.text)
    shown = unit_lines(units or analyse(article.text))
    return RenderedPrompt(
        version=str(module.version),  # type: ignore[attr-defined]
        messages=[
            {"role": "system", "content": system_message(template)},
            {"role": "user", "content": str(module.user(article, boundary, shown)).strip()},  # type: ignore[attr-defined]
        ],
    )
