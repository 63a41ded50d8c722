"""The body sanitizer against an XSS corpus: whatever comes in, only the allow-list comes out."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from mindspace.journal.sanitize import (
    ALLOWED_TAGS,
    URL_SCHEMES,
    html_to_markdown,
    html_to_text,
    sanitize_html,
    text_to_markdown,
)

VECTORS: list[str] = json.loads(
    (Path(__file__).parent / "data" / "xss_vectors.json").read_text(encoding="utf-8")
)["vectors"]


class _Inventory(HTMLParser):
    """Every element and attribute a browser would build from the output."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def _inventory(html: str) -> _Inventory:
    parser = _Inventory()
    parser.feed(html)
    parser.close()
    return parser


def test_the_corpus_is_large() -> None:
    assert len(VECTORS) >= 100


@pytest.mark.parametrize("vector", VECTORS)
def test_nothing_executable_survives(vector: str) -> None:
    clean = sanitize_html(vector)
    found = _inventory(clean)
    assert not found.comments, clean
    for tag, attrs in found.elements:
        assert tag in ALLOWED_TAGS, clean
        names = {name for name, _ in attrs}
        if tag == "a":
            assert names <= {"href", "rel"}, clean
            values = dict(attrs)
            assert values.get("rel") == "noopener noreferrer", clean
            href = values.get("href")
            if href is not None:
                scheme = urlsplit(href.strip()).scheme.lower()
                assert scheme in URL_SCHEMES, clean
        else:
            assert not names, clean
    assert sanitize_html(clean) == clean  # stable: cleaning again changes nothing


def test_script_and_style_content_is_dropped_not_shown() -> None:
    clean = sanitize_html("<p>before</p><script>alert('hi')</script><style>p{}</style><p>after</p>")
    assert clean == "<p>before</p><p>after</p>"


def test_images_never_survive() -> None:
    assert sanitize_html('<p>a<img src="https://example.org/x.png">b</p>') == "<p>ab</p>"


def test_the_allow_list_survives_intact() -> None:
    rich = (
        "<h1>One</h1><h2>Two</h2><h3>Three</h3><p><strong>s</strong> <em>e</em> <b>b</b> "
        "<i>i</i> <u>u</u><br></p><ul><li>x</li></ul><ol><li>y</li></ol>"
        "<blockquote>q</blockquote><pre><code>c</code></pre>"
    )
    assert sanitize_html(rich) == rich


def test_links_keep_safe_schemes_and_gain_rel() -> None:
    clean = sanitize_html(
        '<a href="https://a.example/x?y=1">web</a><a href="mailto:me@example.org">mail</a>'
        '<a href="ftp://files.example">ftp</a>'
    )
    assert '<a href="https://a.example/x?y=1" rel="noopener noreferrer">web</a>' in clean
    assert '<a href="mailto:me@example.org" rel="noopener noreferrer">mail</a>' in clean
    assert "ftp:" not in clean


def test_text_and_markdown_views() -> None:
    body = sanitize_html("<h2>Today</h2><p>I felt <strong>calm</strong> &amp; rested</p>")
    assert html_to_text(body).split() == ["Today", "I", "felt", "calm", "&", "rested"]
    assert html_to_markdown(body) == "## Today\n\nI felt **calm** & rested"
    assert text_to_markdown("*not* <b>bold</b>") == r"\*not\* \<b\>bold\</b\>"
