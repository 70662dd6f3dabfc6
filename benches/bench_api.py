"""HTTP API under load: 50 concurrent clients on 127.0.0.1 for a bounded time.

Target: ``POST /v1/chat`` on the deterministic path (scripted model through the real graph,
SQLite checkpoints, API-key auth, audit, metrics) vs. a bare FastAPI echo endpoint measured in the
same run with the same client. Each server runs in its own uvicorn process; the load generator
is this process (httpx.AsyncClient). Prints one JSON object (last line of stdout).

    python benches/bench_api.py            # 8 s per target
    python benches/bench_api.py --full     # 60 s per target
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_P99_MS = 150.0


def indagent_app() -> Any:
    """The real app with a scripted model (settings from the environment)."""
    from agents.models.scripted import scripted_registry
    from server.app import create_app
    from server.brain import open_brain
    from server.settings import Settings

    models, _ = scripted_registry()
    return create_app(Settings(), brain_factory=lambda s: open_brain(s, models=models))


class EchoBody(BaseModel):
    """The baseline's request body."""

    message: str


def echo_app() -> Any:
    """The baseline: a bare FastAPI app echoing a pydantic body."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/echo")
    def echo(body: EchoBody) -> dict[str, str]:
        return {"answer": f"You said: {body.message}"}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _serve(kind: str, port: int) -> None:
    import uvicorn

    app = indagent_app() if kind == "indagent" else echo_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(kind: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port)], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{kind} server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise TimeoutError(f"{kind} server did not start")


async def _load(url: str, body: dict[str, Any], headers: dict[str, str], *, clients: int, duration_s: float,
                warmup_s: float) -> dict[str, Any]:
    lat: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits, headers=headers) as client:
        t_start = time.perf_counter()
        t_measure = t_start + warmup_s
        t_end = t_measure + duration_s

        async def worker() -> None:
            while (now := time.perf_counter()) < t_end:
                try:
                    r = await client.post(url, json=body)
                    ok, kind = r.status_code == 200, str(r.status_code)
                except httpx.HTTPError as exc:
                    ok, kind = False, type(exc).__name__
                done = time.perf_counter()
                if now >= t_measure:
                    if ok:
                        lat.append((done - now) * 1000)
                    else:
                        errors[kind] = errors.get(kind, 0) + 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    lat.sort()
    n = len(lat)
    pct = (lambda q: round(lat[min(n - 1, int(q * n))], 2)) if n else (lambda q: None)
    return {"requests": n, "rps": round(n / duration_s, 1), "p50_ms": pct(0.50), "p90_ms": pct(0.90),
            "p99_ms": pct(0.99), "mean_ms": round(statistics.fmean(lat), 2) if lat else None,
            "errors": sum(errors.values()), "error_kinds": errors}


def run(*, clients: int, duration_s: float) -> dict[str, Any]:
    """Measure the echo baseline and /v1/chat in one run."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"INDAGENT_DATA_DIR": str(Path(tmp) / "var"), "INDAGENT_AUTH": "on",
               "INDAGENT_RATE_LIMIT_PER_MIN": "10000000"}
        from server.auth import ServerDB

        Path(env["INDAGENT_DATA_DIR"]).mkdir(parents=True)
        with ServerDB(Path(env["INDAGENT_DATA_DIR"]) / "server.sqlite") as db:
            key = db.create_key("viewer", label="bench").key
        results: dict[str, Any] = {}
        for kind, path, headers in (("echo", "/echo", {}), ("indagent", "/v1/chat", {"Authorization": f"Bearer {key}"})):
            proc, base = _start(kind, env)
            try:
                results[kind] = asyncio.run(_load(f"{base}{path}", {"message": "hello plant"}, headers,
                                                  clients=clients, duration_s=duration_s, warmup_s=1.0))
            finally:
                proc.terminate()
                proc.wait(timeout=20)
    ind, base = results["indagent"], results["echo"]

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a and b else None

    return {
        "bench": "api", "clients": clients, "duration_s": duration_s, "cpus": os.cpu_count(),
        "chat": ind, "echo_baseline": base,
        "p50_ratio_vs_echo": ratio(ind["p50_ms"], base["p50_ms"]),
        "p99_ratio_vs_echo": ratio(ind["p99_ms"], base["p99_ms"]),
        "rps_ratio_vs_echo": ratio(ind["rps"], base["rps"]),
        "target_p99_ms": TARGET_P99_MS,
        "p99_within_target": bool(ind["p99_ms"] is not None and ind["p99_ms"] < TARGET_P99_MS),
        "zero_errors": ind["errors"] == 0 and base["errors"] == 0,
    }


def main() -> None:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="60 s per target instead of 8 s.")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=None, help="Seconds per target.")
    ap.add_argument("--serve", choices=["indagent", "echo"], help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        _serve(args.serve, args.port)
        return
    duration = args.duration or (60.0 if args.full else 8.0)
    print(json.dumps(run(clients=args.clients, duration_s=duration)))


if __name__ == "__main__":
    main()
