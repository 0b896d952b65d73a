"""bench/room_bench.py judges an interrupting turn by what the product heard (issue 17, session 23).

The room bench used to decode every sample the satellite streamed for an interrupting question
(``product_decoder``) and called that the whisper server's transcript; the server decodes only its
Silero region of the stream (its lead or reach, the endpointing's 0.1 s pad) and decodes a final
text that repeats a phrase again, longer. ``bench/whisper_turn.ServerTurn`` runs the server's own
code on the stream and ``question_wer`` reports its text (``heard_product``, ``wer_product``)
beside the judge's (``heard``, ``wer``: the whole stream).

tests/audio/room_barge_0db_streamed_turn.wav: what the satellite streamed for the second
interrupting turn of session 23's room run (room_bench --echo-db 0 --barge-ins 10, s23-wer,
2026-12-04 07:50 UTC, load ~11: "Stop. What time is it?" said 1.5 s into the forecast reply; the
stream starts in the satellite's pre-roll, the reply's "this week" in it): the server's transcript
"This week star, what time is it?". tests/audio/emerald_loop_tiny_en.wav (tests/test_whisper_loop.py):
its region alone decodes as the question twice, the server's final as the question once.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

import pytest
from whisper_clip import AUDIO, clip_float, clip_pcm, transcript

from bench.whisper_turn import ServerTurn, question_wer  # bench/room_bench.py's interrupting WER
from wyoming_whisper.engine import SAMPLE_RATE

ROOM_TURN = AUDIO / "room_barge_0db_streamed_turn.wav"
EMERALD = AUDIO / "emerald_loop_tiny_en.wav"


@pytest.fixture(scope="module")
def server() -> ServerTurn:
    return ServerTurn()


async def test_the_product_transcript_is_the_servers_on_a_recorded_room_turn(server: ServerTurn) -> None:
    pcm = clip_pcm(ROOM_TURN)
    heard = server(pcm)
    assert heard.text == await transcript(pcm)  # what our whisper handler sends for the same stream
    assert heard.region is not None and heard.region[0] == 0  # the stream starts in the satellite's pre-roll
    assert "time is it" in heard.text.lower(), heard.text


@pytest.fixture(scope="module")
def beam_server() -> ServerTurn:
    """The server's decode before session 25 (greedy first off): the beam loops on the emerald clip."""
    from voice_runtime.models import resolve_whisper
    from wyoming_whisper.engine import EngineConfig, WhisperEngine

    return ServerTurn(WhisperEngine(EngineConfig(resolve_whisper("tiny.en"), greedy_sure=None)))


def test_greedy_first_hears_the_emerald_question_once_without_the_loop_retry(server: ServerTurn) -> None:
    """The default decode (greedy first, session 25) on the clip whose region the beam decodes as
    the question twice: the greedy text is sure and says it once, so no retry is needed."""
    heard = server(clip_pcm(EMERALD))
    assert not heard.looped
    assert heard.text.lower().count("emerald") == 1 and "color" in heard.text.lower(), heard.text


def test_question_wer_reports_the_product_beside_the_judge(beam_server: ServerTurn,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import whisper_turn

    monkeypatch.setattr(whisper_turn, "ServerTurn", lambda: beam_server)  # question_wer's own ServerTurn
    server = beam_server
    pcm = clip_pcm(EMERALD)
    said = "What color is an emerald?"
    heard = server(pcm)
    assert heard.region is not None and heard.looped  # the region alone: the question twice
    region = clip_float(EMERALD)[heard.region[0] : heard.region[1] - int(0.2 * SAMPLE_RATE)]
    assert server.engine.transcribe(region, "en").text.lower().count("emerald") == 2
    report = question_wer([pcm], {said: pcm})
    turn = report["per_question"][0]
    assert turn["heard_product"] == heard.text and turn["heard_product"].lower().count("emerald") == 1
    assert turn["wer_product"] == 0.0 and report["wer_mean_product"] == 0.0
    assert turn["heard"] == server.whole(pcm) and "wer" in turn  # the judge's, beside it
    assert turn["product_looped"] and report["clean_floor_product"] == {said: 0.0}
