"""The command line: parses arguments, calls the core, writes files and decides exit codes.

Only this module touches Click, the environment and exit codes. Exit codes (DESIGN.md contract):
0 clean, 1 findings at or above --fail-on, 2 usage/rule-pack/registry error, 3 input incomplete
under --strict or nothing scanned, 4 internal error, 130 interrupted. A crash never exits 0 or 1.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from auditor import __version__
from auditor.errors import AuditorError
from auditor.fingerprint import FingerprintConfig
from auditor.models import SEVERITY_NAMES, AuditResult, Severity

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130

_DEFAULTS = FingerprintConfig()
_SEVERITY_CHOICE = click.Choice(list(reversed(SEVERITY_NAMES)), case_sensitive=False)


class _ProgressLine:
    """One self-rewriting line on stderr: records, records/s, MB/s, percent and ETA."""

    def __init__(self, enabled: bool, label: str) -> None:
        self.enabled = enabled
        self.label = label
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, progress: Any) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.25:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        done, total = progress.bytes_done, max(progress.bytes_total, 1)
        eta = elapsed * (total - done) / done if done else 0.0
        click.echo(
            f"\r{self.label}: {progress.records:,} records · {progress.records / elapsed:,.0f} rec/s · "
            f"{done / elapsed / 1e6:,.1f} MB/s · {100 * done / total:.0f}% · ETA {eta:,.0f}s   ",
            err=True,
            nl=False,
        )

    def close(self) -> None:
        if self.enabled and self.last:
            click.echo("", err=True)


def _show_progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    raise _Exit(message, code)


class _Exit(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="auditor")
def cli() -> None:
    """Audit training corpora for copies of registered works, risky sources and licences."""


# --------------------------------------------------------------------------------------------- registry


@cli.group()
def registry() -> None:
    """Build and inspect registries of works."""


@registry.command("build")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", "out", required=True, type=click.Path(path_type=Path), help="Registry folder."
)
@click.option(
    "--catalogue",
    "catalogues",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Catalogue CSV (work_id, title, authors, isbn, …, path).",
)
@click.option("--name", help="Registry name shown in reports (default: folder name).")
@click.option("--fingerprints-only", is_flag=True, help="Keep signatures and metadata, not the text.")
@click.option("--shingle-size", default=_DEFAULTS.shingle_size, show_default=True, type=int)
@click.option(
    "--stride",
    default=_DEFAULTS.stride,
    show_default=True,
    type=int,
    help="Shingles per half window.",
)
@click.option("--num-perm", default=_DEFAULTS.num_perm, show_default=True, type=int)
@click.option("--bands", default=_DEFAULTS.bands, show_default=True, type=int)
@click.option("--seed", default=_DEFAULTS.seed, show_default=True, type=int)
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def registry_build(
    sources: tuple[Path, ...],
    out: Path,
    catalogues: tuple[Path, ...],
    name: str | None,
    fingerprints_only: bool,
    shingle_size: int,
    stride: int,
    num_perm: int,
    bands: int,
    seed: int,
    quiet: bool,
) -> None:
    """Build a registry from folders of work texts and catalogue CSVs."""
    from auditor.registry import build_registry

    if bands < 1 or num_perm % bands:
        _fail(f"--num-perm {num_perm} is not a multiple of --bands {bands}")
    try:
        config = FingerprintConfig(
            shingle_size=shingle_size,
            stride=stride,
            num_perm=num_perm,
            bands=bands,
            rows=num_perm // bands,
            seed=seed,
        )
    except ValueError as exc:
        _fail(str(exc))
    show = _show_progress(quiet)

    def progress(done: int, total: int) -> None:
        if show:
            click.echo(f"\rreading works: {done}/{total}", err=True, nl=False)

    manifest = build_registry(
        list(sources),
        out,
        name=name,
        catalogues=list(catalogues),
        config=config,
        fingerprints_only=fingerprints_only,
        progress=progress,
    )
    if show:
        click.echo("", err=True)
    counts = manifest["counts"]
    if not quiet:
        click.echo(
            f"registry {manifest['name']!r} written to {out}: {counts['works']} works "
            f"({counts['works_with_text']} with text), {counts['passages']:,} passages, "
            f"{counts['boilerplate_shingles']:,} boilerplate shingles masked; digest {manifest['digest']}",
            err=True,
        )


@registry.command("info")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def registry_info(path: Path, as_json: bool) -> None:
    """Show a registry's works, sizes, fingerprint config and digest."""
    from auditor.registry import WorkRegistry

    reg = WorkRegistry(path)
    if as_json:
        click.echo(json.dumps(reg.manifest, indent=2))
        return
    m = reg.manifest
    counts = m["counts"]
    click.echo(f"registry   {m['name']}  ({path})")
    click.echo(f"snapshot   {m['snapshot']}   tool {m['tool_version']}")
    click.echo(f"digest     {m['digest']}")
    click.echo(f"config     {m['config_id']}")
    click.echo(
        f"text       {'fingerprints only (no work text)' if m.get('fingerprints_only') else 'included'}"
    )
    click.echo(
        f"counts     {counts['works']} works, {counts['tokens']:,} tokens, {counts['passages']:,} passages, "
        f"{counts['isbns']} ISBNs, {counts['boilerplate_shingles']:,} boilerplate shingles"
    )
    click.echo("")
    click.echo(f"{'work id':<32} {'tokens':>9}  {'ISBNs':<15} title")
    for meta in reg.works_meta:
        isbns = ",".join(meta["isbns"][:1]) + ("…" if len(meta["isbns"]) > 1 else "")
        click.echo(f"{meta['work_id']:<32} {meta['tokens']:>9,}  {isbns:<15} {meta['title']}")


