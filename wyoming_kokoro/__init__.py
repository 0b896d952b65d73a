"""Wyoming text-to-speech server: Kokoro-82M and Piper, streaming sentence by sentence."""

__version__ = "0.1.0"
