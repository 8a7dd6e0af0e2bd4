"""The README runs as written: its first two commands, then every block in order.

A newcomer runs ``scripts/serve`` in one terminal and pastes the README's blocks into another.
This suite does the same in a copy of the checkout (so the demo server's files land in a scratch
folder): it starts the README's first command, runs every ``sh`` block in order in one bash
session and every ``python`` block with the project's Python, and checks each command's output
against the ``# ...`` lines the README shows under it (``...`` stands for anything; white space
is ignored). The only liberty taken: ports 8000 and 8001 become free ports, so the suite runs
beside a developer's own server.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.serve_process import free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass
class Command:
    """One logical shell or Python line (continuations joined) and the output shown under it."""

    text: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    lang: str
    body: str

    def commands(self) -> list[Command]:
        """Logical lines; the ``# `` lines right under one are its expected output."""
        commands: list[Command] = []
        pending = ""
        after_command = False
        for line in self.body.splitlines():
            if pending:
                pending += "\n" + line
            elif line.startswith("# ") and after_command:
                commands[-1].expected.append(line[2:])
                continue
            elif not line.strip() or line.lstrip().startswith("#"):
                after_command = False
                continue
            else:
                pending = line
            if self.lang == "sh" and pending.endswith("\\"):
                continue
            if self.lang == "python" and (pending.endswith((":", "(", ",")) or _open(pending)):
                continue
            commands.append(Command(pending))
            pending = ""
            after_command = True
        return commands


def _open(text: str) -> bool:
    return text.count("(") > text.count(")") or text.count("[") > text.count("]")


def blocks() -> list[Block]:
    return [Block(lang, body) for lang, body in FENCE.findall(README.read_text(encoding="utf-8"))]


def matches(expected: list[str], output: str) -> bool:
    """``expected`` (``...`` = anything, white space ignored) occurs in ``output``."""
    squash = re.compile(r"\s+")
    pattern = ".*".join(re.escape(part) for part in squash.sub("", " ".join(expected)).split("..."))
    return re.search(pattern, squash.sub("", output), re.DOTALL) is not None


