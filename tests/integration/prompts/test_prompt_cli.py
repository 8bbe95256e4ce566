"""``llmloop prompts …``: files in, tables or JSON out, one clear error line and exit code 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

PROMPT_FILE = {
    "description": "Destination ideas",
    "messages": [
        {"role": "system", "content": "You help {{ agency }} customers."},
        {"role": "user", "content": "{{ nights }} nights, likes {{ tags|join(', ') }}. Ideas?"},
    ],
    "variables": {"agency": "string", "nights": "integer", "tags": "list"},
    "params": {"temperature": 0.4, "max_tokens": 80},
}


def write(tmp_path: Path, data: Any, name: str = "prompt.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if name.endswith(".yaml") else json.dumps(data))
    return str(path)


def test_create_show_render_diff_alias(cli: Any, api: Any, tmp_path: Path) -> None:
    r = cli(
        "prompts",
        "create",
        "ideas",
        "-f",
        write(tmp_path, PROMPT_FILE),
        "-m",
        "first",
        "-p",
        "travel",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["version"] == 1
    changed = {**PROMPT_FILE, "params": {"temperature": 0.8, "max_tokens": 80}}
    r = cli(
        "prompts",
        "create",
        "ideas",
        "-f",
        write(tmp_path, changed, "v2.json"),
        "-m",
        "warmer",
        "-p",
        "travel",
    )
    assert r.exit_code == 0 and r.stdout.startswith("travel/ideas@2")

    shown = cli("prompts", "show", "ideas@1", "-p", "travel", "--json")
    assert json.loads(shown.stdout) == api.get("/api/v1/prompts/ideas@1", params={"project": "travel"}).json()
    human = cli("prompts", "show", "ideas", "-p", "travel")
    assert "travel/ideas@2" in human.stdout and "--- system" in human.stdout and "nights" in human.stdout

    rendered = cli(
        "prompts",
        "render",
        "ideas@1",
        "-p",
        "travel",
        "--var",
        "agency=Sunny",
        "--var",
        "nights=7",
        "--var",
        'tags=["sea", "food"]',
        "--json",
    )
    assert rendered.exit_code == 0, rendered.stderr
    assert json.loads(rendered.stdout)["messages"][1]["content"] == "7 nights, likes sea, food. Ideas?"
    plain = cli(
        "prompts", "render", "ideas", "-p", "travel", "-v", "agency=S", "-v", "nights=2", "-v", "tags=[]"
    )
    assert "--- user\n2 nights, likes . Ideas?" in plain.stdout

    diff = cli("prompts", "diff", "ideas@1", "2", "-p", "travel", "--json")
    assert json.loads(diff.stdout)["changed"] == ["params"]
    assert "+  temperature: 0.8" in cli("prompts", "diff", "ideas@1", "ideas@2", "-p", "travel").stdout

    assert (
        cli("prompts", "alias", "ideas", "production", "1", "-p", "travel").stdout.strip()
        == "ideas@production -> 1"
    )
    listed = json.loads(cli("prompts", "list", "-p", "travel", "--json").stdout)["items"]
    assert [(p["name"], p["latest_version"], p["aliases"]) for p in listed] == [
        ("ideas", 2, {"production": 1})
    ]
    versions = json.loads(cli("prompts", "versions", "ideas", "-p", "travel", "--json").stdout)["items"]
    assert [(v["version"], v["message"]) for v in versions] == [(2, "warmer"), (1, "first")]
    gone = cli("prompts", "alias", "ideas", "production", "--delete", "-p", "travel", "--json")
    assert json.loads(gone.stdout) == {"name": "ideas", "alias": "production", "deleted": True}


def test_text_template_inline(cli: Any) -> None:
    r = cli("prompts", "create", "summary", "--template", "Summarise: {{ text }}", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["variables"]["text"]["type"] == "string"  # inferred, not declared
    r = cli("prompts", "render", "summary")
    assert r.exit_code == 2 and r.stderr.strip() == "error: missing variable 'text'"
    out = cli("prompts", "render", "summary", "--var", "text=a long review", "--json")
    assert json.loads(out.stdout)["text"] == "Summarise: a long review"


def test_bad_input_exits_2_with_one_line(cli: Any, tmp_path: Path) -> None:
    cli("prompts", "create", "ideas", "-f", write(tmp_path, PROMPT_FILE))
    broken = {**PROMPT_FILE, "messages": [{"role": "user", "content": "ok\n{% for x in %}"}]}
    r = cli("prompts", "create", "ideas", "-f", write(tmp_path, broken, "broken.yaml"))
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("error: messages[0] line 2, column ") and "template syntax error" in r.stderr
    assert r.stderr.count("\n") == 1
    assert json.loads(cli("prompts", "versions", "ideas", "--json").stdout)["items"][0]["version"] == 1

    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("messages:\n  - role: user\n    content: [unclosed\n")
    r = cli("prompts", "create", "ideas", "-f", str(bad_yaml))
    assert r.exit_code == 2 and "bad.yaml line" in r.stderr and "not valid YAML" in r.stderr
    r = cli("prompts", "create", "ideas", "-f", write(tmp_path, {**PROMPT_FILE, "paramz": {}}, "typo.yaml"))
    assert r.exit_code == 2 and "typo.yaml: unknown key 'paramz'; did you mean 'params'?" in r.stderr

    r = cli("prompts", "render", "ideas", "--var", "agency=S", "--var", "tags=[]")
    assert (r.exit_code, r.stderr) == (2, "error: missing variable 'nights'\n")
    r = cli("prompts", "render", "ideas", "--var", "agency=S", "--var", "nights=many", "--var", "tags=[]")
    assert r.exit_code == 2 and "'many' is not a valid integer" in r.stderr
    r = cli("prompts", "show", "ideas@7")
    assert r.exit_code == 2 and r.stderr == "error: prompt 'ideas' has no version 7\n"


def test_sdk_reads_prompt_files_as_the_cli_does(cli: Any, tmp_path: Path) -> None:
    import llmloop as ll
    from llmloop.errors import InvalidInput

    path = write(tmp_path, {**PROMPT_FILE, "name": "ideas", "project": "travel"})
    made = ll.prompts.create_from_file(path, message="from python")
    assert (made.ref, made.version.project, made.version.message) == ("ideas@1", "travel", "from python")
    assert made.variable_names == {"agency", "nights", "tags"}
    r = cli("prompts", "create", "ideas", "-f", path, "--json")  # the same file: no new version
    assert r.exit_code == 0 and json.loads(r.stdout)["content_hash"] == made.version.content_hash
    extra = ll.prompts.create_from_file(path, name="other", project="travel", declare=["tone:string"])
    assert (extra.ref, extra.version.variables["tone"].type) == ("other@1", "string")

    nameless = write(tmp_path, PROMPT_FILE, "nameless.json")
    with pytest.raises(InvalidInput, match=r"nameless\.json: no prompt name"):
        ll.prompts.create_from_file(nameless)
    bad = tmp_path / "bad.yaml"
    bad.write_text("messages: [unclosed\n")
    with pytest.raises(InvalidInput, match=r"bad.yaml line \d+: not valid YAML") as err:
        ll.prompts.create_from_file(bad, name="ideas")
    assert err.value.details["file"] == str(bad)
    with pytest.raises(InvalidInput, match=r"typo\.yaml: unknown key 'paramz'; did you mean 'params'\?"):
        ll.prompts.create_from_file(write(tmp_path, {**PROMPT_FILE, "paramz": {}}, "typo.yaml"), name="x")
    assert [p.name for p in ll.prompts.list(project="travel").items] == [
        "ideas",
        "other",
    ]  # nothing else made
