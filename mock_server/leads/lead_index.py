"""The leads of one OU, kept in list order, with an index per list filter: lists answer without scanning.

GET /leads orders by score (highest first), then lead_id. Besides that ranking, the index keeps, in the
same order, the leads per type of last event, and per value of each time-window filter (`last_active`:
the last event within the window; `range`: created within it). The window values are the spec's enums,
read through `leadvibe_contract.windows`. A window is refreshed when asked: a rolling window (`7d`,
`last_30d`) drops from its front the leads that fell out of it since; a calendar window (`today`,
`yesterday`) is rebuilt when the day changes. A page with one filter then costs a few bisections; with
several, a walk over the smallest of their lists (measured in `make bench`, section list).
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sortedcontainers import SortedList

from leadvibe_contract.windows import Window, window

RankKey = tuple[int, str]
_HIGHEST_ID = "\U0010ffff"


class Indexed(Protocol):
    """What the index reads of a lead."""

    lead_id: str
    created_at: datetime

    @property
    def rank_key(self) -> RankKey: ...

    @property
    def last_event_type(self) -> str | None: ...

    @property
    def last_event_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class _State:
    """What the index last recorded of a lead, so that a change can be undone exactly."""

    rank_key: RankKey
    last_type: str | None
    last_at: datetime | None
    created_at: datetime


@dataclass
class _WindowList:
    """The leads whose time (last event, or creation) lies in one window value, in list order."""

    value: str
    of_creation: bool
    span: Window | None = None
    ranked: SortedList[RankKey] = field(default_factory=SortedList)
    by_time: SortedList[tuple[datetime, str]] = field(default_factory=SortedList)
    members: dict[str, tuple[RankKey, datetime]] = field(default_factory=dict)

    def time_of(self, state: _State) -> datetime | None:
        return state.created_at if self.of_creation else state.last_at

    def holds(self, moment: datetime) -> bool:
        assert self.span is not None
        return self.span.start <= moment and (self.span.rolling or moment < self.span.end)

    def add(self, lead_id: str, state: _State) -> None:
        moment = self.time_of(state)
        if moment is not None and self.span is not None and self.holds(moment):
            self.members[lead_id] = (state.rank_key, moment)
            self.ranked.add(state.rank_key)
            self.by_time.add((moment, lead_id))

    def discard(self, lead_id: str) -> None:
        member = self.members.pop(lead_id, None)
        if member is not None:
            self.ranked.remove(member[0])
            self.by_time.remove((member[1], lead_id))

    def refresh(self, now: datetime, states: dict[str, _State]) -> None:
        """Bring the list to `now`: expire from the front (rolling), or rebuild (a new day, a clock set back)."""
        span = window(self.value, now)
        if self.span is not None and span.rolling and span.start >= self.span.start:
            self.span = span
            while self.by_time and self.by_time[0][0] < span.start:
                self.discard(self.by_time[0][1])
            return
        if self.span == span:
            return
        self.span = span
        self.ranked, self.by_time, self.members = SortedList(), SortedList(), {}
        for lead_id, state in states.items():
            self.add(lead_id, state)


class LeadIndex:
    """One OU's leads: the ranking, plus a list per last-event type and per window filter value."""

    def __init__(self, last_active: Iterable[str], created: Iterable[str]) -> None:
        self.ranked: SortedList[RankKey] = SortedList()
        self._states: dict[str, _State] = {}
        self._by_type: dict[str, SortedList[RankKey]] = {}
        self._type_members: dict[str, set[str]] = {}
        self._windows: dict[tuple[str, str], _WindowList] = {}
        for value in last_active:
            self._windows[("last_active", value)] = _WindowList(value, of_creation=False)
        for value in created:
            self._windows[("range", value)] = _WindowList(value, of_creation=True)

    def __len__(self) -> int:
        return len(self.ranked)

    def add(self, lead: Indexed) -> None:
        state = _State(lead.rank_key, lead.last_event_type, lead.last_event_at, lead.created_at)
        self._states[lead.lead_id] = state
        self.ranked.add(state.rank_key)
        if state.last_type is not None:
            self._by_type.setdefault(state.last_type, SortedList()).add(state.rank_key)
            self._type_members.setdefault(state.last_type, set()).add(lead.lead_id)
        for listed in self._windows.values():
            listed.add(lead.lead_id, state)

    def remove(self, lead_id: str) -> None:
        state = self._states.pop(lead_id)
        self.ranked.remove(state.rank_key)
        if state.last_type is not None:
            typed = self._by_type[state.last_type]
            typed.remove(state.rank_key)
            self._type_members[state.last_type].discard(lead_id)
            if not typed:
                del self._by_type[state.last_type], self._type_members[state.last_type]
        for listed in self._windows.values():
            listed.discard(lead_id)

    def update(self, lead: Indexed) -> None:
        """After any change of the lead's score, last event or creation time."""
        known = self._states.get(lead.lead_id)
        fresh = _State(lead.rank_key, lead.last_event_type, lead.last_event_at, lead.created_at)
        if known != fresh:
            self.remove(lead.lead_id)
            self.add(lead)

    def page(
        self,
        now: datetime,
        *,
        min_score: int | None,
        max_score: int | None,
        event_type: str | None,
        last_active: str | None,
        created_range: str | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[str]]:
        """(total, lead ids of the page) of the leads that pass every filter, in list order."""
        # Each filter: its list in rank order, and the set of its lead ids (a membership test).
        lists: list[tuple[SortedList[RankKey], Container[str]]] = [(self.ranked, self._states)]
        if event_type is not None:
            lists.append((self._by_type.get(event_type, SortedList()), self._type_members.get(event_type, set())))
        for name, value in (("last_active", last_active), ("range", created_range)):
            if value is not None:
                listed = self._windows[(name, value)]
                listed.refresh(now, self._states)
                lists.append((listed.ranked, listed.members))
        bounds = [_bounds(ranked, min_score, max_score) for ranked, _ in lists]
        smallest = min(range(len(lists)), key=lambda i: bounds[i][1] - bounds[i][0])
        source, (low, high) = lists[smallest][0], bounds[smallest]
        others = [members for i, (_, members) in enumerate(lists) if i not in (smallest, 0)]
        if not others:  # one list says it all: count and page by position
            start = min(low + offset, high)
            return high - low, [lead_id for _, lead_id in source.islice(start, min(start + limit, high))]
        ids = [key[1] for key in source.islice(low, high)]
        for members in others:  # a walk over the smallest list, narrowed by each other filter in turn
            ids = [lead_id for lead_id in ids if lead_id in members]
        return len(ids), ids[offset : offset + limit]


def _bounds(ranked: SortedList[RankKey], min_score: int | None, max_score: int | None) -> tuple[int, int]:
    low = ranked.bisect_left((-max_score, "")) if max_score is not None else 0
    high = ranked.bisect_right((-min_score, _HIGHEST_ID)) if min_score is not None else len(ranked)
    return low, max(low, high)