def test_readme_starts_with_the_two_commands() -> None:
    """The README opens with exactly the serve command and the test command CI runs."""
    first = blocks()[0]
    assert first.lang == "sh"
    assert [c.text.split("#")[0].strip() for c in first.commands()] == [
        "scripts/serve",
        "scripts/test",
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    extract = next(line for line in ci.splitlines() if line.startswith("test_command="))
    found = subprocess.run(
        ["bash", "-c", extract + '\necho "$test_command"'], cwd=ROOT, capture_output=True, text=True
    )
    assert found.stdout.strip() == "scripts/test"  # what .ci/run runs is what the README says


def _tracked() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def test_doc_links_stay_inside_the_repository() -> None:
    """Every relative link in the README and docs names a file of this repository."""
    pages = [name for name in _tracked() if name.endswith(".md")]
    assert "README.md" in pages
    for page in pages:
        text = (ROOT / page).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(((?!https?://|mailto:)[^)#\s]+)", text):
            path = ((ROOT / page).parent / target).resolve()
            assert path.is_relative_to(ROOT), f"{page}: {target} points outside the repository"
            assert path.exists(), f"{page}: {target} does not exist"


def test_nothing_reads_the_folder_beside_the_repository() -> None:
    """No test, script, CI step or doc names the developers' shared folder (a clone has none)."""
    beside = "../" + "shared"  # spelled in two parts so this file does not name it
    for name in _tracked():
        if name.startswith("tests/jose/vectors/"):
            continue  # vendored data
        text = (ROOT / name).read_text(encoding="utf-8", errors="replace")
        assert beside not in text, f"{name} names {beside}"
        # The old variable that pointed outside; only the changelog (history) and this file say it.
        assert "JOTAUTH_VECTORS" not in text or name in ("CHANGELOG.md", "tests/test_readme.py")


def test_guard_example_is_the_file_it_names() -> None:
    """The README's guard block is examples/quickstart/articles.py, so the two cannot drift."""
    example = (ROOT / "examples" / "quickstart" / "articles.py").read_text(encoding="utf-8")
    assert any(b.lang == "python" and b.body == example for b in blocks())


def test_dev_lock_pins_everything_the_serve_lock_does() -> None:
    """scripts/serve reuses a .venv made by scripts/test only because dev.lock covers serve.lock."""

    def pins(name: str) -> dict[str, str]:
        lines = (ROOT / "requirements" / name).read_text().splitlines()
        pairs = (line.split("#")[0].strip().split("==") for line in lines)
        return {p[0].lower(): p[1] for p in pairs if len(p) == 2}

    dev = pins("dev.lock")
    assert {k: dev.get(k) for k in pins("serve.lock")} == pins("serve.lock")


def test_matches_reads_the_readme_conventions() -> None:
    """``...`` is a wildcard, white space is ignored and anything else must be there."""
    assert matches(['{"a": 1, ...}'], 'noise {"a":1,"b":2}')
    assert matches(["VALID: ..."], "VALID: EdDSA")
    assert not matches(["VALID: ..."], "INVALID no_matching_key")
    assert not matches(['{"message":"Welcome, john!"}'], '{"message":"Welcome, jane!"}')


# -- the README, run -------------------------------------------------------------------------


def _checkout_copy(target: Path) -> None:
    """The checkout's files as git sees them (tracked and new), with this interpreter's venv."""
    for name in _tracked():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    # A .venv whose programs are this interpreter's: scripts/_venv.sh finds it ready (the stamp)
    # and installs nothing, and the real venv is never touched.
    venv = target / ".venv"
    venv.mkdir()
    (venv / "bin").symlink_to(Path(sys.executable).parent)
    (venv / ".installed-dev.lock").touch()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A copy of the checkout running the README's first command, and the port substitutions."""
    folder = tmp_path_factory.mktemp("readme") / "jotauth"
    folder.mkdir()
    _checkout_copy(folder)
    ports = {"8000": str(free_port()), "8001": str(free_port())}
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOTAUTH_")}
    env.update({"JOTAUTH_ARGON2_TIME_COST": "1", "JOTAUTH_ARGON2_MEMORY_COST": "1024"})
    first = blocks()[0].commands()[0].text.split("#")[0].strip()
    log = (folder / "serve.log").open("wb")
    server = subprocess.Popen(
        [*first.split(), "--port", ports["8000"]],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{ports['8000']}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("scripts/serve did not start:\n" + (folder / "serve.log").read_text())
            time.sleep(0.2)
        yield folder, ports
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
        log.close()


def _substitute(text: str, ports: dict[str, str]) -> str:
    for default, chosen in ports.items():
        text = text.replace(f":{default}", f":{chosen}")
        text = text.replace(f"--port {default}", f"--port {chosen}")
    return text


def _shell_script(commands: list[Command], out: Path) -> str:
    """One bash session: each command with shown output writes it to ``out/N``."""
    lines = ["set -eo pipefail"]
    for number, command in enumerate(commands):
        lines.append(f"echo {number} > {out}/at")
        if command.expected:
            lines.append(f"{{ {command.text}\n}} > {out}/{number} 2>&1")
        else:
            lines.append(command.text)
    lines.append(f"echo done > {out}/at")
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_every_readme_block_runs_in_order(
    demo: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """Each sh and python block runs as written, in order, and prints what the README shows."""
    folder, ports = demo
    example = folder / "examples" / "quickstart" / "articles.py"
    original = example.read_text()  # run by the sh block after it, on the chosen ports
    example.write_text(_substitute(original, ports))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOTAUTH_")}
    checked = 0
    for index, block in enumerate(blocks()[1:], start=1):
        if block.lang not in ("sh", "python") or block.body == original:
            continue
        commands = block.commands()
        out = tmp_path / f"block{index}"
        out.mkdir()
        if block.lang == "sh":
            script = _substitute(_shell_script(commands, out), ports)
            run = subprocess.run(
                ["bash", "-c", script],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                timeout=240,
                start_new_session=True,
            )
            at = (out / "at").read_text().strip() if (out / "at").exists() else "0"
            failed = "" if at == "done" else commands[int(at)].text
            assert run.returncode == 0, f"block {index} failed at: {failed}\n{run.stderr}"
            outputs = {n: (out / str(n)).read_text() for n, c in enumerate(commands) if c.expected}
        else:
            outputs = _run_python(commands, folder, out)
        for number, command in enumerate(commands):
            if command.expected:
                shown = outputs[number]
                assert matches(command.expected, shown), (
                    f"README block {index}: `{command.text}` printed\n{shown}\n"
                    f"but the README shows\n{chr(10).join(command.expected)}"
                )
                checked += 1
    assert checked >= 15


def _run_python(commands: list[Command], folder: Path, out: Path) -> dict[int, str]:
    """Run a python block, printing a marker before each command that shows output."""
    lines = []
    for number, command in enumerate(commands):
        if command.expected:
            lines.append(f"print('@@{number}@@')")
        lines.append(command.text)
    script = out / "block.py"
    script.write_text("\n".join(lines) + "\n")
    run = subprocess.run(
        [sys.executable, str(script)], cwd=folder, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    parts = re.split(r"@@(\d+)@@\n", run.stdout)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts), 2)}


@pytest.mark.slow
def test_guard_example_honours_logout_everywhere(
    demo: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """The README's guard example refuses a token once its user logged out everywhere
    (``/logout-all``, a per-user event in the feed), not only after a single logout."""
    folder, ports = demo
    source = (ROOT / "examples" / "quickstart" / "articles.py").read_text()
    (tmp_path / "articles.py").write_text(_substitute(source, ports))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOTAUTH_")}
    env["JOTAUTH_SERVICE_TOKEN"] = (folder / "jotauth-service.token").read_text().strip()
    base = f"http://127.0.0.1:{ports['8000']}"
    service = subprocess.Popen(
        [str(Path(sys.executable).with_name("uvicorn")), "--app-dir", str(tmp_path),
         "articles:app", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        login = httpx.post(base + "/login", json={"username": "john", "password": "password123"})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/articles", headers=headers)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the example service did not start"
                time.sleep(0.2)
        assert answer.status_code == 200, answer.text
        assert httpx.post(base + "/logout-all", headers=headers).status_code == 200
        deadline = time.monotonic() + 12  # one feed poll (5 s) and a margin
        while answer.status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.5)
            answer = httpx.get(f"http://127.0.0.1:{port}/articles", headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["jotauth_code"] == "token_revoked"
    finally:
        service.terminate()
        service.wait(10)
