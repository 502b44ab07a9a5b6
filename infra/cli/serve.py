"""``serve``: the sandbox kept running as a local AWS for these pipelines; ``fire``: a schedule fired in it.

``python -m infra serve`` deploys the stack's pipelines (or ``--pipeline`` ones) into the sandbox
and serves, until Ctrl-C:

- the emulator on 127.0.0.1:``--port`` (4566), moto's server over the sandbox's own backends with
  IAM enforced, for the AWS CLI, boto3 and curl (``--endpoint-url``; S3 path-style), signed with
  the sandbox operator's keys, which it prints: they open the emulator and nothing else;
- every HTTP API on a fixed port: the APIs in the order of their names from ``--api-ports-from``
  (4600), each as its own host (SigV4 for execute-api with the same keys);
- the pipelines' loopback fakes and PostgreSQL servers (their URLs printed; no token, no password);
- the triggers: an object put into an upload prefix (by anyone, through the served endpoint)
  starts its pipeline through S3 → EventBridge; a schedule fires on ``python -m infra fire
  PIPELINE`` (the session file names serve's control endpoint, ``infra/sandbox/control.py``)
  or, with ``--schedules``, on its own expression (``infra/sandbox/scheduler.py``); a
  release-approval run waiting for Jira is answered with ``python -m infra callback``.

It prints a line per execution as it starts and ends (any state machine, whatever started it).
Ctrl-C (or SIGTERM) stops everything: servers, fakes, PostgreSQL, the session file and the
sandbox's temporary files; the exit status is then 130, as for any command Ctrl-C ends. A taken
port is one line (``error: --port: port 4566 on 127.0.0.1 is taken …``, exit 2): the emulator's
port is checked before the deploy, the APIs' once their names are known (the sandbox is torn
down again).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping

from infra.cli.common import Stopwatch, UsageError, progress
from infra.sandbox.served import NoSandboxRunning, PortTaken, read_session, require_free, session_path

DEFAULT_PORT = 4566
DEFAULT_API_PORTS_FROM = 4600
FIRE_TIMEOUT_S = 300.0

_print_lock = threading.Lock()


def say(text: str = "") -> None:
    """One line on stdout, whole, whichever thread prints it."""
    with _print_lock:
        print(text, flush=True)


def _clock() -> str:
    return time.strftime("%H:%M:%S")


def api_ports(names: list[str], first: int) -> dict[str, int]:
    """Each API name's port: ``first``, ``first + 1``… in the order of the names (0: each a free port)."""
    return {name: (first + index if first else 0) for index, name in enumerate(sorted(names))}


def _check_port(option: str, port: int) -> None:
    if not 0 <= port <= 65535:
        raise UsageError(f"{option}: {port} is not a TCP port (0-65535; 0 picks a free one)")


def _refuse_taken(option: str, port: int) -> None:
    if not port:
        return
    try:
        require_free(port)
    except PortTaken as exc:
        raise UsageError(f"{option}: {exc}") from None


def _refuse_second_sandbox(stack: str) -> None:
    try:
        running = read_session(stack)
    except NoSandboxRunning:
        return
    raise UsageError(
        f"a sandbox of stack {stack!r} is already running (process {running.pid}, emulator {running.endpoint}); "
        "stop it first (Ctrl-C in its terminal)"
    )


def _serve_apis_on_fixed_ports(sandbox, first: int, emulator_port: int) -> None:
    """Serve every HTTP API again, each on its port from ``first`` (the deploy served them on free ports)."""
    from infra.sandbox.http_api import HttpApiServer
    from infra.sandbox.http_api import PortTaken as ApiPortTaken

    ports = api_ports(list(sandbox.http.base_urls()), first)
    if ports and first and first + len(ports) - 1 > 65535:
        raise UsageError(f"--api-ports-from: {first} leaves no room for {len(ports)} APIs below 65536")
    clash = [name for name, port in ports.items() if port and port == emulator_port]
    if clash:
        raise UsageError(f"--port {emulator_port} is also the port of the API {clash[0]}; choose another")
    replacement = HttpApiServer(sandbox.region, sandbox.iam.operator, sandbox.iam, ports=ports)
    sandbox.http.stop()
    try:
        sandbox.http = replacement.start()
    except ApiPortTaken as exc:
        raise UsageError(f"--api-ports-from: {exc}") from None


# -- what it prints ----------------------------------------------------------------------------------


