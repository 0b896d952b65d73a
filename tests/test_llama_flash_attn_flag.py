"""``--flash-attn`` reaches llama-server's command line; by default it is off where the model runs on
the CPU (no GPU, or no layer offloaded) and left to llama-server elsewhere. llama-server's own choice is
on for this CPU, and there its attention kernel made the room's LLM questions slower as the conversation
grew: a prompt token 34 ms against 18 off, a written one 63 against 52 (bench/results/s30_llm.md)."""

from __future__ import annotations

import pytest

from wyoming_llama import process
from wyoming_llama.__main__ import make_config, parse_args
from wyoming_llama.process import default_flash_attn


def command(argv: list[str]) -> list[str]:
    config = make_config(parse_args(argv)).llama
    assert config is not None
    return config.command(8080)


@pytest.mark.parametrize("value", ["off", "on", "auto"])
def test_the_flash_attention_flag_reaches_llama_server(value: str) -> None:
    args = command(["--flash-attn", value])
    assert args[args.index("--flash-attn") + 1] == value and args.count("--flash-attn") == 1
    with pytest.raises(SystemExit):
        parse_args(["--flash-attn", "maybe"])


def test_flash_attention_is_off_by_default_on_the_cpu_and_llama_servers_choice_with_a_gpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(process, "gpu_present", lambda: False)
    args = command([])
    assert args[args.index("--flash-attn") + 1] == "off"
    monkeypatch.setattr(process, "gpu_present", lambda: True)
    assert "--flash-attn" not in command([]) and "-fa" not in command([])
    cpu_only = command(["--gpu-layers", "0"])  # a GPU, but the model kept on the CPU
    assert cpu_only[cpu_only.index("--flash-attn") + 1] == "off"
    assert default_flash_attn(-1, gpu=True) is None and default_flash_attn(0, gpu=True) == "off"
    assert default_flash_attn(-1, gpu=False) == "off"
