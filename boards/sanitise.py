"""HTML that came from email (or a user) made safe to store and show: a maintained sanitiser (nh3, the
Rust ammonia library) with a small allow-list. Regexes cannot parse HTML; an allow-list parser can."""

from __future__ import annotations

import nh3

ALLOWED_TAGS = frozenset({"p", "br", "b", "i", "strong", "em", "ul", "ol", "li", "a", "blockquote"})
# "*" (attributes of every tag) given empty: nh3 would otherwise keep its defaults, title and lang.
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {"a": frozenset({"href"}), "*": frozenset()}
# javascript:, data: and the like are dropped from links (the tag stays, without its href).
URL_SCHEMES = frozenset({"http", "https", "mailto"})


def sanitise_html(html: str) -> str:
    """Keeps the allowed tags (and a link's href), drops every other tag but keeps its text, drops
    script and style with their content, and escapes the rest (a bare "<" becomes "&lt;")."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
    )
