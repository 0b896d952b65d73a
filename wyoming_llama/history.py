"""Conversation history per conversation id: pure, synchronous, clock injected.

Each conversation keeps at most ``max_turns`` (user, assistant) turns. When a prompt is built,
the oldest turns are dropped until the estimated prompt fits the token budget (the context
size minus the room kept for the reply).

Trimming is done in blocks, never one turn at a time: when a conversation outgrows
``max_turns`` or the budget, its older turns are dropped until half the room is free. A
prompt that loses its oldest turn changes at its start, so llama-server would evaluate the
whole history again on every turn (the cost grows with the history: a soak measured the
reply latency drifting from 1.1 s to 3.2 s); after a block trim the prompt keeps the same
start for several turns and its prompt cache is reused. Conversations idle for ``idle_seconds`` are
forgotten; at most ``max_conversations`` are kept (the least recently used goes first).

A reply cut off by cancellation is stored as what was actually said (the caller passes the
text that reached the client), not what the model had planned.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict


class ChatMessage(TypedDict):
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Turn:
    user: str
    assistant: str
    note: str = ""  # what came before the user's words when they were asked (the clock line)
    cut: bool = False  # the reply was cut off (barge-in, error): ``assistant`` is its unfinished start


@dataclass
class _Conversation:
    turns: deque[Turn]
    last_used: float


def estimate_tokens(text: str) -> int:
    """A conservative token count for budgeting (English averages ~4 characters a token)."""
    return len(text) // 3 + 1


MESSAGE_OVERHEAD_TOKENS = 8  # role markers and separators of the chat template


def asked(user_text: str, note: str = "") -> str:
    """The user message as the model sees it: ``note`` (the clock line) before the text."""
    return f"{note}\n\n{user_text}" if note else user_text


def _messages(turn: Turn) -> list[ChatMessage]:
    """A past turn as the model sees it. A cut-off reply's unfinished start is left out: the small
    default model copies it into later answers (SmolLM2-135M, temperature 0, 6 new questions after
    1-3 cut replies: 2/18 answers repeated a cut reply's words when it was kept as said, with "…"
    or with "(interrupted by the user)" after it; 0/18 with it left out)."""
    user: ChatMessage = {"role": "user", "content": asked(turn.user, turn.note)}
    if turn.cut:
        return [user]
    return [user, {"role": "assistant", "content": turn.assistant}]


def prompt_tokens(messages: list[ChatMessage], count: Callable[[str], int] = estimate_tokens) -> int:
    return sum(count(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in messages)


@dataclass
class HistoryStore:
    max_turns: int = 10
    idle_seconds: float = 300.0
    max_conversations: int = 1000
    clock: Callable[[], float] = time.monotonic
    count_tokens: Callable[[str], int] = estimate_tokens
    _conversations: OrderedDict[str, _Conversation] = field(default_factory=OrderedDict)

    def __len__(self) -> int:
        return len(self._conversations)

    def turns(self, conversation_id: str) -> list[Turn]:
        """The stored turns of a conversation (oldest first); empty once it has expired."""
        self.expire()
        conversation = self._conversations.get(conversation_id)
        return list(conversation.turns) if conversation else []

    def build(self, conversation_id: str | None, system_prompt: str, user_text: str,
              budget_tokens: int, *, note: str = "") -> list[ChatMessage]:
        """System prompt, as many recent turns as fit ``budget_tokens``, then the new user text,
        after ``note`` (what changes every turn, such as the time: after the history, so the
        prompt's start stays the same and llama-server's prompt cache is reused). Earlier turns
        are repeated as they were asked, note included (``add(..., note=)``), so the prompt
        matches the previous one word for word up to the new question: only that is evaluated."""
        head: list[ChatMessage] = [{"role": "system", "content": system_prompt}] if system_prompt else []
        tail: list[ChatMessage] = [{"role": "user", "content": asked(user_text, note)}]
        used = prompt_tokens(head + tail, self.count_tokens)
        turns = self.turns(conversation_id) if conversation_id else []
        pairs: list[list[ChatMessage]] = [_messages(t) for t in turns]
        costs = [prompt_tokens(pair, self.count_tokens) for pair in pairs]
        room = budget_tokens - used
        if sum(costs) > room:
            # Over budget: keep the newest turns that fill at most half the room, and forget
            # the rest, so the next prompts start the same way (see the module docstring).
            keep, filled = 0, 0
            for cost in reversed(costs):
                if filled + cost > room // 2:
                    break
                keep, filled = keep + 1, filled + cost
            pairs = pairs[len(pairs) - keep:]
            conversation = self._conversations.get(conversation_id) if conversation_id else None
            if conversation is not None:
                for _ in range(len(turns) - keep):
                    conversation.turns.popleft()
        return head + [message for pair in pairs for message in pair] + tail

    def add(self, conversation_id: str, user_text: str, assistant_text: str, *, note: str = "",
            cut: bool = False) -> None:
        self.expire()
        conversation = self._conversations.pop(conversation_id, None)
        if conversation is None:
            conversation = _Conversation(deque(), self.clock())
        turns = conversation.turns
        turns.append(Turn(user_text, assistant_text, note, cut))
        if len(turns) > self.max_turns:
            keep = max(1, self.max_turns // 2) if self.max_turns else 0
            for _ in range(len(turns) - keep):
                turns.popleft()
        conversation.last_used = self.clock()
        self._conversations[conversation_id] = conversation  # most recently used last
        while len(self._conversations) > self.max_conversations:
            self._conversations.popitem(last=False)

    def forget(self, conversation_id: str) -> None:
        self._conversations.pop(conversation_id, None)

    def expire(self) -> int:
        """Drop conversations idle for longer than ``idle_seconds``; return how many."""
        deadline = self.clock() - self.idle_seconds
        stale = [key for key, conv in self._conversations.items() if conv.last_used < deadline]
        for key in stale:
            del self._conversations[key]
        return len(stale)
