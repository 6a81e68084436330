"""Text rules of the catalog: slugs, tags, and markdown turned into safe HTML."""

import re
import unicodedata

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True}).enable(
    "table"
)

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "ul",
    "ol",
    "li",
    "h2",
    "h3",
    "h4",
    "blockquote",
    "code",
    "pre",
    "a",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
MAX_TAGS = 20
MAX_TAG_LENGTH = 40


def slugify(text: str, max_length: int = 200) -> str:
    """A URL slug of ASCII letters, digits and single hyphens ("Kaos Ünïcode" -> "kaos-unicode")."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")


def render_markdown(source: str) -> str:
    """Vendor markdown as sanitised HTML: no scripts, no styles, links made safe."""
    html = _md.render(source or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "th": {"align"}, "td": {"align"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )


def plain_text(html: str) -> str:
    """Text content of sanitised HTML (for search and meta descriptions)."""
    return re.sub(r"\s+", " ", nh3.clean(html or "", tags=set())).strip()


def normalise_tags(raw: str | list[str]) -> list[str]:
    """Comma-separated (or listed) tags, trimmed, lower-cased, de-duplicated, bounded."""
    items = raw.split(",") if isinstance(raw, str) else raw
    tags: list[str] = []
    for item in items:
        tag = re.sub(r"\s+", " ", (item or "").strip().lower())
        tag = "".join(ch for ch in tag if ch.isprintable())[:MAX_TAG_LENGTH].strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags[:MAX_TAGS]
