"""What a user agent is: a bot (the crawler list of the ``crawler-user-agents`` package), and its
browser, operating system and device family (the ``ua-parser`` package, uap-core's rules).

Both run over the *distinct* user agents of a log (thousands, not millions of lines), never
over lines; the results go back to the engine as a small table joined to the lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

UNKNOWN = "Other"


@dataclass(frozen=True)
class Agent:
    ua: str
    bot: bool
    browser: str
    os: str
    device: str


@lru_cache(maxsize=1)
def _crawler_patterns() -> list[re.Pattern[str]]:
    """The crawler list as a few large alternations (one regex per chunk of patterns)."""
    import crawleruseragents

    pats = [str(d["pattern"]) for d in crawleruseragents.CRAWLER_USER_AGENTS_DATA]
    out = []
    for i in range(0, len(pats), 200):
        out.append(re.compile("|".join(f"(?:{p})" for p in pats[i : i + 200])))
    return out


def is_bot(ua: str | None) -> bool:
    """True when the user agent matches the crawler list (an empty or '-' agent is not a bot)."""
    if not ua or ua == "-":
        return False
    return any(p.search(ua) for p in _crawler_patterns())


def classify(agents: Iterable[str | None], *, families: bool) -> list[Agent]:
    """One :class:`Agent` per distinct user agent; ``families`` also parses browser, OS and
    device (slower: only when a dimension needs them)."""
    parse = None
    if families:
        from ua_parser import parse as _parse

        parse = _parse
    out = []
    for ua in agents:
        if ua is None:
            continue
        browser = os_ = device = UNKNOWN
        bot = is_bot(ua)
        if parse is not None and ua and ua != "-":
            r = parse(ua)
            if r.user_agent is not None:
                browser = r.user_agent.family
            if r.os is not None:
                os_ = r.os.family
            if r.device is not None:
                device = r.device.family
        out.append(Agent(ua, bot, browser, os_, device))
    return out
