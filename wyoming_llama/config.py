"""wyoming-llama's frozen configuration and its defaults (the flags in ``__main__`` fill it)."""

from __future__ import annotations

from dataclasses import dataclass

from voice_runtime.server import ServerConfig

from .llm import GenerationSettings
from .process import LlamaServerConfig

PROVIDERS = ("local", "openai-compatible")
DEFAULT_BASE_URL = "https://api.deepseek.com"
DEFAULT_CLOUD_MODEL = "deepseek-chat"
# Chosen by bench/answers_bench.py (2026-12-01, SmolLM2-135M, 48 questions, a held-out third):
# this prompt at temperature 0 and 80 tokens answered 82 % / 80 % (tune / held-out) of factual
# questions right, against 45 % / 60 % for the previous prompt at 0.7 and 256 tokens, whose
# replies ran 68 s spoken at p95.
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful voice assistant in a home. Your answers are spoken aloud. Answer the question "
    "directly and correctly in English, in one or two short sentences of plain text. Never use lists, "
    "markdown or emojis. If you do not know, say so. You cannot control devices, set timers or alarms, "
    "or take any action in the world: you can only talk. Never say you turned, switched, locked, opened, "
    "set or started anything; if asked to, say you can't."
)


@dataclass(frozen=True)
class LlamaConfig:
    server: ServerConfig
    provider: str
    model_name: str
    llama: LlamaServerConfig | None  # a llama-server to start and manage
    llm_url: str | None  # an already running OpenAI-compatible endpoint (local provider)
    base_url: str  # openai-compatible provider
    api_key_env: str
    settings: GenerationSettings
    system_prompt: str
    context_size: int
    max_history_turns: int
    conversation_timeout: float
    max_transcript_chars: int
    languages: tuple[str, ...]
    max_sentences: int = 3
    warm_up_slots: int | None = None  # slots given the system prompt at start and after a restart (None: all)
    prefill: bool = True  # after each stored reply, evaluate the next prompt up to its clock line (prefill.py)
    prefill_refresh: bool = True  # ... and again at each new minute while the conversation is idle
