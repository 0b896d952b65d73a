"""The streaming ASR → intent/LLM → TTS pipeline, for satellites and standalone use."""
