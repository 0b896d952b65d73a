"""GPU paths on a machine without a GPU: selectable, argument-checked, and falling back to the CPU.

(This machine has no GPU: a real CUDA run is the smoke script in the README, for a GPU host.)
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from voice_runtime.setup_models import SetupError, gpu_backend, llama_cmake_flags
from wyoming_kokoro.engine import EngineError, onnx_providers
from wyoming_llama.process import LlamaServerConfig
from wyoming_whisper.__main__ import make_config, parse_args, resolve_device


def test_llama_build_is_cuda_where_nvcc_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEARTH_GPU", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvcc
    assert gpu_backend(has_gpu=True) == "cpu" and gpu_backend("cpu") == "cpu"
    with pytest.raises(SetupError, match="needs nvcc"):
        gpu_backend("cuda")
    with pytest.raises(SetupError, match="auto, cuda or cpu"):
        gpu_backend("rocm")
    nvcc = tmp_path / "nvcc"  # a stand-in on the PATH: only its presence is looked at
    nvcc.write_text("#!/bin/sh\nexit 0\n")
    nvcc.chmod(nvcc.stat().st_mode | stat.S_IEXEC)
    assert gpu_backend(has_gpu=True) == "cuda"
    assert gpu_backend(has_gpu=False) == "cpu"  # a CUDA compiler without a GPU (as on this machine)
    assert gpu_backend("cuda", has_gpu=False) == "cuda"  # asked for: built anyway
    monkeypatch.setenv("HEARTH_GPU", "cpu")
    assert gpu_backend(has_gpu=True) == "cpu"
    cuda = llama_cmake_flags(Path("s"), Path("b"), native=True, gpu="cuda")
    cpu = llama_cmake_flags(Path("s"), Path("b"), native=True, gpu="cpu")
    assert "-DGGML_CUDA=ON" in cuda and "-DGGML_CUDA=ON" not in cpu and cuda[:-1] == cpu


def test_whisper_device_auto_is_cpu_int8_without_a_gpu() -> None:
    assert resolve_device("auto") == "cpu" and resolve_device("cuda") == "cuda"
    config = make_config(parse_args(["--model", "tiny.en"]))
    assert (config.engine.device, config.engine.compute_type) == ("cpu", "int8")
    config = make_config(parse_args(["--model", "tiny.en", "--device", "cuda"]))
    assert (config.engine.device, config.engine.compute_type) == ("cuda", "float16")


def test_tts_cuda_needs_onnxruntime_gpu() -> None:
    assert onnx_providers("cpu") == ["CPUExecutionProvider"]
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        assert onnx_providers("cuda")[0] == "CUDAExecutionProvider"
    else:
        with pytest.raises(EngineError, match="onnxruntime-gpu"):
            onnx_providers("cuda")


def test_llama_gpu_layers_reach_llama_server() -> None:
    command = LlamaServerConfig(exe=Path("llama-server"), model=Path("m.gguf"), gpu_layers=20).command(8080)
    assert command[command.index("--n-gpu-layers") + 1] == "20"
    assert os.path.basename(command[0]) == "llama-server"
