"""Every docs page runs as written: its bash commands and Python blocks, in order, in a fresh LLMLOOP_HOME.

Where a page uses the real model for minutes (a fine-tune, a 200-row evaluation), ``REWRITES``
gives the command the test runs instead, with a tiny budget, and says why; placeholders a reader
fills in (``RUN_ID``) are filled from the page's own Python namespace (``{best.id}``). A rewrite
whose command the page no longer shows fails the test, so the table cannot rot. Blocks marked
``<!-- not run: ... -->`` in the page are the only ones skipped, and are counted.
Pages whose blocks load real weights for long are ``slow``; the rest run in seconds.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.docs import pages
from tests.docs.regen import DOCS, ROOT


@dataclass
class Page:
    path: str
    # documented command -> (what runs instead, why); {expr} is evaluated in the page's Python namespace
    rewrites: dict[str, tuple[str, str]] = field(default_factory=dict)
    # documented command -> its exit code when not 0 (a check that says no is a documented outcome)
    exits: dict[str, int] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    slow: bool = False


def tiny_suite(work: Path) -> None:
    """The travel suite evaluates 4 rows instead of 200: the commands are the same, the budget is not."""
    suite = work / "examples/travel/suite.yaml"
    suite.write_text(suite.read_text().replace("  ref: travel-eval ", "  limit: 4\n  ref: travel-eval "))


def tiny_sanity_suite(work: Path) -> None:
    """The instruction suite evaluates 2 rows instead of 25 (about 3 s a row on 2 cores)."""
    suite = work / "examples/suites/instruction_sanity.yaml"
    suite.write_text(
        suite.read_text().replace(
            "  path: instruction_sanity.jsonl", "  limit: 2\n  path: instruction_sanity.jsonl"
        )
    )


def evaluation_page(work: Path) -> None:
    """The tiny instruction suite, and an earlier evaluation of the base, so compare has a baseline."""
    from click.testing import CliRunner

    from llmloop.cli import cli

    tiny_sanity_suite(work)
    suite = str(work / "examples/suites/instruction_sanity.yaml")
    done = CliRunner().invoke(cli, ["eval", "run", suite, "--model", "smollm2-135m-instruct"])
    assert done.exit_code == 0, done.output


def smollm2_adapter(work: Path) -> Path:
    """A random LoRA over the packaged SmolLM2 at out/adapter (the page's stand-in for a trained one)."""
    from llmloop.engines.weights import check_gguf, gguf_to_hf_dir
    from tests.model_fixtures import build_tiny_lora, model_cache, packaged_gguf

    gguf = packaged_gguf()
    return build_tiny_lora(gguf_to_hf_dir(gguf, check_gguf(gguf), model_cache()), work / "out/adapter")


def models_page(work: Path) -> None:
    from tests.model_fixtures import build_tiny_llama

    tiny_sanity_suite(work)
    smollm2_adapter(work)
    build_tiny_llama(work / "models/tiny-llama")


def engines_page(work: Path) -> None:
    """travel-sft@champion exists: a LoRA over SmolLM2 (export needs a GGUF base), promoted without a gate."""
    import llmloop as ll

    ll.models.register("travel-sft", base_model="smollm2-135m-instruct", adapter=str(smollm2_adapter(work)))
    ll.models.promote("travel-sft@1", "champion")


def tls_pair(work: Path) -> None:
    """A self-signed certificate for 127.0.0.1, as cert.pem and key.pem (what the page's serve names)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    (work / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (work / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


TRAIN_TINY = (
    "llmloop train examples/travel/sft.yaml --set training.max_steps=1 --set training.eval_steps=1"
    " --set training.save_steps=1 --set data.max_eval_rows=2 --no-progress"
)

PAGES = [
    Page(
        "README.md",
        rewrites={
            "llmloop train examples/travel/sft.yaml": (TRAIN_TINY, "1 step instead of 60 (~6 min)"),
            "llmloop runs show RUN_ID --json": (
                "llmloop runs show {best.id} --json",
                "RUN_ID: the run above",
            ),
            "llmloop runs compare RUN_A RUN_B": (
                "llmloop runs compare {best.id} {best.id}",
                "RUN_A, RUN_B: the page makes one run",
            ),
        },
        # a 1-step fine-tune fails the accuracy gate, so the promotion behind it is refused: both documented
        exits={
            "llmloop eval gate examples/travel/suite.yaml --candidate travel-sft@1 "
            "--baseline smollm2-135m-instruct": 1,
            "llmloop models promote travel-sft@1 champion -p travel --gate examples/travel/suite.yaml": 1,
            # the page's fresh store has served and rated nothing yet: the export refuses, saying so
            # (tests/e2e/test_gateway_live.py exports real rated traffic)
            "llmloop feedback export --as sft -o fixes.jsonl --dataset travel-fixes": 2,
        },
        setup=tiny_suite,
        slow=True,
    ),
    Page("docs/security.md", setup=tls_pair),
    Page(
        "docs/evaluation.md",
        rewrites={
            "llmloop eval compare BASELINE_ID CANDIDATE_ID": (
                "llmloop eval compare {ids[1]} {ids[0]}",
                "the ids: the setup's evaluation (baseline) and the page's (candidate)",
            )
        },
        setup=evaluation_page,
        slow=True,
    ),
    Page("docs/models.md", setup=models_page, slow=True),
    Page("docs/engines.md", setup=engines_page, slow=True),
    Page("docs/cli.md"),
    Page("docs/config.md"),
    Page("docs/gateway.md"),
    Page("docs/ui.md"),
    Page(
        "docs/pipelines.md",
        rewrites={
            "llmloop pipeline run docs/examples/pipeline.yaml --explain": (
                "llmloop pipeline run docs/examples/pipeline.yaml --explain --executor inline",
                "steps in-process: a process per step costs seconds on 2 busy cores; the local executor "
                "is tested in tests/integration/pipelines",
            ),
            "llmloop pipeline status RUN_ID": ("llmloop pipeline status {run.id}", "RUN_ID: the run above"),
            "llmloop pipeline status RUN_ID --json": (
                "llmloop pipeline status {run.id} --json",
                "RUN_ID: the run above",
            ),
        },
    ),
    Page("docs/monitoring.md"),
]


def test_every_page_is_run() -> None:
    every = {"README.md", *(f"docs/{p.name}" for p in DOCS.glob("*.md"))}
    missing = sorted(every - {p.path for p in PAGES})
    assert not missing, f"add these pages to tests/docs/test_pages.py::PAGES: {missing}"


def page_params() -> list[object]:
    return [pytest.param(p, id=p.path, marks=[pytest.mark.slow] if p.slow else []) for p in PAGES]


def workdir(tmp_path: Path) -> Path:
    """A folder like a fresh clone's root: the examples (without generated data) and docs/examples."""
    work = tmp_path / "work"
    shutil.copytree(
        ROOT / "examples", work / "examples", ignore=shutil.ignore_patterns("data", "__pycache__")
    )
    if (DOCS / "examples").is_dir():
        shutil.copytree(DOCS / "examples", work / "docs/examples")
    return work


class EvaluationIds:
    """``ids[0]``: the newest evaluation's id, read when a rewrite needs it (as a reader copies it)."""

    def __getitem__(self, i: int) -> str:
        import llmloop as ll

        return str(ll.evaluations.list(project="default").items[i].id)


@pytest.mark.parametrize("page", page_params())
def test_page_runs_as_written(page: Page, tmp_path: Path, isolated_home: Path) -> None:
    text = (ROOT / page.path).read_text()
    work = workdir(tmp_path)
    if page.setup is not None:
        page.setup(work)
    session = pages.Session(cwd=work, env={"LLMLOOP_HOME": str(isolated_home)})
    session.namespace["ids"] = EvaluationIds()
    used: set[str] = set()
    skipped = 0
    try:
        for block in pages.blocks(text, page.path):
            where = f"{page.path}:{block.line}"
            if block.not_run is not None:
                skipped += 1
                continue
            if block.lang == "python":
                session.python(block.code, where)
                continue
            if block.lang != "bash":
                continue
            for offset, documented in pages.commands(block.code):
                key = documented.split(" #", 1)[0].strip()
                command = key
                if key in page.rewrites:
                    used.add(key)
                    command = re.sub(
                        r"\{([^{}]+)\}",
                        lambda m: str(eval(m.group(1), session.namespace)),
                        page.rewrites[key][0],
                    )
                want = page.exits.get(key, 0)
                got = session.run(command)
                assert got.exit_code == want, (
                    f"{page.path}:{block.line + offset + 1}: `{command}` exited {got.exit_code}, "
                    f"the page expects {want}\n{got.output[-3000:]}"
                )
    finally:
        session.close()
    stale = set(page.rewrites) - used
    assert not stale, f"{page.path} no longer shows {sorted(stale)}: drop them from REWRITES"
    marked = text.count("<!-- not run:")
    assert skipped == marked, f"{page.path}: {marked} not-run marks but {skipped} marked blocks"


def test_not_run_blocks_say_why_in_the_page() -> None:
    for page in PAGES:
        text = (ROOT / page.path).read_text()
        for block in pages.blocks(text, page.path):
            if block.not_run is not None:
                assert len(block.not_run.split()) >= 3, (
                    f"{page.path}:{block.line}: say why it cannot run here"
                )
