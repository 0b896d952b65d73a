"""End to end on our own servers and models: satellite → whisper → llama → TTS → satellite."""

from __future__ import annotations

import asyncio

from speech import speak, transcribe, word_error_rate
from stack import Stack
from test_orchestrator_satellite import NO_CONTINUATION, Script, assert_clean_cut, link_to, satellite

from orchestrator.intents import IntentRecognizer
from orchestrator.pipeline import Pipeline
from orchestrator.services import ServicePool
from voice_runtime.faultproxy import FaultProxy


async def test_spoken_question_gets_a_spoken_llm_reply(stack: Stack) -> None:
    pipeline = Pipeline(ServicePool("asr", [stack.whisper.uri]), ServicePool("handle", [stack.llama.uri]),
                        ServicePool("tts", [stack.tts.uri]), intents=IntentRecognizer())
    script = Script(["What is the capital of France?"])
    async with satellite(script) as sat, link_to(sat.port or 0, pipeline) as link:
        await asyncio.wait_for(script.done.wait(), 180)
        turns = await asyncio.wait_for(link.wait_turns(1), 30)
    turn = turns[0]
    assert turn.error is None, turn.error
    assert "capital of france" in turn.transcript.lower()
    assert turn.intent is None and turn.reply.strip()
    assert {"first_token", "first_tts_audio", "first_audio_sent"} <= set(turn.marks)
    reply_audio = b"".join(e.payload or b"" for e in script.received if e.type == "audio-chunk")
    assert len(reply_audio) > 16000  # more than half a second of speech
    # What was spoken is the reply the LLM wrote (whisper listens; tiny.en on a busy box
    # mishears some words, and the tiny LLM writes odd ones).
    heard = await asyncio.to_thread(transcribe, reply_audio)
    wer = word_error_rate(turn.reply, heard)
    print(f"reply={turn.reply!r} heard={heard!r} wer={wer:.2f}")
    assert wer <= 0.4, (turn.reply, heard, wer)
    types = [e.type for e in script.received]
    assert types.count("audio-start") == 1 and types.count("audio-stop") == 1
    assert types.index("transcript") < types.index("audio-start")


async def test_barge_in_during_an_llm_reply_closes_llm_and_tts_connections(stack: Stack) -> None:
    llm_proxy = FaultProxy("127.0.0.1", stack.llama.port)
    tts_proxy = FaultProxy("127.0.0.1", stack.tts.port, mode="delay", delay=0.05)
    await llm_proxy.start()
    await tts_proxy.start()
    pipeline = Pipeline(ServicePool("asr", [stack.whisper.uri]), ServicePool("handle", [llm_proxy.uri], warm=False),
                        ServicePool("tts", [tts_proxy.uri], warm=False), intents=IntentRecognizer())
    script = Script(["Tell me a long story about a brave little dragon.", "What time is it?"],
                    barge_in_on_first_audio=True)
    speak(script.utterances[0])
    try:
        # At the reply's first audio, new speech would continue the question: here it is a barge-in.
        async with satellite(script) as sat, link_to(sat.port or 0, pipeline, continuation=NO_CONTINUATION) as link:
            await asyncio.wait_for(script.done.wait(), 240)
            first, second = await asyncio.wait_for(link.wait_turns(2), 30)
            open_llm, open_tts = len(llm_proxy._writers), len(tts_proxy._writers)
    finally:
        await llm_proxy.stop()
        await tts_proxy.stop()
    assert first.cancelled and first.intent is None
    assert_clean_cut(script, first.audio_bytes)
    assert llm_proxy.connections == 1  # only the first turn needed the LLM
    assert open_llm == 0 and open_tts == 0  # the first turn's streams were closed
    assert second.intent is not None and second.intent.name == "HassGetCurrentTime" and second.error is None
