"""deploy/ (docs/deploy.md) held to the command line.

Every `bromsync` command the Kubernetes manifests and the GitHub workflow run, and those
docs/deploy.md quotes, is expanded for every pod index or matrix entry and parsed by the CLI's
own click commands, so an unknown option, a bad value or a wrong number of arguments fails
here. The shares a manifest runs must be exactly 1/N ... N/N and together cover every school
once; the state must be on storage that outlives the pod or runner; every variable set must be
one docs/school-file.md names; and the Dockerfile must copy what `pip install .` needs.
"""

from __future__ import annotations

import glob
import re
import shlex
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from bromsync import cli
from engine.commands.batch import Shard, pick_shard

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
CRONJOB = DEPLOY / "kubernetes" / "cronjob.yaml"
READER = DEPLOY / "kubernetes" / "state-reader.yaml"
WORKFLOW = DEPLOY / "github" / "sync.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
DOC = ROOT / "docs" / "deploy.md"

# The shell the manifests may use around a bromsync command, and nothing more: a `$` left in
# a bromsync command after these are expanded is an error of the test's or the manifest's.
POD_SHARE = "$((JOB_COMPLETION_INDEX + 1))"
MATRIX_SHARD = "${{ matrix.shard }}"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# -- finding the commands --------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    where: str  # file and place, for messages
    argv: tuple[str, ...]  # as the shell would pass it, globs not expanded

    def __str__(self) -> str:
        return f"{self.where}: {shlex.join(self.argv)}"


def shell_commands(script: str) -> Iterator[list[str]]:
    """The simple commands of a shell script, as word lists: split at newlines, `&&`, `||`,
    `;` and `|` outside quotes, comments dropped, a leading `exec` taken off."""
    lex = shlex.shlex(script.replace("\\\n", " "), posix=True, punctuation_chars="&|;\n")
    lex.whitespace = " \t\r"
    lex.whitespace_split = True
    words: list[str] = []
    for token in [*lex, "\n"]:
        if token and set(token) <= set("&|;\n"):
            while words and words[0] == "exec":
                words = words[1:]
            if words:
                yield words
            words = []
        else:
            words.append(token)


def bromsync_commands(where: str, script: str, values: dict[str, str]) -> list[Command]:
    """The bromsync commands of `script`, with each of `values` (shell text -> what it is
    for this pod or job) put in."""
    for text, value in values.items():
        script = script.replace(text, value)
    found = []
    for words in shell_commands(script):
        if words[0] == "bromsync":
            assert not any(
                "$" in w for w in words
            ), f"{where}: shell the test does not expand in {shlex.join(words)}"
            found.append(Command(where, tuple(words)))
    return found


def container_script(container: dict[str, Any]) -> str:
    """What a container runs, as shell text."""
    argv = [*container.get("command", []), *container.get("args", [])]
    if argv[:2] in (["/bin/sh", "-c"], ["sh", "-c"], ["/bin/bash", "-c"], ["bash", "-c"]):
        return str(argv[2])
    return shlex.join(argv)


def cronjob_pods() -> tuple[dict[str, Any], dict[str, Any]]:
    """The CronJob's Job spec and pod spec."""
    cronjob = load(CRONJOB)
    assert cronjob["kind"] == "CronJob"
    job = cronjob["spec"]["jobTemplate"]["spec"]
    return job, job["template"]["spec"]


def pod_commands() -> dict[int, list[Command]]:
    """The bromsync commands of each pod of the CronJob's Indexed Job, by JOB_COMPLETION_INDEX."""
    job, pod = cronjob_pods()
    out: dict[int, list[Command]] = {}
    for index in range(job["completions"]):
        out[index] = [
            command
            for container in pod["containers"]
            for command in bromsync_commands(
                f"{CRONJOB.name} (pod {index}, {container['name']})",
                container_script(container),
                {POD_SHARE: str(index + 1)},
            )
        ]
    return out


def workflow_jobs() -> dict[str, Any]:
    workflow = load(WORKFLOW)
    assert set(workflow["on"]) >= {"schedule"}, "the workflow's `on:` must be quoted"
    jobs: dict[str, Any] = workflow["jobs"]
    return jobs


