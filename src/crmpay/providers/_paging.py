"""Reading a listing ahead: the next page is fetched while the caller works on this one.

A full sync spends as long writing a page as the provider takes to serve the next;
fetching in a background thread overlaps the two. Only for listings read to the end:
a caller that stops early (newest first, down to what it knows) would pay for a page
it never uses.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class _End:
    """The end of the listing (a class of its own, so that `isinstance` tells it from a page)."""


_END = _End()


def read_ahead(pages: Iterator[T]) -> Iterator[T]:
    """The same pages, in order, each next one already on its way.

    While the fetching thread parses a page, the caller's SQLite writes (which let go of
    the GIL at every row) would wait up to the 5 ms switch interval to get it back; a
    short interval keeps both moving.
    """
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0002))
    try:
        yield from _read_ahead(pages)
    finally:
        sys.setswitchinterval(interval)


def _read_ahead(pages: Iterator[T]) -> Iterator[T]:
    with ThreadPoolExecutor(1, thread_name_prefix="crmpay-read-ahead") as pool:
        future: Future[T | _End] = pool.submit(next, pages, _END)
        while True:
            page = future.result()  # an error while fetching surfaces here, in order
            if isinstance(page, _End):
                return
            future = pool.submit(next, pages, _END)
            yield page
