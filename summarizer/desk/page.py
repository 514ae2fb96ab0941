"""The desk page: a paste box, a file drop, the queue position and elapsed time while a brief is
made, then the HTML review page (``html.to_html``) beside it, copy-as-Markdown, recent briefs.

Same discipline as the HTML brief: the page loads nothing from anywhere (no fonts, images, CDNs);
its one inline style and one inline script run by the sha256 hashes a Content-Security-Policy
names, sent as a header and repeated in a ``<meta>``. It talks only to its own server
(``connect-src 'self'``). The brief is shown in a sandboxed ``<iframe srcdoc>`` (scripts, no
same-origin): that document inherits this page's policy, which therefore also names the brief's
own script and style hashes, and it keeps its own ``<meta>`` policy too. Article and model text
reach the page only as ``textContent`` or inside that frame, never as markup of this page.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment

from summarizer import html as brief_html

TEMPLATE = "desk.html.j2"
SCRIPT = "desk.js"
STYLE = "desk.css"


@lru_cache(maxsize=1)
def environment() -> Environment:
    return brief_html.template_environment("summarizer.desk")


@lru_cache(maxsize=2)
def content_security_policy(*, header: bool = True) -> str:
    """The page's policy; ``header=False`` for its ``<meta>`` copy, where ``frame-ancestors``
    is not allowed (browsers ignore it there, with a console error)."""
    env, brief = environment(), brief_html.environment()
    scripts = [env.get_template(SCRIPT).render(), brief.get_template(brief_html.SCRIPT).render()]
    styles = [env.get_template(STYLE).render(), brief.get_template(brief_html.STYLE).render()]
    return "; ".join([
        "default-src 'none'",
        "script-src " + " ".join(map(brief_html.sha256_source, scripts)),
        "style-src " + " ".join(map(brief_html.sha256_source, styles)),
        "connect-src 'self'",
        "frame-src 'self'",
        "img-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        *(["frame-ancestors 'none'"] if header else []),
    ])  # fmt: skip


@lru_cache(maxsize=2)
def render(*, token_required: bool) -> str:
    return (
        environment()
        .get_template(TEMPLATE)
        .render(csp=content_security_policy(header=False), token_required=token_required)
    )
