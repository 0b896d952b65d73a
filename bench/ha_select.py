"""Set the rig's satellite "finished speaking detection" (HA's ``vad_sensitivity`` select) while the
rig's check runs (session 20).

The rig (``../shared/ha2025/ha_check.py``) starts Home Assistant on ``--port``, onboards the user
``check`` and adds our satellite; it has no option for the select. This logs in as that user
(retrying until the check has onboarded it), waits for the satellite's
``select.*_finished_speaking_detection`` entity and sets it. Home Assistant reads the select when
a pipeline starts (``assist_satellite/entity.py`` ``_resolve_vad_sensitivity``: aggressive 0.25 s,
default 0.7 s, relaxed 1.25 s of silence), so the mic WAV must give this a few seconds before the
satellite's first ``run-pipeline``.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

USER, PASSWORD = "check", "check-pass-123"  # ha_check.py's onboarding user


def _call(url: str, data: dict[str, Any] | None = None, token: str | None = None, form: bool = False) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = None
    if data is not None:
        if form:
            body = urllib.parse.urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read() or b"null")


def _token(base: str) -> str:
    client = base + "/"
    flow = _call(base + "/auth/login_flow", {"client_id": client, "handler": ["homeassistant", None],
                                            "redirect_uri": client})  # fmt: skip
    res = _call(base + f"/auth/login_flow/{flow['flow_id']}", {"client_id": client, "username": USER,
                                                               "password": PASSWORD})  # fmt: skip
    if res.get("type") != "create_entry":
        raise RuntimeError(f"login: {res.get('type')}")
    tok = _call(base + "/auth/token", {"grant_type": "authorization_code", "code": res["result"],
                                       "client_id": client}, form=True)  # fmt: skip
    return str(tok["access_token"])


def set_sensitivity_blocking(port: int, option: str, timeout: float = 120.0) -> dict[str, Any]:
    """Log in, wait for the select, set ``option``; what was done and when (monotonic s)."""
    base = f"http://127.0.0.1:{port}"
    end = time.monotonic() + timeout
    token = None
    while time.monotonic() < end:
        try:
            if token is None:
                token = _token(base)
            states = _call(base + "/api/states", token=token)
            found = [s for s in states if s["entity_id"].startswith("select.")
                     and s["entity_id"].endswith("_finished_speaking_detection")]  # fmt: skip
            if found:
                entity = found[-1]["entity_id"]
                _call(base + "/api/services/select/select_option", {"entity_id": entity, "option": option}, token)
                state = _call(base + f"/api/states/{entity}", token=token)["state"]
                return {"entity": entity, "option": option, "state": state, "set_at": time.monotonic()}
        except (urllib.error.URLError, OSError, RuntimeError, KeyError, ValueError):
            token = None if token is None else token
        time.sleep(0.2)
    return {"entity": None, "option": option, "state": None, "set_at": None}


async def set_sensitivity(port: int, option: str) -> dict[str, Any]:
    return await asyncio.to_thread(set_sensitivity_blocking, port, option)