# --------------------------------------------------------------------------------------------- scan


def _parse_formats(value: str) -> list[str]:
    from auditor.reporters import REPORTERS

    formats = [f.strip().lower() for f in value.split(",") if f.strip()]
    unknown = [f for f in formats if f not in REPORTERS]
    if unknown:
        _fail(f"unknown --format {', '.join(unknown)}: choose from {', '.join(sorted(REPORTERS))}")
    if "json" not in formats:
        formats.insert(0, "json")
    return formats


def decide_exit_code(result: AuditResult, fail_on: Severity | None, strict: bool) -> int:
    """The contract's exit code for a completed scan."""
    if result.records_scanned == 0:
        return EXIT_INCOMPLETE
    if strict and result.skipped:
        return EXIT_INCOMPLETE
    if fail_on is not None and any(f.severity >= fail_on for f in result.findings):
        return EXIT_FINDINGS
    return EXIT_CLEAN


@cli.command()
@click.argument("corpus", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-r",
    "--registry",
    "registries",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Registry folder (repeatable).",
)
@click.option(
    "--rules",
    "packs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra rule pack (repeatable); the bundled packs always apply.",
)
@click.option(
    "-o", "--output", "outdir", required=True, type=click.Path(path_type=Path), help="Output folder."
)
@click.option(
    "--format",
    "formats",
    default="json,html",
    show_default=True,
    help="Comma-separated: json, html and any other registered format.",
)
@click.option(
    "--fail-on",
    default="high",
    show_default=True,
    help="Exit 1 when a finding is at or above this severity; 'never' to disable.",
)
@click.option(
    "--min-severity",
    default="info",
    show_default=True,
    type=_SEVERITY_CHOICE,
    help="Leave out findings below this severity.",
)
@click.option(
    "--use",
    type=click.Choice(["commercial", "research"]),
    default="commercial",
    show_default=True,
    help="Intended use, for licence classification.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: cores]."
)
@click.option("--strict", is_flag=True, help="Exit 3 if any input or record could not be read.")
@click.option("--quiet", is_flag=True, help="No progress or summary on stderr.")
@click.option("--text-field", help="Field holding the text (dotted paths allowed).")
@click.option("--id-field", help="Field holding the record id.")
@click.option("--url-field", help="Field holding the URL.")
@click.option("--license-field", help="Field holding the declared licence.")
def scan(
    corpus: tuple[Path, ...],
    registries: tuple[Path, ...],
    packs: tuple[Path, ...],
    outdir: Path,
    formats: str,
    fail_on: str,
    min_severity: str,
    use: str,
    workers: int | None,
    strict: bool,
    quiet: bool,
    text_field: str | None,
    id_field: str | None,
    url_field: str | None,
    license_field: str | None,
) -> None:
    """Scan corpus files and folders; write report.json (+ other formats) into OUTDIR."""
    from auditor import engine
    from auditor.readers import FieldSpec
    from auditor.registry import open_registries
    from auditor.report import build_report
    from auditor.reporters import get_reporter, write_report
    from auditor.rules import load_rule_set

    chosen = _parse_formats(formats)
    threshold: Severity | None
    if fail_on.lower() == "never":
        threshold = None
    else:
        try:
            threshold = Severity.parse(fail_on)
        except ValueError as exc:
            _fail(f"--fail-on: {exc} or never")
    for path in corpus:
        if not path.exists():
            _fail(f"corpus path {path} does not exist")
    corpus_files = {p.resolve() for p in corpus if p.is_file()}
    if outdir.resolve() in corpus_files or (outdir.exists() and not outdir.is_dir()):
        _fail(f"output folder {outdir} is a file; give a folder for -o")
    opened = open_registries(list(registries))
    rule_set = load_rule_set(list(packs), use=use)
    options = engine.ScanOptions(
        fields=FieldSpec(text=text_field, id=id_field, url=url_field, license=license_field),
        min_severity=Severity.parse(min_severity),
        workers=workers or engine.default_workers(),
    )
    line = _ProgressLine(_show_progress(quiet), "scanning")
    try:
        result = engine.scan(list(corpus), opened, rule_set, options, progress=line)
    finally:
        line.close()
    code = decide_exit_code(result, threshold, strict)
    report = build_report(
        result, command=["auditor", *sys.argv[1:]], exit_code=code, rules=rule_set.describe()
    )
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in chosen:
        reporter = get_reporter(name)
        target = outdir / reporter.filename
        write_report(target, reporter.render(report))
        written.append(target)
    if not quiet:
        _print_summary(report, written, threshold)
    raise _Exit("", code)


