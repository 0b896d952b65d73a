"""wyoming-llama: a Wyoming conversation ("handle") service over llama.cpp's llama-server."""

__version__ = "0.1.0"
