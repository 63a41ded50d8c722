"""Entry bodies are HTML from a rich-text editor: sanitized on the way in, against one small
allow-list, so what is stored (and later shown, exported or analysed) can never carry script.

nh3 (Rust's ammonia) parses like a browser does, which is what defeats the filter-evasion
tricks (broken tags, odd encodings, nested contexts) that pattern-based filters miss.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import nh3
from markdownify import markdownify

ALLOWED_TAGS = frozenset(
    {
        "p",
        "h1",
        "h2",
        "h3",
        "ul",
        "ol",
        "li",
        "strong",
        "em",
        "b",
        "i",
        "u",
        "a",
        "blockquote",
        "code",
        "pre",
        "br",
    }
)
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Elements whose content is dropped with them, not kept as text: code, styles, embedded
# documents and form controls mean nothing in a journal and are where payloads hide.
DROPPED_WITH_CONTENT = frozenset(
    {
        "script",
        "style",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "svg",
        "math",
        "template",
        "noscript",
        "noembed",
        "noframes",
        "xmp",
        "textarea",
        "select",
        "title",
        "head",
    }
)
# noreferrer as well as noopener: following a link in a private journal should tell the site
# nothing about where it came from.
LINK_REL = "noopener noreferrer"


_BLOCK_END = re.compile(r"(<br>|</(?:p|h[1-3]|li|blockquote|pre)>)")


def _absolute_links_only(tag: str, attribute: str, value: str) -> str | None:
    # ammonia lets relative URLs through ("//elsewhere", "page"); a journal entry has no page
    # of its own to be relative to, so a link must name one of the allowed schemes.
    if tag == "a" and attribute == "href":
        return value if urlsplit(value.strip()).scheme.lower() in URL_SCHEMES else None
    return value


def sanitize_html(raw: str) -> str:
    return nh3.clean(
        raw,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_absolute_links_only,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def html_to_text(sanitized: str) -> str:
    """The words of a sanitized body, for the search index and the analysis."""
    without_tags = nh3.clean(
        _BLOCK_END.sub(r"\1\n", sanitized),
        tags=set(),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
    )
    return html.unescape(without_tags)


def html_to_markdown(sanitized: str) -> str:
    return markdownify(sanitized, heading_style="ATX", bullets="-").strip()


def text_to_markdown(text: str) -> str:
    """Plain text (a title) as Markdown that shows it literally."""
    return markdownify(html.escape(text), escape_misc=True).strip()
