#!/usr/bin/env bash
# Smoke test of the GPU paths, for a machine with an NVIDIA GPU, the CUDA toolkit (nvcc) and
# its driver (this project's CI machines have none). Builds llama-server with CUDA, swaps
# onnxruntime for onnxruntime-gpu, starts every engine on the GPU, asks the demo question and
# shows what runs on the GPU. Run from the repository root after ./run.sh setup.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nvidia-smi >/dev/null || { echo "no nvidia-smi: not a GPU machine"; exit 2; }
.venv/bin/python -m voice_runtime.setup_models --gpu cuda llama-server
.venv/bin/pip uninstall -q -y onnxruntime && .venv/bin/pip install -q -e '.[gpu]'
.venv/bin/python -m wyoming_whisper --device cuda --uri tcp://127.0.0.1:10301 & w=$!
.venv/bin/python -m wyoming_kokoro --device cuda --provider kokoro --uri tcp://127.0.0.1:10201 & t=$!
.venv/bin/python -m wyoming_llama --gpu-layers -1 --uri tcp://127.0.0.1:10451 & l=$!
trap 'kill $w $t $l 2>/dev/null' EXIT
sleep 30
.venv/bin/voice-orchestrator ask --wav ~/.cache/hearth/demo/question.wav --out /tmp/gpu_reply.wav \
  --asr tcp://127.0.0.1:10301 --tts tcp://127.0.0.1:10201 --handle tcp://127.0.0.1:10451
nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv
