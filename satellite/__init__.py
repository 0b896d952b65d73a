"""A Raspberry-Pi-friendly Wyoming room satellite: WebRTC VAD, tones, barge-in, cloud fallback.

No torch, no onnxruntime: numpy, webrtcvad and (only for PortAudio devices) pyaudio.
Run ``python -m satellite --help``; see ``satellite/README.md``.
"""
