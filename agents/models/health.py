"""Cloud health: a circuit breaker (closed -> open after N failures -> half-open probe after T s)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]


@dataclass
class CircuitBreaker:
    """Counts consecutive failures of a remote model endpoint.

    Args:
        failures: Consecutive failures that open the breaker.
        reset_s: Seconds the breaker stays open before one probe call is let through.
        clock: Monotonic clock (injectable for tests).
    """

    failures: int = 3
    reset_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _count: int = 0
    _opened_at: float | None = None
    _probing: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def state(self) -> BreakerState:
        """Closed (healthy), open (skip the cloud) or half_open (one probe allowed)."""
        if self._opened_at is None:
            return "closed"
        if self.clock() - self._opened_at >= self.reset_s:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Whether a call may go to the endpoint now (pure: does not reserve the probe)."""
        st = self.state
        return st == "closed" or (st == "half_open" and not self._probing)

    def begin(self) -> bool:
        """Reserve the call: in half-open state only one probe is allowed at a time."""
        with self._lock:
            st = self.state
            if st == "closed":
                return True
            if st == "half_open" and not self._probing:
                self._probing = True
                return True
            return False

    def record_success(self) -> None:
        """A call succeeded: close the breaker."""
        with self._lock:
            self._count, self._opened_at, self._probing = 0, None, False

    def record_failure(self) -> None:
        """A call failed: count it; open (or re-open) the breaker when the limit is reached."""
        with self._lock:
            self._count += 1
            if self._probing or self._count >= self.failures:
                self._opened_at = self.clock()
            self._probing = False
