"""A small in-process cache with a time limit, for data that may be a little old: facet counts and the
catalogue's reference data. Each process keeps its own; nothing in it is the only copy of anything."""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class TimedCache:
    """Values per key for `seconds` (0 keeps nothing), at most `size` of them, safe across threads."""

    def __init__(self, seconds: float, *, size: int = 1024) -> None:
        self.seconds, self.size = seconds, size
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        key: Hashable,
        compute: Callable[[], Any],
        *,
        keep: Callable[[Any], bool] | None = None,
    ) -> Any:
        """The value kept for `key`, or a fresh one from `compute` (kept only if `keep` says so)."""
        if self.seconds <= 0:
            return compute()
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry and entry[0] > now:
                return entry[1]
        value = compute()
        if keep is not None and not keep(value):
            return value
        with self._lock:
            self._entries[key] = (now + self.seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


NO_CACHE = TimedCache(0)
