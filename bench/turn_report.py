"""The Markdown report of ``bench/turn_bench.py``."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.turn_corpus import Request

GROUPS = [("all", "all requests"), ("paused", "paused 0.3-0.9 s"), ("paused-open", "pause after a word that "
          "cannot end it"), ("paused-can-end", "pause after a word that can end it"), ("unpaused", "no pause")]


def _cell(group: dict[str, Any]) -> str:
    if not group["n"]:
        return "-"
    lat = "" if group["p50"] is None else f"; {group['p50']:.2f} / {group['p95']:.2f} s"
    return f"{group['cut']}/{group['n']} cut{lat}"


def markdown(conditions: dict[str, Any], summary: dict[str, Any], corpus: list[Request], outcomes: list[Any],
             skipped: dict[str, str]) -> str:
    voices = Counter(r.voice for r in corpus)
    methods = Counter(r.method for r in corpus if r.pause_after)
    paused = sum(1 for r in corpus if r.pause_after)
    lines = [
        "# End of turn: cut-offs and speed (`bench/turn_bench.py`)",
        "",
        f"{conditions['date']}; {conditions['cores']} cores ({conditions['machine']}), shared with other work: "
        f"load average {conditions['loadavg_start'][0]:.2f} at the start, {conditions['loadavg_end'][0]:.2f} at "
        f"the end. One `wyoming_whisper` server ({conditions['model']}, `--endpoint-max-silence "
        f"{conditions['endpoint_max_silence']}`), each request streamed at real-time pace in "
        f"{conditions['chunk_ms']} ms chunks with `vad_sensitivity` and no partial transcripts (as "
        "`voice-orchestrator serve` asks), the rules interleaved request by request.",
        "",
        f"Corpus: {len(corpus)} requests ({paused} with a pause of 0.3-0.9 s mid-sentence), voices "
        + ", ".join(f"{v} ({n})" for v, n in sorted(voices.items()))
        + f"; paused ones made by {', '.join(f'{m} ({n})' for m, n in methods.items())}; conditions clean, "
        "far-field (-20..0 dB) and white noise at -40..-30 dBFS. `held` was written before the rules were "
        "tuned and never tuned on (`sealed`, of the fresh corpus, neither: reported only). "
        f"{len(skipped)} clip(s) left out because tiny.en does not hear them whole "
        "even as one clip with `audio-stop` (not an end-of-turn matter): "
        + (", ".join(f"{k} ({v!r})" for k, v in skipped.items()) or "none") + ".",
        "",
        "Cells: requests cut off (transcript missing under 75 % of the words, or under 60 % of the words after "
        "the pause, or sent before the speech ended) / requests; then end of speech -> `transcript` p50 / p95 "
        "over the requests heard whole.",
        "",
    ]
    for split in (*dict.fromkeys(r.split for r in corpus), "all"):
        lines += [f"## {split}", "", "| rule | " + " | ".join(label for _, label in GROUPS) + " |",
                  "|---|" + "---|" * len(GROUPS)]
        for config, parts in summary.items():
            lines.append(f"| {config} | " + " | ".join(_cell(parts[split][key]) for key, _ in GROUPS) + " |")
        lines.append("")
    cuts = [o for o in outcomes if not o.whole]
    if cuts:
        lines += ["## Cut-offs", "", "| request | rule | text | heard |", "|---|---|---|---|"]
        by_id = {r.id: r for r in corpus}
        for o in cuts:
            r = by_id[o.request]
            said = r.text if not r.pause_after else " ".join(r.text.split()[: r.pause_after]) + " ... " + " ".join(
                r.text.split()[r.pause_after:])
            lines.append(f"| {o.request} ({r.voice}, {r.condition}, pause {r.pause:.2f} s) | {o.config} | {said} "
                         f"| {o.text} |")
        lines.append("")
    return "\n".join(lines)
