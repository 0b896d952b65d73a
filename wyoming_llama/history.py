"""Conversation history per conversation id: pure, synchronous, clock injected.

Each conversation keeps at most ``max_turns`` (user, assistant) turns. When a prompt is built,
the oldest turns are dropped until the estimated prompt fits the token budget (the context
size minus the room kept for the reply). Conversations idle for ``idle_seconds`` are
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


@dataclass
class _Conversation:
    turns: deque[Turn]
    last_used: float


def estimate_tokens(text: str) -> int:
    """A conservative token count for budgeting (English averages ~4 characters a token)."""
    return len(text) // 3 + 1


MESSAGE_OVERHEAD_TOKENS = 8  # role markers and separators of the chat template


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
              budget_tokens: int) -> list[ChatMessage]:
        """System prompt, as many recent turns as fit ``budget_tokens``, then the new user text."""
        head: list[ChatMessage] = [{"role": "system", "content": system_prompt}] if system_prompt else []
        tail: list[ChatMessage] = [{"role": "user", "content": user_text}]
        used = prompt_tokens(head + tail, self.count_tokens)
        kept: list[ChatMessage] = []
        for turn in reversed(self.turns(conversation_id) if conversation_id else []):
            pair: list[ChatMessage] = [
                {"role": "user", "content": turn.user},
                {"role": "assistant", "content": turn.assistant},
            ]
            cost = prompt_tokens(pair, self.count_tokens)
            if used + cost > budget_tokens:
                break
            kept = pair + kept
            used += cost
        return head + kept + tail

    def add(self, conversation_id: str, user_text: str, assistant_text: str) -> None:
        self.expire()
        conversation = self._conversations.pop(conversation_id, None)
        if conversation is None:
            conversation = _Conversation(deque(maxlen=self.max_turns), self.clock())
        conversation.turns.append(Turn(user_text, assistant_text))
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