def matrix_commands() -> dict[str, dict[str, list[Command]]]:
    """The bromsync commands of each job of the workflow, by matrix entry ("" for none)."""
    out: dict[str, dict[str, list[Command]]] = {}
    for name, job in workflow_jobs().items():
        shards = job.get("strategy", {}).get("matrix", {}).get("shard", [None])
        out[name] = {}
        for shard in shards:
            values = {} if shard is None else {MATRIX_SHARD: str(shard)}
            out[name][str(shard or "")] = [
                command
                for number, step in enumerate(job["steps"])
                if "run" in step
                for command in bromsync_commands(
                    f"{WORKFLOW.name} (job {name}, step {step.get('name', number + 1)}"
                    + (f", shard {shard})" if shard else ")"),
                    step["run"],
                    values,
                )
            ]
    return out


def doc_commands() -> list[Command]:
    """The bromsync commands of docs/deploy.md's sh blocks, for the first pod or matrix entry."""
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    values = {POD_SHARE: "1", MATRIX_SHARD: "1"}
    lines = (
        re.sub(r"^\s*kubectl exec \S+ -- ", "", line) for b in blocks for line in b.split("\n")
    )
    return bromsync_commands(DOC.name, "\n".join(lines), values)


def all_commands() -> list[Command]:
    from_pods = [c for commands in pod_commands().values() for c in commands]
    from_jobs = [c for job in matrix_commands().values() for cs in job.values() for c in cs]
    reader = load(READER)["spec"]["containers"]
    from_reader = [
        c for k in reader for c in bromsync_commands(READER.name, container_script(k), {})
    ]
    return from_pods + from_jobs + from_reader + doc_commands()


# -- parsing them as bromsync would ----------------------------------------------------------


def parse(argv: tuple[str, ...] | list[str], root: Path = ROOT) -> click.Context:
    """`argv` (from "bromsync" on) parsed by the CLI's click commands, globs expanded from
    `root` as a shell would; raises click.UsageError as bromsync would refuse it."""
    words: list[str] = []
    for word in argv[1:]:
        matches = sorted(glob.glob(word, root_dir=root)) if glob.has_magic(word) else []
        words += matches or [word]
    parent = click.Context(cli, info_name="bromsync")
    command: click.Command = cli
    while isinstance(command, click.Group):
        assert words, f"{shlex.join(argv)}: no command after {parent.info_name}"
        name, *words = words
        sub = command.get_command(parent, name)
        if sub is None:
            raise click.UsageError(f"no such command {name!r}", parent)
        if isinstance(sub, click.Group):
            parent = click.Context(sub, info_name=name, parent=parent)
        command = sub
    return command.make_context(name, words, parent=parent)


def test_the_parser_refuses_what_bromsync_refuses() -> None:
    # The checks below are only as good as this: an option or argument bromsync does not take
    # must fail here, as it would fail the pod or the job.
    good = ("bromsync", "run", "schools/*.yaml", "--shard", "1/4", "--out", "plans")
    assert parse(good).params["shard"] == "1/4"
    for bad in (
        ("bromsync", "run", "schools/*.yaml", "--shards", "1/4"),  # no such option
        ("bromsync", "run", "--shard", "1/4"),  # no school file
        ("bromsync", "run", "schools/*.yaml", "--jobs", "0"),  # out of range
        ("bromsync", "sql-all"),  # no query
        ("bromsync", "sql-all", "SELECT 1", "SELECT 2"),  # one query too many
        ("bromsync", "synchronise", "schools/*.yaml"),  # no such command
    ):
        with pytest.raises(click.UsageError):
            parse(bad)


@pytest.fixture(scope="module")
def commands() -> list[Command]:
    found = all_commands()
    assert len(found) >= 8, [str(c) for c in found]
    return found


def test_every_command_parses(commands: list[Command]) -> None:
    problems = []
    for command in commands:
        try:
            context = parse(command.argv)
        except click.UsageError as exc:
            problems.append(f"{command}\n    bromsync would refuse it: {exc.format_message()}")
            continue
        if context.params.get("shard") is not None:
            try:
                Shard.parse(context.params["shard"])
            except Exception as exc:  # noqa: BLE001 - any refusal is the finding
                problems.append(f"{command}\n    bad --shard: {exc}")
    assert not problems, "\n".join(problems)


