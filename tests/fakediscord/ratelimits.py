"""Optional per-route rate limits, answered as Discord answers them.

Off unless a test asks, e.g. `FakeDiscord(rate_limits={"POST /channels/{channel_id}/messages":
(5, 5.0)})`, because discord.py waits out every limit by itself, which only slows tests down.
When on, a bucket is one method and route template plus its major parameters (channel, guild,
webhook and token), with a fixed window. Every answer carries `X-RateLimit-Limit`,
`-Remaining`, `-Reset`, `-Reset-After` and `-Bucket` (discord.py sleeps pre-emptively when
Remaining hits 0), and a request past the limit gets 429 with `retry_after` in the body and a
`Via` header; without `Via` discord.py takes a 429 for a Cloudflare ban and raises instead of
retrying.
"""

from __future__ import annotations

import hashlib
import threading
import time

from .rules import DiscordError

MAJOR = ("channel_id", "guild_id", "app_id", "interaction_id", "token")


class RateLimits:
    def __init__(self, limits: dict[str, tuple[int, float]] | None) -> None:
        self.limits = dict(limits or {})
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def check(self, method: str, route: str | None, params: dict[str, str]) -> dict[str, str]:
        """Count one request; the headers to answer with, or raise the 429."""
        name = f"{method} {route}"
        if name not in self.limits:
            return {}
        limit, per = self.limits[name]
        key = name + "|" + "+".join(params.get(k, "") for k in MAJOR)
        bucket = hashlib.sha1(name.encode()).hexdigest()[:16]
        now = time.monotonic()
        with self._lock:
            start, used = self._windows.get(key, (now, 0))
            if now - start >= per:
                start, used = now, 0
            left = per - (now - start)
            if used >= limit:
                error = DiscordError(429, 0, "You are being rate limited.")
                error.extra = {"retry_after": round(left, 3), "global": False}
                error.headers = self._headers(limit, 0, left, bucket)
                error.headers["Via"] = "1.1 google"
                error.headers["Retry-After"] = str(max(1, round(left)))
                raise error
            self._windows[key] = (start, used + 1)
            return self._headers(limit, limit - used - 1, left, bucket)

    @staticmethod
    def _headers(limit: int, remaining: int, left: float, bucket: str) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + left:.3f}",
            "X-RateLimit-Reset-After": f"{left:.3f}",
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Scope": "user",
        }
