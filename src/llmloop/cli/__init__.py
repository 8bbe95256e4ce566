"""``llmloop``: the root command. Sub-commands load lazily so ``llmloop --help`` stays fast.

Errors are translated once, here: an ``LlmloopError`` prints one ``error: …`` line on
stderr and exits with its ``exit_code``; Ctrl-C exits 130.
"""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError

from llmloop import __version__
from llmloop.errors import LlmloopError
from llmloop.plugins import load_attribute
from llmloop.validation import format_validation_error

# name -> (module, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "runs": ("llmloop.cli.runs", "runs", "Experiment runs: list, show, compare."),
    "data": ("llmloop.cli.data", "data", "Datasets: add, list, show, diff, split, redact, export."),
    "models": (
        "llmloop.cli.models",
        "models",
        "Model registry: versions, aliases behind gates, lineage, model cards, add-base.",
    ),
    "prompts": ("llmloop.cli.prompts", "prompts", "Prompt registry: versions, aliases, diffs, render."),
    "traces": ("llmloop.cli.traces", "traces", "Traces: list, show."),
    "eval": ("llmloop.cli.eval", "eval_", "Evaluate, compare with confidence intervals, gate promotions."),
    "deploy": (
        "llmloop.cli.deploy",
        "deploy",
        "Deployments: create, list, show, live status per target, rollback.",
    ),
    "feedback": ("llmloop.cli.feedback", "feedback", "Human feedback on traces: add, list, export."),
    "monitor": (
        "llmloop.cli.monitor",
        "monitor",
        "Monitors over sliding windows: apply a YAML file, list, run once, results.",
    ),
    "alerts": ("llmloop.cli.alerts", "alerts", "Alerts: list, rules, ack, silence."),
    "triggers": ("llmloop.cli.triggers", "triggers", "Triggers of the next turn: list, dry-run, fire."),
    "config": ("llmloop.cli.config", "config", "Show the resolved settings."),
    "store": ("llmloop.cli.store", "store", "Check the artifact store."),
    "server": ("llmloop.cli.server", "server", "Serve the API (and gateway, UI) on 127.0.0.1:7788."),
    "serve": ("llmloop.cli.server", "server", "Alias of 'server'."),
    "quickstart": ("llmloop.cli.quickstart", "quickstart", "Run the quickstart loop on the embedded store."),
    "admin": ("llmloop.cli.admin", "admin", "Set up authentication: admin init."),
    "keys": ("llmloop.cli.keys", "keys", "API keys: create, list, revoke; rotate the master key."),
    "users": ("llmloop.cli.users", "users", "Users and roles: create, list, grant, revoke."),
    "audit": ("llmloop.cli.audit", "audit", "Audit log: verify the chain, list events."),
    "privacy": ("llmloop.cli.privacy", "privacy", "Retention, purge, erase a user's data."),
    "secrets": ("llmloop.cli.secrets", "secrets", "Upstream secrets, stored encrypted."),
    "train": (
        "llmloop.cli.train",
        "train",
        "Fine-tune a model (SFT, DPO, distillation): train, --plan, --resume.",
    ),
    "pipeline": (
        "llmloop.cli.pipeline",
        "pipeline",
        "Pipelines: run, validate, resume, status, graph; cron schedules.",
    ),
    "sweep": ("llmloop.cli.sweep", "sweep", "Search training hyper-parameters with Optuna (local or Ray)."),
}


class CliError(click.ClickException):
    """An ``LlmloopError`` on its way out: one ``error: …`` line on stderr, the error's exit code."""

    def __init__(self, err: LlmloopError) -> None:
        super().__init__(err.message)
        self.exit_code = err.exit_code  # type: ignore[misc]

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        cmd = load_attribute(entry[0], entry[1])
        assert isinstance(cmd, click.Command)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        """Translate errors once for every sub-command."""
        try:
            try:
                return super().invoke(ctx)
            except ValidationError as e:  # a flag's value refused by a schema: say which, like any bad input
                raise format_validation_error(e, detail_name="field") from e
        except LlmloopError as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise CliError(e) from e
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(130) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="llmloop")
@click.option("--debug", is_flag=True, envvar="LLMLOOP_DEBUG", help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """llmloop: data, prompts, training, evaluation, registry, serving and feedback as one tracked loop."""
    ctx.obj = {"debug": debug}


def main() -> None:
    cli(prog_name="llmloop")
