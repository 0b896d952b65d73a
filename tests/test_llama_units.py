"""wyoming_llama's pure parts: history, flags -> config, the llama-server command, SSE chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_runtime.models import resolve_llama_server, resolve_llm
from wyoming_llama.__main__ import make_config, make_info, parse_args
from wyoming_llama.config import DEFAULT_SYSTEM_PROMPT
from wyoming_llama.history import HistoryStore, estimate_tokens
from wyoming_llama.llm import LlmError, ReplyStats, SseReader, _parse_chunk
from wyoming_llama.process import LlamaServerConfig


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_history_keeps_the_last_turns_per_conversation_trimming_in_blocks() -> None:
    store = HistoryStore(max_turns=10)
    for i in range(10):
        store.add("a", f"question {i}", f"answer {i}")
    assert [t.user for t in store.turns("a")] == [f"question {i}" for i in range(10)]
    store.add("a", "question 10", "answer 10")  # one too many: the older half goes at once
    assert [t.user for t in store.turns("a")] == [f"question {i}" for i in range(6, 11)]
    prefixes = set()
    for i in range(11, 16):  # the prompt keeps its start (the prompt cache stays valid) ...
        prefixes.add(str(store.build("a", "system", "next", budget_tokens=10_000)[:3]))
        store.add("a", f"question {i}", f"answer {i}")
    assert len(prefixes) == 1
    assert [t.user for t in store.turns("a")] == [f"question {i}" for i in range(6, 16)]
    store.add("b", "other", "reply")
    messages = store.build("a", "system", "next", budget_tokens=10_000)
    assert messages[0] == {"role": "system", "content": "system"}
    assert messages[1] == {"role": "user", "content": "question 6"}
    assert messages[-2:] == [{"role": "assistant", "content": "answer 15"}, {"role": "user", "content": "next"}]
    assert len(messages) == 1 + 20 + 1
    assert store.build("b", "", "x", 10_000) == [
        {"role": "user", "content": "other"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "x"},
    ]
    assert store.build(None, "s", "x", 10_000) == [{"role": "system", "content": "s"}, {"role": "user", "content": "x"}]
    one = HistoryStore(max_turns=1)
    one.add("c", "q1", "a1")
    one.add("c", "q2", "a2")
    assert [t.user for t in one.turns("c")] == ["q2"]
    none = HistoryStore(max_turns=0)
    none.add("d", "q", "a")
    assert none.turns("d") == []


def test_a_turn_is_repeated_as_it_was_asked_clock_line_included() -> None:
    """The next prompt starts with the previous one word for word: only the new question is new."""
    store = HistoryStore()
    first = store.build("a", "system", "Tell me about the moon.", 10_000, note="It is now 10:05.")
    store.add("a", "Tell me about the moon.", "It orbits the earth.", note="It is now 10:05.")
    second = store.build("a", "system", "How far is it?", 10_000, note="It is now 10:06.")
    assert second[: len(first)] == first
    assert second[len(first) :] == [
        {"role": "assistant", "content": "It orbits the earth."},
        {"role": "user", "content": "It is now 10:06.\n\nHow far is it?"},
    ]
    assert [t.user for t in store.turns("a")] == ["Tell me about the moon."]  # the words, without the note


def test_history_over_the_budget_keeps_the_newest_turns_filling_half_of_it() -> None:
    store = HistoryStore()
    long = "word " * 300  # ~500 estimated tokens a message
    for i in range(5):
        store.add("a", f"{i} {long}", f"{i} {long}")
    pair = 2 * (estimate_tokens(f"0 {long}") + 8)
    base = estimate_tokens("sys") + estimate_tokens("now?") + 16
    budget = base + 4 * pair + 10  # room for four turns of the five
    messages = store.build("a", "sys", "now?", budget)
    assert [m["content"][0] for m in messages[1:-1]] == ["3", "3", "4", "4"]  # two turns: half the room
    assert messages[-1]["content"] == "now?"
    assert [t.user[0] for t in store.turns("a")] == ["3", "4"]  # the dropped turns are forgotten
    store.add("a", f"5 {long}", f"5 {long}")
    assert [m["content"][0] for m in store.build("a", "sys", "now?", budget)[1:-1:2]] == ["3", "4", "5"]
    # Nothing fits: the question is still sent, with the system prompt.
    assert store.build("a", "sys", "now?", 10) == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "now?"},
    ]


def test_the_clock_note_goes_before_the_newest_question_so_the_prompt_start_is_the_same() -> None:
    """The time told to the model changes every minute: before the newest question (not in the
    system prompt), what comes before it is the same as the last turn's, for llama-server's prompt
    cache; the history keeps the question without it."""
    store = HistoryStore()
    store.add("a", "hello", "hi there")
    one = store.build("a", "sys", "what time is it", 4000, note="It is now 3:09 PM.")
    two = store.build("a", "sys", "what time is it", 4000, note="It is now 3:10 PM.")
    assert (
        one[:-1]
        == two[:-1]
        == [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "hi there"},
        ]
    )
    assert two[-1] == {"role": "user", "content": "It is now 3:10 PM.\n\nwhat time is it"}
    assert store.build("a", "sys", "what time is it", 4000)[-1]["content"] == "what time is it"


def test_idle_conversations_expire_and_the_number_is_capped() -> None:
    clock = Clock()
    store = HistoryStore(idle_seconds=300, max_conversations=3, clock=clock)
    store.add("old", "q", "a")
    clock.now = 200
    store.add("recent", "q", "a")
    clock.now = 301
    assert store.turns("old") == [] and len(store.turns("recent")) == 1
    for name in ("x", "y", "z"):
        store.add(name, "q", "a")
    assert len(store) == 3 and store.turns("recent") == []  # least recently used went first


def test_flags_to_config_and_info() -> None:
    config = make_config(parse_args(["--threads", "2", "--max-restarts", "5", "--restart-delay", "1"]))
    assert config.llama is not None
    assert config.llama.model == resolve_llm() and config.llama.exe == resolve_llama_server()
    assert config.llama.context_size == 8192 and config.llama.gpu_layers == -1
    assert config.llama.restart_delays == (0.0, 1.0, 2.0, 4.0, 8.0)
    assert config.llama.health_interval == 30.0
    assert config.max_history_turns == 10 and config.system_prompt == DEFAULT_SYSTEM_PROMPT
    assert config.server.uri == "tcp://127.0.0.1:10450"  # 10400 is openWakeWord's
    assert config.warm_up_slots is None  # every slot (LocalProvider.warm_up)
    assert make_config(parse_args(["--warm-up-slots", "0"])).warm_up_slots == 0
    with pytest.raises(SystemExit, match="--warm-up-slots"):
        make_config(parse_args(["--warm-up-slots", "-1"]))
    program = make_info(config).handle[0]
    assert program.installed and program.supports_handled_streaming
    assert program.models[0].name == "SmolLM2-135M-Instruct.Q4_1"

    attached = make_config(
        parse_args(
            ["--llm-url", "http://127.0.0.1:8080", "--llm-option", "top_k=20", "--llm-option", "ignore_eos=true"]
        )
    )
    assert attached.llama is None and attached.llm_url == "http://127.0.0.1:8080"
    assert dict(attached.settings.extra) == {"top_k": 20, "ignore_eos": True}


def test_cloud_provider_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    monkeypatch.setattr("wyoming_llama.__main__.env", lambda name, default=None: default)
    with pytest.raises(SystemExit, match="DEEPSEEK_API_KEY"):
        make_config(parse_args(["--provider", "openai-compatible"]))
    with pytest.raises(SystemExit):
        make_config(parse_args(["--max-tokens", "9000"]))


def test_llama_server_command_has_no_shell_and_the_issue_flags() -> None:
    cmd = LlamaServerConfig(exe=Path("/opt/llama-server"), model=Path("/m.gguf"), threads=2).command(8123)
    assert cmd[0] == "/opt/llama-server"
    joined = " ".join(cmd)
    for part in (
        "--model /m.gguf",
        "--host 127.0.0.1",
        "--port 8123",
        "--ctx-size 8192",
        "--n-gpu-layers -1",
        "--threads 2",
        "--cache-prompt",
        "--cache-ram 0",
        "--no-cache-idle-slots",
        "--parallel 4",
        "--kv-unified",
    ):
        assert part in joined
    cached = " ".join(LlamaServerConfig(exe=Path("/x"), model=Path("/m.gguf"), cache_ram_mib=256).command(1))
    assert "--cache-ram 256" in cached and "--no-cache-idle-slots" not in cached
    single = LlamaServerConfig(exe=Path("/x"), model=Path("/m.gguf"), parallel=1).command(1)
    assert "--kv-unified" not in single and "--parallel 1" in " ".join(single)
    assert make_config(parse_args(["--cache-ram", "64"])).llama.cache_ram_mib == 64  # type: ignore[union-attr]
    with pytest.raises(SystemExit, match="cache-ram"):
        make_config(parse_args(["--cache-ram", "-1"]))
    # nice 0 by default since session 19 (10 cost LLM turns seconds in the room; see process.py)
    assert make_config(parse_args([])).llama.nice == 0  # type: ignore[union-attr]
    assert make_config(parse_args(["--nice", "10"])).llama.nice == 10  # type: ignore[union-attr]
    with pytest.raises(SystemExit, match="nice"):
        make_config(parse_args(["--nice", "20"]))


def test_sse_chunks_of_llama_server() -> None:
    stats = ReplyStats()
    sse = SseReader()
    assert sse.feed('data: {"a": 1}') == '{"a": 1}' and sse.feed(": keep-alive") is None and sse.feed("") is None
    assert sse.feed("id: 7") is None and sse.feed("data:[DONE]") == "[DONE]"
    assert _parse_chunk({"choices": [{"index": 0, "delta": {"content": " Paris"}}]}, stats) == " Paris"
    assert _parse_chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, stats) == ""
    _parse_chunk(
        {
            "choices": [],
            "usage": {"prompt_tokens": 24, "completion_tokens": 8, "prompt_tokens_details": {"cached_tokens": 20}},
            "timings": {"predicted_per_second": 83.1, "prompt_ms": 31.5},
        },
        stats,
    )
    assert (
        stats.finish_reason,
        stats.prompt_tokens,
        stats.completion_tokens,
        stats.cached_tokens,
        stats.tokens_per_second,
        stats.prompt_ms,
    ) == ("stop", 24, 8, 20, 83.1, 31.5)
    with pytest.raises(LlmError, match="context"):
        _parse_chunk({"error": {"message": "context exceeded"}}, stats)


@pytest.mark.parametrize(
    "lines",
    [
        [
            'error: {"code": 500, "message": "Context size has been exceeded.", "type": "server_error"}'
        ],  # old llama-server
        ["event: error", 'data: {"error": {"message": "Context size has been exceeded."}}'],  # a standard SSE event
    ],
)
def test_sse_error_lines_raise(lines: list[str]) -> None:
    sse = SseReader()
    assert sse.feed('data: {"choices": []}') == '{"choices": []}'
    with pytest.raises(LlmError, match="Context size has been exceeded") as caught:
        for line in lines:
            sse.feed(line)
    assert caught.value.code == "llm-failed" and not caught.value.transient
