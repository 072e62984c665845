"""Reading a provider's inbox page by page, shared by the polled gateways (Ghasedak, Melipayamak
SOAP, IPPanel): the page cap, the order the provider lists in (which none of them documents
for sure), and a cursor that keeps a resume point when a read is cut short, so texts past the
cap are read by the next poll instead of being passed over."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

SEP = "|"  # not in an id or an ISO time


@dataclass(frozen=True)
class Page:
    rows: Sequence[Any]
    pages: int | None = None  # how many pages the provider says there are, when it says


@dataclass(frozen=True)
class Pages:
    rows: list[Any]
    next_page: int | None  # where to go on when the read was cut at the cap; None: complete
    last_page: int          # the last page read
    order: str              # "newest-first", "oldest-first", or "unknown" (too few or mixed)

    @property
    def start_next(self) -> int:
        """Where the next read starts once this one is complete: from the first page, but
        on the last one when the provider lists oldest first (new texts come at the end)."""
        return self.last_page if self.order == "oldest-first" else 0


def _order(keys: list[Any]) -> str:
    if len(set(keys)) < 2:
        return "unknown"
    if all(a >= b for a, b in zip(keys, keys[1:])):
        return "newest-first"
    if all(a <= b for a, b in zip(keys, keys[1:])):
        return "oldest-first"
    return "unknown"


def read_pages(fetch: Callable[[int], Page], key: Callable[[Any], Any], *, first: int,
               start: int, limit: int, size: int,
               reached: Callable[[list[Any]], bool] | None = None) -> Pages:
    """Pages ``start`` … until the provider's end (an empty or short page, or its page count)
    or ``limit`` pages. A full page means more may follow, whatever else the page says. The
    read stops early at a page ``reached`` says holds texts already seen (or too old) only
    while the ``key``s (an id or a time) read so far come newest first: in any other order an
    older text says nothing about the next page. ``first`` is the provider's first page
    number (0 or 1). A resume point found past the end (texts deleted in the provider's panel
    since it was saved) starts again from the first page."""
    pages = _read(fetch, key, first, start, limit, size, reached)
    if start > first and not pages.rows:
        pages = _read(fetch, key, first, first, limit, size, reached)
    return pages


def _read(fetch: Callable[[int], Page], key: Callable[[Any], Any], first: int, start: int,
          limit: int, size: int, reached: Callable[[list[Any]], bool] | None) -> Pages:
    rows: list[Any] = []
    keys: list[Any] = []
    page = start
    for page in range(start, start + limit):
        got = fetch(page)
        page_rows = list(got.rows)
        rows.extend(page_rows)
        keys.extend(k for k in (key(r) for r in page_rows) if k is not None)
        at_end = (not page_rows or len(page_rows) < size
                  or (got.pages is not None and page - first + 1 >= got.pages))
        newest_first = _order(keys) == "newest-first"
        if at_end or (newest_first and reached is not None and reached(page_rows)):
            return Pages(rows, None, page, _order(keys))
    return Pages(rows, start + limit, page, _order(keys))


@dataclass(frozen=True)
class Resume:
    """An inbox cursor: ``seen``, the provider's key (id or time) of the newest text of the
    last complete read; when a read was cut at the page cap, ``top`` (the newest key of the
    unfinished batch) and ``page`` (where the next read goes on); for providers listed oldest
    first, ``page`` is also where the next read starts. ``dropped`` counts the texts of the
    last read to a line that is not ours; ``extra`` is the gateway's own (Ghasedak's window).
    Written as ``seen`` alone in the usual case, so older cursors read as they were."""

    seen: str = ""
    top: str = ""
    page: int = 0
    cut: bool = False
    dropped: int = 0
    extra: str = ""

    @classmethod
    def parse(cls, text: str) -> Resume:
        parts = (text or "").split(SEP)
        if len(parts) < 6:
            return cls(parts[0])
        page, dropped = parts[2], parts[4]
        return cls(parts[0], parts[1], int(page) if page.isdigit() else 0, parts[3] == "cut",
                   int(dropped) if dropped.isdigit() else 0, SEP.join(parts[5:]))

    def __str__(self) -> str:
        if not (self.top or self.page or self.cut or self.dropped or self.extra):
            return self.seen
        return SEP.join((self.seen, self.top, str(self.page), "cut" if self.cut else "",
                         str(self.dropped), self.extra))

    def but(self, **changes: Any) -> Resume:
        return replace(self, **changes)


def note(cursor: str, pages: int, size: int) -> str | None:
    """What the dashboard shows for a read that went well but not wholly: cut at the cap, or
    texts to other lines passed over."""
    r = Resume.parse(cursor)
    said = []
    if r.cut:
        said.append(f"partial: more than {pages * size} texts waited; the read stopped at the "
                    f"cap of {pages} pages and goes on from page {r.page} at the next poll")
    if r.dropped:
        said.append(f"{r.dropped} texts to another line (not this gateway's sender) were "
                    "passed over")
    return "; ".join(said) or None