def test_the_manifests_run_the_nightly_sync(commands: list[Command]) -> None:
    runs = Counter(c.where.split(" ")[0] for c in commands if c.argv[1] == "run")
    assert runs[CRONJOB.name] == load(CRONJOB)["spec"]["jobTemplate"]["spec"]["completions"]
    assert runs[WORKFLOW.name] == len(workflow_jobs()["sync"]["strategy"]["matrix"]["shard"])


# -- the shares ------------------------------------------------------------------------------


def shares(commands: list[Command]) -> list[tuple[Command, Shard]]:
    out = []
    for command in commands:
        if command.argv[1] == "run":
            shard = parse(command.argv).params["shard"]
            assert shard is not None, f"{command}: runs every school, not one share"
            out.append((command, Shard.parse(shard)))
    return out


def manifest_shares(manifest: str) -> tuple[int, list[tuple[Command, Shard]]]:
    """A manifest's N (its completions, or its matrix's length) and the shares it runs."""
    if manifest == CRONJOB.name:
        pods = [c for commands in pod_commands().values() for c in commands]
        return cronjob_pods()[0]["completions"], shares(pods)
    matrix = workflow_jobs()["sync"]["strategy"]["matrix"]["shard"]
    jobs = [c for commands in matrix_commands()["sync"].values() for c in commands]
    return len(matrix), shares(jobs)


@pytest.mark.parametrize("manifest", [CRONJOB.name, WORKFLOW.name])
def test_the_shares_are_one_to_n(manifest: str) -> None:
    count, ran = manifest_shares(manifest)
    assert sorted((s.index, s.count) for _, s in ran) == [(i, count) for i in range(1, count + 1)]


