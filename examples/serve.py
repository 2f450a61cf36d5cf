"""Serve an MLflow sklearn model directory (the `model/` train.py writes) over MLflow's scoring protocol.

    python3 serve.py model/ --port 8080 --track stable [--delay-ms 0]

POST /invocations takes {"inputs": [[...]]}, {"instances": [[...]]} or
{"dataframe_split": {"columns": [...], "data": [[...]]}} and answers {"predictions": [...]}, as
`mlflow models serve` does; GET /ping answers 200 once the model is loaded. GET /metrics exposes
`http_requests_total{track,code}` and the histogram `http_request_duration_seconds{track}` in Prometheus'
text format, so a canary judge can compare two versions. `--delay-ms` adds latency to every prediction
(to stand in for a heavier model).
"""

import argparse
import json
import pathlib
import pickle
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5]


def load_model(directory: pathlib.Path):
    mlmodel = yaml.safe_load((directory / "MLmodel").read_text())
    flavor = mlmodel.get("flavors", {}).get("sklearn")
    if flavor is None or flavor.get("serialization_format") != "pickle":
        raise SystemExit(f"{directory}/MLmodel: needs the sklearn flavor with serialization_format pickle")
    with open(directory / flavor["pickled_model"], "rb") as f:
        model = pickle.load(f)
    signature = mlmodel.get("signature") or {}
    columns = [c["name"] for c in json.loads(signature["inputs"])] if signature.get("inputs") else None
    return model, columns


def rows_of(body: dict, columns):
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        if columns and split.get("columns") and split["columns"] != columns:
            order = [split["columns"].index(name) for name in columns]
            return [[row[i] for i in order] for row in split["data"]]
        return split["data"]
    for key in ("inputs", "instances"):
        if key in body:
            return body[key]
    raise ValueError("expected one of dataframe_split, inputs or instances")


class Metrics:
    def __init__(self, track: str):
        self.track = track
        self.lock = threading.Lock()
        self.codes: dict[int, int] = {}
        self.buckets = [0] * len(BUCKETS)
        self.count = 0
        self.total = 0.0

    def observe(self, seconds: float, code: int) -> None:
        with self.lock:
            self.codes[code] = self.codes.get(code, 0) + 1
            self.count += 1
            self.total += seconds
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.buckets[i] += 1

    def text(self) -> str:
        t = self.track
        with self.lock:
            lines = ["# HELP http_requests_total Requests to /invocations by status code.", "# TYPE http_requests_total counter"]
            lines += [f'http_requests_total{{track="{t}",code="{code}"}} {n}' for code, n in sorted(self.codes.items())]
            lines += ["# HELP http_request_duration_seconds Latency of /invocations.", "# TYPE http_request_duration_seconds histogram"]
            lines += [f'http_request_duration_seconds_bucket{{track="{t}",le="{b}"}} {n}' for b, n in zip(BUCKETS, self.buckets)]
            lines.append(f'http_request_duration_seconds_bucket{{track="{t}",le="+Inf"}} {self.count}')
            lines.append(f'http_request_duration_seconds_sum{{track="{t}"}} {self.total}')
            lines.append(f'http_request_duration_seconds_count{{track="{t}"}} {self.count}')
        return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=pathlib.Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--track", default="stable")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    model, columns = load_model(args.model)
    metrics = Metrics(args.track)
    delay = args.delay_ms / 1000

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def send(self, code: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.send_header("x-track", args.track)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/ping" or self.path == "/health":
                self.send(200, b"\n", "text/plain")
            elif self.path == "/metrics":
                self.send(200, metrics.text().encode(), "text/plain; version=0.0.4")
            else:
                self.send(404, b'{"error_code": "ENDPOINT_NOT_FOUND"}')

        def do_POST(self) -> None:
            if self.path != "/invocations":
                self.send(404, b'{"error_code": "ENDPOINT_NOT_FOUND"}')
                return
            started = time.perf_counter()
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))) or b"{}")
                predictions = model.predict(rows_of(body, columns)).tolist()
                if delay:
                    time.sleep(delay)
                code, answer = 200, {"predictions": predictions}
            except (ValueError, KeyError, TypeError) as error:
                code, answer = 400, {"error_code": "BAD_REQUEST", "message": str(error)}
            metrics.observe(time.perf_counter() - started, code)
            self.send(code, json.dumps(answer).encode())

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(f"serving {args.model} as {args.track} on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
