"""`python -m infra serve` driven as a user drives it: started in a terminal (a subprocess), used from
others with boto3, signed HTTP requests and `python -m infra fire`, stopped with Ctrl-C.

One serve process for the module (greeting, uploads and radar: an API, an upload trigger and a
schedule), on free ports the test picks, with its own TMPDIR so its session file is its own.
The tests run in file order; the last one stops it.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = ("greeting", "uploads", "radar")
READY_TIMEOUT_S = 120.0  # the deploy, on a loaded machine
EVENT_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    """Whether something accepts connections on the port (a closed server's port may linger in TIME_WAIT)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return False
    return True


class Terminal:
    """A running command's stdout and stderr, line by line, and waiting for a line."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        for stream, lines in ((process.stdout, self.out), (process.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, lines), daemon=True).start()

    def _read(self, stream, lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, pattern: str, timeout_s: float = EVENT_TIMEOUT_S, lines: list[str] | None = None) -> re.Match:
        """The first line matching ``pattern`` (stdout by default), waiting for it."""
        lines = self.out if lines is None else lines
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for line in lines:
                    match = regex.search(line)
                    if match:
                        return match
                if self.process.poll() is not None and not self._changed.wait(0.5):
                    break
                if time.monotonic() > deadline:
                    break
                self._changed.wait(0.1)
        raise AssertionError(f"no line matching {pattern!r}; stdout:\n{self.text()}\nstderr:\n{self.text(self.err)}")

    def text(self, lines: list[str] | None = None) -> str:
        with self._changed:
            return "\n".join(self.out if lines is None else lines)


class Served:
    """The serve process and what it printed."""

    def __init__(self, terminal: Terminal, env: dict[str, str], port: int, api_port: int, tmp: Path):
        self.terminal, self.env, self.port, self.api_port, self.tmp = terminal, env, port, api_port, tmp
        self.endpoint = terminal.wait_for(r"^emulator .*: (http://\S+)$").group(1)
        self.credentials = {
            name: terminal.wait_for(rf"^  export {name}=(\S+)$").group(1)
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
        }
        self.outputs: dict[str, dict[str, str]] = {}
        pipeline = None
        for line in terminal.out:
            if re.fullmatch(r"  [a-z-]+", line):
                pipeline = line.strip()
                self.outputs[pipeline] = {}
            elif pipeline and (match := re.fullmatch(r"    (\w+): (\S+)(?:  → (\S+))?", line)):
                self.outputs[pipeline][match[1]] = match[3] or match[2]  # an API URL: where it is served
            elif not line.startswith("    "):
                pipeline = None

    @property
    def region(self) -> str:
        return self.credentials["AWS_DEFAULT_REGION"]

    def client(self, service: str):
        """A boto3 client of the served emulator with the printed credentials (a separate process's view)."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.credentials["AWS_SECRET_ACCESS_KEY"],
        )

    def infra(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """``python -m infra ARGS`` from another terminal."""
        return subprocess.run(
            [sys.executable, "-m", "infra", *args],
            cwd=ROOT,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def ended(self, state_machine: str, name: str) -> re.Match:
        """The end line of an execution (waiting for it)."""
        return self.terminal.wait_for(
            rf"^\d\d:\d\d:\d\d  (\w+)\s+{re.escape(state_machine)}  {re.escape(name)}  ([\d.]+)s"
        )


def serve_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return env | {"TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve-tmp")
    env = serve_env(tmp)
    port, api_port = free_port(), free_port()
    command = [sys.executable, "-m", "infra", "serve", "--port", str(port), "--api-ports-from", str(api_port)]
    command += [arg for pipeline in PIPELINES for arg in ("--pipeline", pipeline)] + ["--schedules"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    terminal = Terminal(process)
    try:
        terminal.wait_for(r"^ready: ", timeout_s=READY_TIMEOUT_S)
        yield Served(terminal, env, port, api_port, tmp)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_it_prints_the_endpoints_and_the_emulators_credentials_but_no_third_party_secret(served):
    out = served.terminal.text()
    assert served.endpoint == f"http://127.0.0.1:{served.port}"
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", served.credentials["AWS_ACCESS_KEY_ID"])
    # The only API (greeting's) on the first port asked for, its route listed.
    assert re.search(rf"^  greeting-start-api-\w+  http://127\.0\.0\.1:{served.api_port}$", out, re.M)
    assert f"POST http://127.0.0.1:{served.api_port}/greetings  (AWS_IAM, StepFunctions-StartExecution)" in out
    assert served.outputs["greeting"]["apiUrl"] == f"http://127.0.0.1:{served.api_port}/greetings"
    assert re.search(r"^  radar: Cloudflare Radar API  http://127\.0\.0\.1:\d+/client/v4$", out, re.M)
    # --schedules: the radar schedule evaluated (cron(0 6 * * ? *) UTC), its next invocation named.
    now = datetime.datetime.now(datetime.UTC)
    six = now.replace(hour=6, minute=0, second=0, microsecond=0)
    expected = six if six > now else six + datetime.timedelta(days=1)
    assert re.search(
        rf"radar-daily-schedule-\w+: cron\(0 6 \* \* \? \*\) \(UTC\), next at {expected:%Y-%m-%dT%H:%M:%SZ}", out
    )
    assert f"session file: {served.tmp}/stepworks-{os.getuid()}/sandbox-dev.json" in out
    # The Radar API token an operator stored is in the pipeline's secret, and nowhere in what serve printed.
    token = served.client("secretsmanager").get_secret_value(SecretId=served.outputs["radar"]["tokenSecretArn"])
    assert token["SecretString"] not in out + served.terminal.text(served.terminal.err)


def test_an_upload_through_the_endpoint_starts_the_uploads_pipeline_and_its_summaries_land(served):
    outputs = served.outputs["uploads"]
    store = f"SRV{uuid.uuid4().hex[:6].upper()}"
    upload = {
        "transactions": [
            {
                "storeId": store,
                "transactionId": "T1",
                "timestamp": "2026-11-20T10:00:00Z",
                "currency": "USD",
                "lines": [{"productId": "P00001", "quantity": 2, "unitPrice": "3.50"}],
            },
            {
                "storeId": store,
                "transactionId": "T2",
                "timestamp": "2026-11-20T15:30:00Z",
                "currency": "USD",
                "lines": [{"productId": "P00002", "quantity": 1, "unitPrice": "10.00"}],
            },
        ]
    }
    s3 = served.client("s3")
    key = f"{outputs['uploadPrefix']}{store}.json"
    s3.put_object(Bucket=outputs["bucketName"], Key=key, Body=json.dumps(upload).encode())
    # The router (started by the S3 → EventBridge rule), then the pipeline run it named.
    router = served.terminal.wait_for(r"^\d\d:\d\d:\d\d  started    sw-dev-uploads-start  (\S+)$")
    assert served.ended("sw-dev-uploads-start", router[1])[1] == "SUCCEEDED"
    run = served.terminal.wait_for(r"^\d\d:\d\d:\d\d  started    sw-dev-uploads  (\S+)$")
    assert served.ended("sw-dev-uploads", run[1])[1] == "SUCCEEDED"
    found = served.client("dynamodb").query(
        TableName=outputs["summaryTableName"],
        IndexName=outputs["summaryDateIndex"],
        KeyConditionExpression="gsiDate = :d",
        ExpressionAttributeValues={":d": {"S": "2026-11-20"}},
    )["Items"]
    summary = next(i for i in found if i["storeId"]["S"] == store and i["sk"]["S"] == "summary")
    assert (summary["revenue"]["N"], summary["units"]["N"], summary["transactions"]["N"]) == ("1700", "3", "2")


def signed_post(served, url: str, body: dict) -> requests.Response:
    data = json.dumps(body).encode()
    request = AWSRequest(method="POST", url=url, data=data, headers={"Content-Type": "application/json"})
    keys = Credentials(served.credentials["AWS_ACCESS_KEY_ID"], served.credentials["AWS_SECRET_ACCESS_KEY"])
    SigV4Auth(keys, "execute-api", served.region).add_auth(request)
    return requests.post(url, data=data, headers=dict(request.headers.items()), timeout=30)


def test_a_signed_request_to_greetings_api_port_starts_it_and_the_item_lands(served):
    url = served.outputs["greeting"]["apiUrl"]
    message = f"hello from a signed request {uuid.uuid4()}"
    unsigned = requests.post(url, json={"message": message}, timeout=30)
    assert unsigned.status_code == 403
    answer = signed_post(served, url, {"message": message})
    assert answer.status_code == 200, answer.text
    name = answer.json()["executionArn"].rsplit(":", 1)[1]
    assert served.ended("sw-dev-greeting", name)[1] == "SUCCEEDED"
    items = served.client("dynamodb").scan(TableName=served.outputs["greeting"]["tableName"])["Items"]
    assert any(message in json.dumps(item) for item in items)


def test_fire_runs_radars_schedule_with_the_scheduled_time_it_is_given(served):
    fired = served.infra("fire", "radar", "--time", "2026-03-01T06:00:00Z", "--wait")
    assert fired.returncode == 0, fired.stderr
    first = fired.stdout.splitlines()[0]
    assert re.fullmatch(r"fired radar-daily-schedule-\w+ for 2026-03-01T06:00:00Z: started arn:aws:states:\S+", first)
    assert fired.stdout.splitlines()[1].startswith("SUCCEEDED in ")
    name = first.rsplit(":", 1)[1]
    assert served.ended("sw-dev-radar", name)[1] == "SUCCEEDED"
    # What it wrote is keyed by the scheduled time the scheduler substituted.
    keys = [
        o["Key"] for o in served.client("s3").list_objects_v2(Bucket=served.outputs["radar"]["bucketName"])["Contents"]
    ]
    assert any("/2026-03-01T06:00:00Z/data.json" in key for key in keys), keys
    served.terminal.wait_for(
        r"^\d\d:\d\d:\d\d  fired the schedule of radar \(radar-daily-schedule-\w+\) for 2026-03-01"
    )


@pytest.fixture
def cli(monkeypatch, capsys):
    """``python -m infra ARGS`` run in this process, seeing the session files of ``tmp`` (quicker than a
    process: the refusals need no new interpreter); (exit status, stdout, stderr)."""

    def run(tmp: Path, *args: str) -> tuple[int, str, str]:
        from infra import cli as infra_cli

        monkeypatch.setattr(tempfile, "tempdir", str(tmp))
        capsys.readouterr()
        code = infra_cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err.strip()

    return run


def test_fire_refuses_a_pipeline_without_a_schedule_and_a_bad_time(served, cli):
    assert cli(served.tmp, "fire", "greeting") == (
        2,
        "",
        "error: pipeline 'greeting' has no schedule in this sandbox; scheduled: radar",
    )
    assert cli(served.tmp, "fire", "radar", "--time", "yesterday") == (
        2,
        "",
        "error: --time: 'yesterday' is not an ISO 8601 time (e.g. 2026-03-01T06:00:00Z)",
    )


def test_a_second_serve_of_the_stack_and_a_taken_port_are_refused_before_any_deploy(served, cli, tmp_path):
    code, _, err = cli(served.tmp, "serve", "--port", str(free_port()), "--pipeline", "greeting")
    assert code == 2
    assert re.fullmatch(r"error: a sandbox of stack 'dev' is already running \(process \d+, emulator \S+\); .*", err)
    # With no sandbox in its way (a TMPDIR of its own), the emulator's taken port.
    code, _, err = cli(tmp_path, "serve", "--port", str(served.port), "--pipeline", "greeting")
    assert (code, err) == (
        2,
        f"error: --port: port {served.port} on 127.0.0.1 is taken (Address already in use); choose another",
    )


def test_ctrl_c_stops_every_server_and_removes_the_session_file(served, cli):
    session = served.tmp / f"stepworks-{os.getuid()}" / "sandbox-dev.json"
    assert session.exists() and session.stat().st_mode & 0o777 == 0o600
    radar_fake = int(served.terminal.wait_for(r"^  radar: Cloudflare Radar API  http://127\.0\.0\.1:(\d+)/")[1])
    process = served.terminal.process
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 130
    served.terminal.wait_for(r"^interrupted$", lines=served.terminal.err)
    err = served.terminal.text(served.terminal.err)
    assert re.search(r"^stopped after [\d.]+s: servers, fakes and PostgreSQL down, session file removed$", err, re.M)
    assert "Traceback" not in err
    assert not session.exists()
    assert [path for path in served.tmp.rglob("*") if not path.is_dir()] == []  # no temporary file left behind
    assert not any(listening(port) for port in (served.port, served.api_port, radar_fake))
    code, _, err = cli(served.tmp, "fire", "radar")
    assert code == 2 and err.startswith("error: no sandbox of stack 'dev' is running on this machine")
