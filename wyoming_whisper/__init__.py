"""Wyoming speech-to-text server: faster-whisper with Silero VAD, decoding while the user speaks."""

__version__ = "0.1.0"