def test_the_cronjob_is_an_indexed_job_that_never_overlaps() -> None:
    cronjob = load(CRONJOB)
    job, pod = cronjob_pods()
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert job["completionMode"] == "Indexed"
    assert 1 <= job["parallelism"] <= job["completions"]
    assert job.get("podReplacementPolicy") == "Failed"  # never two pods of one share at once
    assert pod["restartPolicy"] == "Never"
    for container in pod["containers"]:
        assert {"requests", "limits"} <= set(container["resources"])


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with schools/: the repository's own school files, 300 more made from them
    with other URNs, and one whose URN cannot be read."""
    root = tmp_path_factory.mktemp("fleet")
    (root / "schools").mkdir()
    own = sorted((ROOT / "schools").glob("*.yaml"))
    assert own
    for path in own:
        (root / "schools" / path.name).write_bytes(path.read_bytes())
    template = load(own[0])
    urns = {s["school"]["urn"] for s in map(load, own)}
    urn = 100000
    for number in range(300):
        urn += 1 + (number * 7919) % 97  # uneven gaps, so every remainder comes up
        if urn in urns:
            continue
        template["school"]["urn"] = urn
        text = yaml.safe_dump(template, sort_keys=False)
        (root / "schools" / f"generated-{number:03d}.yaml").write_text(text, encoding="utf-8")
    (root / "schools" / "no-urn.yaml").write_text("school: {name: No URN}\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("manifest", [CRONJOB.name, WORKFLOW.name])
def test_the_shares_cover_every_school_once(fleet: Path, manifest: str) -> None:
    _, ran = manifest_shares(manifest)
    given = sorted((fleet / "schools").glob("*.yaml"))
    picked: Counter[Path] = Counter()
    for command, _ in ran:
        context = parse(command.argv, root=fleet)
        files = [fleet / path for path in context.params["files"]]
        assert sorted(files) == given, f"{command}: does not give every school file"
        picked.update(pick_shard(files, context.params["shard"]))
    assert set(picked) == set(given)
    assert [path.name for path, n in picked.items() if n != 1] == []


# -- the state and the environment -------------------------------------------------------------


def test_the_cronjob_keeps_the_state_on_a_claim() -> None:
    _, pod = cronjob_pods()
    claims = {v["name"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
    for container in pod["containers"]:
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        state = env.get("BROMSYNC_STATE_DIR")
        assert state, "the pods must say where the state is (BROMSYNC_STATE_DIR)"
        mounts = [m for m in container["volumeMounts"] if m["name"] in claims]
        assert any(
            state.startswith(m["mountPath"].rstrip("/") + "/") for m in mounts
        ), f"{state} is not on a PersistentVolumeClaim: the state would go with the pod"
    assert load(DEPLOY / "kubernetes" / "state-volume.yaml")["spec"]["accessModes"] == [
        "ReadWriteMany"
    ]
    claim = load(DEPLOY / "kubernetes" / "state-volume.yaml")["metadata"]["name"]
    used = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if v["name"] in claims}
    assert claim in used


def test_the_workflow_keeps_the_state_it_restores() -> None:
    # Each share restores the cache into the folder it syncs with, the gather job saves it.
    for name, job in workflow_jobs().items():
        cached = {s["with"]["path"] for s in job["steps"] if "actions/cache" in s.get("uses", "")}
        for commands in matrix_commands()[name].values():
            for command in commands:
                state = parse(command.argv).params.get("state_dir")
                assert state in cached, f"{command}: state {state} is not the cached {cached}"
    gather = [s.get("uses", "") for s in workflow_jobs()["gather"]["steps"]]
    assert any(u.startswith("actions/cache/save@") for u in gather)
    assert workflow_jobs()["gather"]["if"] == "always()"


def documented_variables() -> set[str]:
    text = DOC.with_name("school-file.md").read_text(encoding="utf-8")
    section = text.split("## The environment", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z_][A-Z0-9_]*)`", row.split("|")[1])}


def password_variables() -> set[str]:
    return {load(p)["bromcom"]["password_env"] for p in sorted((ROOT / "schools").glob("*.yaml"))}


def set_variables() -> dict[str, set[str]]:
    """Every variable each manifest sets, by manifest."""
    out: dict[str, set[str]] = {}
    for path in (CRONJOB, READER):
        doc = load(path)
        pod = doc["spec"] if doc["kind"] == "Pod" else cronjob_pods()[1]
        out[path.name] = {e["name"] for c in pod["containers"] for e in c.get("env", [])}
    workflow = load(WORKFLOW)
    names = set(workflow.get("env", {}))
    for job in workflow["jobs"].values():
        names |= set(job.get("env", {}))
        names |= {n for step in job["steps"] for n in step.get("env", {})}
    out[WORKFLOW.name] = names
    return out


def test_every_variable_set_is_documented() -> None:
    documented = documented_variables()
    assert {
        "BROMSYNC_PARENTPAY_URL",
        "BROMSYNC_PARENTPAY_TOKEN",
        "BROMSYNC_STATE_DIR",
    } <= documented
    allowed = documented | password_variables()
    unknown = {
        m: sorted(names - allowed) for m, names in set_variables().items() if names - allowed
    }
    assert not unknown, f"variables docs/school-file.md does not name: {unknown}"


def test_the_workflow_gives_every_school_its_password() -> None:
    env = workflow_jobs()["sync"]["env"]
    missing = sorted(password_variables() - set(env))
    assert not missing, f"add a line per school to the sync job's env: {missing}"
    for name, value in env.items():
        assert value == f"${{{{ secrets.{name} }}}}", f"{name} must come from the secret {name}"


def test_the_pods_take_their_secrets_from_the_secret() -> None:
    _, pod = cronjob_pods()
    for container in pod["containers"]:
        assert any("secretRef" in source for source in container.get("envFrom", []))
        # No secret written in the manifest itself.
        assert not any(
            "value" in e
            for e in container.get("env", [])
            if e["name"]
            in (password_variables() | {"BROMSYNC_PARENTPAY_TOKEN", "BROMSYNC_PARENTPAY_URL"})
        )


# -- the image -------------------------------------------------------------------------------


def test_the_dockerfile_copies_what_pip_install_needs() -> None:
    copied = set()
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY "):
            *sources, _ = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), f"deploy/Dockerfile copies {source}: not there"
                copied.add(source.rstrip("/"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = project["tool"]["setuptools"]
    needed = {"pyproject.toml", project["project"]["readme"], "schools"}
    needed |= {f"{m}.py" for m in setuptools["py-modules"]}
    needed |= {p.split(".")[0] for p in setuptools["packages"]}
    assert needed <= copied, f"deploy/Dockerfile does not copy {sorted(needed - copied)}"
