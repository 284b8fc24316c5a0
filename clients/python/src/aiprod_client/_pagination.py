"""Cursor iteration over AIPROD list endpoints.

Every list answers ``{"object": "list", "data": [...], "has_more", "next_cursor"}``
newest first; iterating follows ``next_cursor`` until ``has_more`` is false, one
page (``limit`` items, 1–100) per request, fetched only when the loop needs it.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Optional

from aiprod_client._http import Transport


class ListIterator:
    """``for job in client.jobs.list(status="failed"): ...`` — lazily follows cursors.

    ``max_items`` stops after that many items in total; ``pages()`` yields whole pages.
    """

    def __init__(self, transport: Transport, path: str, params: Optional[Mapping[str, Any]] = None,
                 *, max_items: Optional[int] = None):
        self._transport = transport
        self._path = path
        self._params: Dict[str, Any] = {k: v for k, v in (params or {}).items() if v is not None}
        self._max_items = max_items

    def pages(self) -> Iterator[Dict[str, Any]]:
        params = dict(self._params)
        while True:
            page = self._transport.json("GET", self._path, params=params)
            yield page
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return
            params["cursor"] = cursor

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        count = 0
        for page in self.pages():
            for item in page.get("data", []):
                if self._max_items is not None and count >= self._max_items:
                    return
                count += 1
                yield item

    def to_list(self) -> List[Dict[str, Any]]:
        return list(self)
