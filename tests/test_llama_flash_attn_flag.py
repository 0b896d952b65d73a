"""``--flash-attn`` reaches llama-server's command line, and by default llama-server keeps its own
choice (on for this CPU: the replies' numerics main has). Off, its CPU attention no longer slows as the
conversation grows (bench/results/s29_llm.md: 9.6 -> 21.4 ms a prompt token from 124 to 631 tokens of
context with it, 7.7-9.6 without), but greedy replies differ: an opt-in for an A/B in the room."""

from __future__ import annotations

import pytest

from wyoming_llama.__main__ import make_config, parse_args


def command(argv: list[str]) -> list[str]:
    config = make_config(parse_args(argv)).llama
    assert config is not None
    return config.command(8080)


@pytest.mark.parametrize("value", ["off", "on", "auto"])
def test_the_flash_attention_flag_reaches_llama_server_and_is_left_out_by_default(value: str) -> None:
    args = command(["--flash-attn", value])
    assert args[args.index("--flash-attn") + 1] == value
    assert "--flash-attn" not in command([]) and "-fa" not in command([])  # llama-server's own choice
    with pytest.raises(SystemExit):
        parse_args(["--flash-attn", "maybe"])