def _fakes(services: Mapping[str, object]) -> list[tuple[str, str, str]]:
    """(pipeline, what, base URL) of every loopback fake running; never a token."""
    from infra.sandbox.services import DailyAnalysisServices, IncidentsServices, RadarServices, ReleaseApprovalServices

    found = []
    for pipeline, service in services.items():
        if isinstance(service, RadarServices):
            found.append((pipeline, "Cloudflare Radar API", service.fake.base_url))
        elif isinstance(service, IncidentsServices):
            found.append((pipeline, "PagerDuty REST API", service.fake.url))
        elif isinstance(service, DailyAnalysisServices):
            found.append((pipeline, "Bedrock Runtime (Converse)", service.fake.url))
        elif isinstance(service, ReleaseApprovalServices):
            from infra.sandbox.fakes.release_services import SERVICES

            found += [(pipeline, f"{name} service", service.services.url_of(name)) for name in SERVICES]
            found.append((pipeline, "Jira Cloud REST API", service.jira.url))
    return found


def _databases(sandbox) -> list[tuple[str, str, str]]:
    """(RDS instance, URL without its password, where the password is) of every PostgreSQL server."""
    from urllib.parse import quote

    if sandbox.databases is None:
        return []
    rows = []
    rds = sandbox.client("rds")
    for identifier, server in sorted(sandbox.databases.servers().items()):
        query = f"sslmode={server.sslmode}" + (f"&sslrootcert={quote(server.ca_path)}" if server.ca_path else "")
        url = f"postgresql://{quote(server.user)}@{server.host}:{server.port}/{quote(server.dbname)}?{query}"
        secret = ""
        with contextlib.suppress(Exception):
            instance = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
            secret = (instance.get("MasterUserSecret") or {}).get("SecretArn", "")
        rows.append((identifier, url, secret))
    return rows


def _print_banner(sandbox, session, schedules_on: bool, runner) -> None:
    from infra.sandbox.control import scheduled_pipelines

    outputs = sandbox.program.outputs
    say(f"stepworks sandbox of stack {sandbox.stack}: {', '.join(sandbox.program.pipelines)}")
    say()
    say(f"emulator (AWS CLI, boto3, curl; S3 path-style): {session.endpoint}")
    say("  credentials (the sandbox operator's: they open this emulator and nothing else):")
    say(f"  export AWS_ENDPOINT_URL={session.endpoint}")
    say(f"  export AWS_ACCESS_KEY_ID={session.access_key_id}")
    say(f"  export AWS_SECRET_ACCESS_KEY={session.secret_access_key}")
    say(f"  export AWS_DEFAULT_REGION={session.region}")
    routes = sandbox.http.routes
    if routes:
        say()
        say("HTTP APIs (sign for execute-api with the keys above):")
        for name, base in sorted(sandbox.http.base_urls().items()):
            say(f"  {name}  {base}")
            for route in (r for r in routes if r.api_name == name):
                target = route.integration.get("IntegrationSubtype") or route.integration.get("IntegrationType", "")
                say(f"    {route.method} {base}{route.path}  ({route.authorization}, {target})")
    say()
    say("pipelines (stack outputs; exported API URLs with where they are served):")
    for pipeline, values in outputs.items():
        if not isinstance(values, Mapping):
            continue
        say(f"  {pipeline}")
        for key, value in values.items():
            served_at = session.routes.get(value) if isinstance(value, str) else None
            say(f"    {key}: {value}" + (f"  → {served_at}" if served_at else ""))
    stack_wide = {k: v for k, v in outputs.items() if not isinstance(v, Mapping)}
    if stack_wide:
        say("  (the stack)")
        for key, value in stack_wide.items():
            say(f"    {key}: {value}")
    say()
    say("triggers:")
    for pipeline, values in outputs.items():
        if not isinstance(values, Mapping):
            continue
        if values.get("uploadPrefix") and values.get("bucketName"):
            say(f"  {pipeline}: aws s3 cp FILE s3://{values['bucketName']}/{values['uploadPrefix']}")
        for key in ("apiUrl",):
            if values.get(key) in session.routes:
                say(f"  {pipeline}: POST {session.routes[values[key]]} (signed)")
        if values.get("callbackUrl"):
            say(f"  {pipeline}: python -m infra callback {pipeline} --issue KEY --decision approved|rejected")
    described = {target.name: target for target in runner.targets}
    for pipeline, schedule in scheduled_pipelines(sandbox).items():
        say(f"  {pipeline}: python -m infra fire {pipeline}")
        target = described.get(schedule)
        if target is not None:
            fired = "" if schedules_on else "; fired on it only with --schedules"
            say(f"    schedule {target.describe()}{fired}")
    fakes = _fakes(sandbox.services)
    if fakes:
        say()
        say("loopback fakes (their tokens are in the pipelines' secrets, not here):")
        for pipeline, what, url in fakes:
            say(f"  {pipeline}: {what}  {url}")
    databases = _databases(sandbox)
    if databases:
        say()
        say("PostgreSQL (the password is in the RDS-managed secret: aws secretsmanager get-secret-value):")
        for identifier, url, secret in databases:
            say(f"  {identifier}  {url}" + (f"  (secret {secret})" if secret else ""))
    say()
    say(f"session file: {session_path(sandbox.stack)} (python -m infra fire / callback read it)")