def _print_summary(report: dict[str, Any], written: Sequence[Path], threshold: Severity | None) -> None:
    summary = report["summary"]
    sev = ", ".join(f"{n} {summary['by_severity'][n]}" for n in SEVERITY_NAMES if summary["by_severity"][n])
    click.echo(
        f"scanned {summary['records_scanned']:,} records from {len(report['inputs'])} inputs "
        f"({summary['records_skipped']:,} records and {summary['inputs_skipped']} inputs skipped); "
        f"{summary['records_flagged']:,} records flagged; {len(report['findings']):,} findings"
        + (f" ({sev})" if sev else ""),
        err=True,
    )
    for src in report["sources"][:3]:
        if src["flagged"]:
            click.echo(
                f"  riskiest source: {src['key']} — {src['flagged']}/{src['records']} records flagged, "
                f"max {src['max_severity']}, risk {src['risk']:.2f}",
                err=True,
            )
    for item in report["skipped"][:5]:
        where = f"{item['input']}:{item['row']}" if item["row"] is not None else item["input"]
        click.echo(f"  skipped {where}: {item['reason']}", err=True)
    if len(report["skipped"]) > 5:
        click.echo(f"  … and {len(report['skipped']) - 5} more skipped (see report.json)", err=True)
    for path in written:
        click.echo(f"  wrote {path}", err=True)
    verdict = {
        EXIT_CLEAN: "exit 0: nothing at or above the fail threshold",
        EXIT_FINDINGS: f"exit 1: findings at or above {threshold.label if threshold else 'the threshold'}",
        EXIT_INCOMPLETE: "exit 3: input incomplete (nothing scanned, or skips under --strict)",
    }[summary["exit_code"]]
    click.echo(verdict, err=True)


# --------------------------------------------------------------------------------------------- report


@cli.command("report")
@click.argument("report_json", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--format", "fmt", required=True, help="Format to render (html, json, …).")
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path), help="File to write.")
def report_cmd(report_json: Path, fmt: str, out: Path) -> None:
    """Re-render a report.json in another format, without rescanning."""
    from auditor.reporters import get_reporter, write_report

    if out.resolve() == report_json.resolve():
        _fail("the output file is the report.json being read; choose another -o")
    try:
        data = json.loads(report_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(f"cannot read {report_json}: {exc}")
    if not isinstance(data, dict) or data.get("schema_version") != 1 or "findings" not in data:
        _fail(f"{report_json} is not an auditor report.json (schema_version 1)")
    reporter = get_reporter(fmt)
    write_report(out, reporter.render(data))
    click.echo(f"wrote {out}", err=True)


# --------------------------------------------------------------------------------------------- rules


@cli.group("rules")
def rules_group() -> None:
    """List and check rule packs."""


@rules_group.command("list")
@click.argument("packs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--use", type=click.Choice(["commercial", "research"]), default="commercial")
def rules_list(packs: tuple[Path, ...], use: str) -> None:
    """Show the active rules: the bundled packs plus PACKs."""
    from auditor.rules import load_rule_set

    rule_set = load_rule_set(list(packs), use=use)
    for pack in rule_set.packs:
        click.echo(f"# {pack.name}  {pack.digest[:19]}  {pack.path}")
    for rule in rule_set.describe():
        click.echo(f"{rule['id']:<14} {rule['severity']:<9} {rule['kind']:<15} {rule['name']}")


@rules_group.command("check")
@click.argument("packs", nargs=-1, required=True, type=click.Path(path_type=Path))
def rules_check(packs: tuple[Path, ...]) -> None:
    """Validate rule packs; print every problem with file and line; exit 2 if any."""
    from auditor.rules import load_rule_set

    for pack in packs:
        if not pack.is_file():
            _fail(f"rule pack {pack} does not exist")
    rule_set = load_rule_set(list(packs))
    click.echo(f"ok: {len(packs)} pack(s), {len(rule_set.rules)} rules active", err=True)


# --------------------------------------------------------------------------------------------- entry


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the CLI and exit with the contract's codes, whatever happens."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="auditor", standalone_mode=False)
        code = EXIT_CLEAN
    except _Exit as exc:
        if str(exc):
            click.echo(f"auditor: error: {exc}", err=True)
        code = exc.code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.UsageError as exc:
        exc.show()
        code = EXIT_USAGE
    except click.Abort:
        click.echo("auditor: interrupted", err=True)
        code = EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("\nauditor: interrupted", err=True)
        code = EXIT_INTERRUPTED
    except AuditorError as exc:
        click.echo(f"auditor: error: {exc}", err=True)
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = EXIT_USAGE
    except BrokenPipeError:
        code = EXIT_CLEAN
    except Exception as exc:  # a crash is never reported as clean or as findings
        click.echo(f"auditor: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("".join(traceback.format_exception(exc)), err=True)
        code = EXIT_INTERNAL
    sys.exit(code)


if __name__ == "__main__":
    main()