# -- the command -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops serve as Ctrl-C does (the first one; later ones only say to wait)."""
    from infra.cli.sandbox import _FirstInterruptOnly

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _FirstInterruptOnly())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_serve(args) -> int:
    from infra.cli.sandbox import _check_database_url, deployed
    from infra.sandbox.environment import PipelineNotEnabled, select_pipelines

    _check_port("--port", args.port)
    _check_port("--api-ports-from", args.api_ports_from)
    try:
        pipelines = select_pipelines(args.stack, args.pipeline or None)
    except PipelineNotEnabled as exc:
        raise UsageError(str(exc)) from None
    if not pipelines:
        raise UsageError(f"stack {args.stack!r} enables no pipelines (stepworks:pipelines): nothing to serve")
    _check_database_url()
    _refuse_second_sandbox(args.stack)
    _refuse_taken("--port", args.port)
    watch = Stopwatch()
    try:
        with _terminate_as_interrupt(), deployed(args.stack, args.pipeline or None, ", ".join(pipelines)) as sandbox:
            _serve_apis_on_fixed_ports(sandbox, args.api_ports_from, args.port)
            _serve(sandbox, args)
    except KeyboardInterrupt:
        progress(f"stopped after {watch}: servers, fakes and PostgreSQL down, session file removed")
        raise
    return 0  # not reached: serve ends with Ctrl-C


def _serve(sandbox, args) -> None:
    from infra.sandbox.control import ControlServer
    from infra.sandbox.scheduler import ScheduleRunner
    from infra.sandbox.served import served
    from infra.sandbox.watch import ExecutionWatcher

    def event(message: str) -> None:
        say(f"{_clock()}  {message}")

    with contextlib.ExitStack() as running:
        control = ControlServer(sandbox, report=event).start()
        running.callback(control.stop)
        watcher = ExecutionWatcher(sandbox, report=lambda line: say(str(line))).start()
        running.callback(watcher.stop)
        runner = ScheduleRunner(sandbox, report=event)
        runner.load()  # described either way; fired on their expressions only with --schedules
        try:
            session = running.enter_context(
                served(sandbox, args.port, control_url=control.url, control_token=control.token)
            )
        except PortTaken as exc:  # taken since the check before the deploy
            raise UsageError(f"--port: {exc}") from None
        _print_banner(sandbox, session, args.schedules, runner)
        if args.schedules:
            runner.start()
            running.callback(runner.stop)
        say(f"ready: serving stack {sandbox.stack} at {session.endpoint}; Ctrl-C stops")
        forever = threading.Event()
        while not forever.wait(3600):
            pass


def cmd_fire(args) -> int:
    """POST the fire request to the running serve; print the execution it started (and, --wait, how it ended)."""
    import json

    import requests

    from infra.sandbox.control import FIRE_PATH, parse_time

    scheduled = None
    if args.time is not None:
        try:
            scheduled = parse_time(args.time).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError as exc:
            raise UsageError(f"--time: {exc}") from None
    try:
        session = read_session(args.stack)
    except NoSandboxRunning as exc:
        raise UsageError(f"{exc}; start one in another terminal: python -m infra serve") from None
    if not session.control_url:
        raise UsageError(
            f"the running sandbox of stack {args.stack!r} (process {session.pid}) takes no fire requests: "
            "only `python -m infra serve` does"
        )
    try:
        answer = requests.post(
            session.control_url + FIRE_PATH,
            json={"pipeline": args.pipeline, "scheduledTime": scheduled},
            headers={"Authorization": f"Bearer {session.control_token}"},
            timeout=60,
        )
    except requests.RequestException as exc:
        raise UsageError(f"the running sandbox does not answer at {session.control_url}: {exc}") from None
    try:
        body = answer.json()
    except ValueError:
        body = {"message": answer.text[:200]}
    if answer.status_code == 404:
        raise UsageError(body.get("message", "not found"))
    if answer.status_code != 200:
        print(f"error: the schedule was not fired ({answer.status_code}): {body.get('message')}", file=sys.stderr)
        return 1
    print(f"fired {body['scheduleName']} for {body['scheduledTime']}: started {body['executionArn']}", flush=True)
    if not args.wait:
        return 0
    sfn = session.client("stepfunctions")
    deadline = time.monotonic() + FIRE_TIMEOUT_S
    while True:
        described = sfn.describe_execution(executionArn=body["executionArn"])
        if described["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            print(f"error: still RUNNING after {FIRE_TIMEOUT_S:.0f}s", file=sys.stderr)
            return 1
        time.sleep(0.1)
    duration = (described["stopDate"] - described["startDate"]).total_seconds()
    print(f"{described['status']} in {duration:.2f}s")
    if described["status"] == "SUCCEEDED":
        print(json.dumps(json.loads(described.get("output") or "null"), indent=2, ensure_ascii=False))
        return 0
    print(f"{described.get('error')}: {described.get('cause') or ''}".rstrip(": "))
    return 1
