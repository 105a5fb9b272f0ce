"""The command line: parses arguments, calls the core, writes files and decides exit codes.

Only this module touches Click, the environment and exit codes. Exit codes (DESIGN.md contract):
0 clean, 1 findings at or above --fail-on, 2 usage/rule-pack/registry error, 3 input incomplete
under --strict or nothing scanned, 4 internal error, 130 interrupted. A crash never exits 0 or 1.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from auditor.errors import AuditorError
from auditor.fingerprint_config import FingerprintConfig
from auditor.models import SEVERITY_NAMES, AuditResult, Severity

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
EXIT_TERMINATED = 143

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


class _PipeClosed(Exception):
    """The reader of our output went away; carried past Click, whose own handling exits 1."""


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        # Click turns EPIPE into exit status 1, the code for findings; take it before Click does.
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise _PipeClosed() from exc


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # click.version_option would need the version when this module is imported: looking it up (package
    # metadata) is left until --version asks for it.
    if not value or ctx.resilient_parsing:
        return
    from auditor import __version__

    click.echo(f"auditor, version {__version__}")
    ctx.exit()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
def cli() -> None:
    """Audit training corpora for copies of registered works, risky sources and licences."""


# --------------------------------------------------------------------------------------------- registry


def _engine_options(command: Any) -> Any:
    """--engine and --ray-address, shared by the commands that can run on Ray."""
    command = click.option(
        "--ray-address",
        help="Ray cluster for --engine ray (default: RAY_ADDRESS, else a local Ray started for the run).",
    )(command)
    return click.option(
        "--engine",
        type=click.Choice(["local", "ray"]),
        default="local",
        show_default=True,
        help="Run here (local processes) or on a Ray cluster; the result is the same.",
    )(command)


@cli.group()
def registry() -> None:
    """Build and inspect registries of works."""


@registry.command("build")
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "-o", "--output", "out", required=True, type=click.Path(path_type=Path), help="Registry folder."
)
@click.option(
    "--catalogue",
    "catalogues",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Catalogue CSV, JSONL or Parquet (work_id, title, authors, isbn, …, path); repeatable.",
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
@_engine_options
@click.option("--quiet", is_flag=True, help="No progress or summary on stderr.")
def registry_build(
    sources: tuple[str, ...],
    out: Path,
    catalogues: tuple[Path, ...],
    name: str | None,
    fingerprints_only: bool,
    shingle_size: int,
    stride: int,
    num_perm: int,
    bands: int,
    seed: int,
    engine: str,
    ray_address: str | None,
    quiet: bool,
) -> None:
    """Build a registry from work files (.txt .md .html .epub .pdf), folders of them and catalogues."""
    from auditor.registry import build_registry, build_summary

    _check_sources(sources, engine)
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
    progress, done = _work_progress(quiet)
    with contextlib.ExitStack() as stack:
        paths, mapper, names = _sources_on(engine, ray_address, sources, stack)
        try:
            manifest = build_registry(
                paths,
                out,
                name=name,
                catalogues=list(catalogues),
                config=config,
                fingerprints_only=fingerprints_only,
                progress=progress,
                mapper=mapper,
                names=names,
            )
        finally:
            done()
    if not quiet:
        click.echo("\n".join(build_summary(manifest)), err=True)


def _check_sources(sources: Sequence[str], engine: str) -> None:
    from auditor.ray_engine import is_url

    urls = [source for source in sources if is_url(source)]
    if urls and engine != "ray":
        _fail(f"registry source URL {urls[0]} is read by the Ray engine only: add --engine ray")


def _sources_on(
    engine: str, ray_address: str | None, sources: Sequence[str], stack: contextlib.ExitStack
) -> tuple[list[Path], Any, dict[Path, str] | None]:
    """Registry sources as local paths, the mapper that tokenises and signs works (None: this
    machine), and the names of sources copied from URLs; Ray is started (or joined) on ``stack``."""
    if engine != "ray":
        return [Path(source) for source in sources], None, None
    from auditor.ray_engine import staged_sources

    ray_engine = stack.enter_context(_ray_engine(ray_address))
    paths, names = stack.enter_context(staged_sources(sources))
    return paths, ray_engine.mapper(), names


def _ray_engine(address: str | None, partitions: int | None = None) -> Any:
    """The Ray engine, started (or connected) for one command; a usage error when Ray is missing."""
    from auditor.ray_engine import RayEngine

    return RayEngine(address, partitions=partitions)


def _work_progress(quiet: bool) -> tuple[Any, Any]:
    """A (done, total) progress line for reading work files, and the function that ends it."""
    show = _show_progress(quiet)
    shown = [False]

    def progress(done: int, total: int) -> None:
        if show:
            shown[0] = True
            click.echo(f"\rreading works: {done}/{total}", err=True, nl=False)

    def finish() -> None:
        if shown[0]:
            click.echo("", err=True)

    return progress, finish


@registry.command("add")
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("sources", nargs=-1)
@click.option(
    "--catalogue",
    "catalogues",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Catalogue CSV, JSONL or Parquet of the works to add; repeatable.",
)
@_engine_options
@click.option("--quiet", is_flag=True, help="No progress or summary on stderr.")
def registry_add(
    path: Path,
    sources: tuple[str, ...],
    catalogues: tuple[Path, ...],
    engine: str,
    ray_address: str | None,
    quiet: bool,
) -> None:
    """Add works to registry PATH as a new snapshot (its fingerprint settings are kept)."""
    from auditor.registry import add_to_registry, build_summary

    if not sources and not catalogues:
        _fail("give the works to add: SOURCE files or folders, or --catalogue FILE")
    _check_sources(sources, engine)
    progress, done = _work_progress(quiet)
    with contextlib.ExitStack() as stack:
        paths, mapper, names = _sources_on(engine, ray_address, sources, stack)
        try:
            manifest = add_to_registry(
                path, paths, catalogues=list(catalogues), progress=progress, mapper=mapper, names=names
            )
        finally:
            done()
    if not quiet:
        click.echo("\n".join(build_summary(manifest)), err=True)


@registry.command("info")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest and every work as JSON.")
def registry_info(path: Path, as_json: bool) -> None:
    """Show a registry's works, sizes, fingerprint config, snapshots, sources and digest.

    Every data file is checked against its sha256 in the manifest (a scan checks the faster xxh3
    checksums only)."""
    from auditor.registry import WorkRegistry, describe_registry, registry_listing

    reg = WorkRegistry(path, full_check=True)
    if as_json:
        click.echo(json.dumps(registry_listing(reg), indent=2, ensure_ascii=False))
        return
    click.echo("\n".join(describe_registry(reg)))


@registry.command("diff")
@click.argument("registry_a", type=click.Path(path_type=Path))
@click.argument("registry_b", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def registry_diff(registry_a: Path, registry_b: Path, as_json: bool) -> None:
    """List works added, removed and changed (file hash, text hash, metadata) from A to B."""
    from auditor.registry import diff_registries, format_diff

    diff = diff_registries(registry_a, registry_b)
    if as_json:
        click.echo(json.dumps(diff, indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(format_diff(diff)))


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


def _limits(record: str, expanded: str, ratio: int, window: str) -> Any:
    from auditor.limits import Limits, parse_size

    sizes = {}
    for option, value in (
        ("--max-record-size", record),
        ("--max-expanded-size", expanded),
        ("--zstd-max-window", window),
    ):
        try:
            sizes[option] = parse_size(value)
        except ValueError as exc:
            _fail(f"{option}: {exc}")
    return Limits(
        max_record_bytes=sizes["--max-record-size"],
        max_expanded_bytes=sizes["--max-expanded-size"],
        max_ratio=ratio,
        zstd_max_window=sizes["--zstd-max-window"],
    )


def _checkpoints(
    outdir: Path, resume: bool, baseline: Path | None, waivers: Path | None, suppressor: Any
) -> Any:
    """The scan's checkpoint store in OUTDIR; suppression files are part of what it is valid for, and
    so are the waivers expired as of today: a checkpoint's source tally counts what was suppressed on
    the day it was written, so a resume on a day when another waiver has expired must start over."""
    import hashlib

    from auditor.checkpoint import STATE_DIR, CheckpointStore

    extra: dict[str, Any] = {}
    for name, path in (("baseline", baseline), ("waivers", waivers)):
        try:
            extra[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path else None
        except OSError:
            extra[name] = None  # the suppressor has already refused an unreadable file
    if suppressor is not None and suppressor.waivers:
        extra["waivers_expired"] = suppressor.expired_waivers()
    return CheckpointStore(outdir / STATE_DIR, resume=resume, extra=extra)


def _check_outdir(outdir: Path, corpus: Sequence[Path]) -> None:
    """Refuse an output folder that is, or is inside, an input: reports must never overwrite the corpus
    or be read back as corpus by the next scan (report.json and findings.parquet are input formats)."""
    if os.path.lexists(outdir) and not outdir.is_dir():
        _fail(f"output folder {outdir} exists and is not a folder; give a folder for -o")
    out = outdir.resolve()
    for path in corpus:
        given = path.resolve()
        if out == given or (path.is_dir() and out.is_relative_to(given)):
            _fail(
                f"output folder {outdir} is inside the corpus path {path}: its reports would be read as "
                "corpus by the next scan; choose a folder outside the corpus for -o"
            )
        if path.is_file() and given.parent == out and given.name in _output_names():
            _fail(f"corpus file {path} would be overwritten by a report; choose another folder for -o")


def _output_names() -> set[str]:
    from auditor.reporters import REPORTERS

    return {cls.filename for cls in REPORTERS.values()}


def decide_exit_code(result: AuditResult, fail_on: Severity | None, strict: bool) -> int:
    """The contract's exit code for a completed scan."""
    from auditor.spill import count_findings

    if result.records_scanned == 0:
        return EXIT_INCOMPLETE
    if strict and result.skipped:
        return EXIT_INCOMPLETE
    worst = count_findings(result.findings).worst  # a scan's spill answers from its index, unread
    if fail_on is not None and worst is not None and worst >= fail_on:
        return EXIT_FINDINGS
    return EXIT_CLEAN


@cli.command()
@click.argument("corpus", nargs=-1, required=True)
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
    "--baseline",
    type=click.Path(path_type=Path),
    help="report.json of an earlier scan: its findings (each as often as it had them) are suppressed.",
)
@click.option(
    "--waivers",
    type=click.Path(path_type=Path),
    help="YAML waivers file (rule/work/source/record + reason, approver, expiry); see docs/suppressions.md.",
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
@click.option(
    "--max-record-size",
    default="64MiB",
    show_default=True,
    help="Longest record read (JSONL line, CSV row, text file, Parquet/Arrow text); longer ones are skipped.",
)
@click.option(
    "--max-expanded-size",
    default="64GiB",
    show_default=True,
    help="Most bytes one compressed input may expand to; the rest of the file is skipped.",
)
@click.option(
    "--max-compression-ratio",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Most expanded bytes per compressed byte (decompression bombs); the rest is skipped.",
)
@click.option(
    "--zstd-max-window",
    default="128MiB",
    show_default=True,
    help="Largest zstd window decoded (memory per .zst input); frames needing more are skipped.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted scan into the same OUTDIR from its checkpoints (same inputs and config).",
)
@_engine_options
@click.option(
    "--ray-partitions",
    type=click.IntRange(min=1),
    default=None,
    help="Band index partitions (actors) per registry, --engine ray [default: 1 per 50M rows, at least 2].",
)
def scan(
    corpus: tuple[str, ...],
    registries: tuple[Path, ...],
    packs: tuple[Path, ...],
    outdir: Path,
    formats: str,
    fail_on: str,
    min_severity: str,
    use: str,
    baseline: Path | None,
    waivers: Path | None,
    workers: int | None,
    strict: bool,
    quiet: bool,
    text_field: str | None,
    id_field: str | None,
    url_field: str | None,
    license_field: str | None,
    max_record_size: str,
    max_expanded_size: str,
    max_compression_ratio: int,
    zstd_max_window: str,
    resume: bool,
    engine: str,
    ray_address: str | None,
    ray_partitions: int | None,
) -> None:
    """Scan corpus files and folders; write report.json (+ other formats) into OUTDIR.

    With --engine ray, CORPUS may also name URLs that pyarrow reads (s3://, gs://, file://...)."""
    from auditor import engine as engine_module
    from auditor.readers import FieldSpec
    from auditor.registry import open_registries
    from auditor.report import build_report
    from auditor.reporters.outputs import ReportNotWritten, write_reports
    from auditor.rules import load_rule_set
    from auditor.spill import FindingSpill
    from auditor.suppress import load_suppressor

    chosen = _parse_formats(formats)
    threshold: Severity | None
    if fail_on.lower() == "never":
        threshold = None
    else:
        try:
            threshold = Severity.parse(fail_on)
        except ValueError as exc:
            _fail(f"--fail-on: {exc} or never")
    from auditor.ray_engine import is_url

    urls = [c for c in corpus if is_url(c)]
    if urls and engine != "ray":
        _fail(f"corpus URL {urls[0]} is read by the Ray engine only: add --engine ray")
    paths = [Path(c) for c in corpus if not is_url(c)]
    for path in paths:
        if not path.exists():
            what = "is a broken link or a link loop" if os.path.lexists(path) else "does not exist"
            _fail(f"corpus path {path} {what}")
    _check_outdir(outdir, paths)
    limits = _limits(max_record_size, max_expanded_size, max_compression_ratio, zstd_max_window)
    opened = open_registries(list(registries))
    rule_set = load_rule_set(list(packs), use=use)
    suppressor = load_suppressor(baseline, waivers, rule_set)
    options = engine_module.ScanOptions(
        fields=FieldSpec(text=text_field, id=id_field, url=url_field, license=license_field),
        min_severity=Severity.parse(min_severity),
        workers=workers or engine_module.default_workers(),
        limits=limits,
    )
    store = _checkpoints(outdir, resume, baseline, waivers, suppressor)
    line = _ProgressLine(_show_progress(quiet), "scanning")
    with contextlib.ExitStack() as stack:
        ray_engine = None
        if engine == "ray":
            ray_engine = stack.enter_context(_ray_engine(ray_address, ray_partitions))
        try:
            result = engine_module.scan(
                list(corpus),
                opened,
                rule_set,
                options,
                progress=line,
                suppressor=suppressor,
                checkpoints=store,
                engine=ray_engine,
            )
        finally:
            line.close()
    if store.failed:
        click.echo(f"auditor: warning: {store.failed}; a --resume would scan those inputs again", err=True)
    elif resume and not quiet:
        click.echo(f"resumed: {store.restored} input(s) restored from checkpoints", err=True)
    # The findings are in the scan's spill file (in OUTDIR/.auditor-state), which every format is
    # rendered from; it is removed once they are written, or when writing them fails or is interrupted.
    with contextlib.ExitStack() as cleanup:
        if isinstance(result.findings, FindingSpill):
            cleanup.callback(result.findings.close)
        code = decide_exit_code(result, threshold, strict)
        report = build_report(result, command=list(_COMMAND), exit_code=code, rules=rule_set.describe())
        outdir.mkdir(parents=True, exist_ok=True)
        try:
            written = write_reports(outdir, chosen, report)
        except ReportNotWritten as exc:  # a full disk: the previous file is intact, the run is not complete
            reason = exc.error.strerror or exc.error
            _fail(
                f"cannot write {exc.path}: {reason}; any previous {exc.path.name} is unchanged", EXIT_INTERNAL
            )
        if not quiet:
            _print_summary(report, written, threshold)
    raise _Exit("", code)


def _print_summary(report: dict[str, Any], written: Sequence[Path], threshold: Severity | None) -> None:
    from auditor.reporters.text import one_line, visible

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
                f"  riskiest source: {visible(one_line(src['key']))} — {src['flagged']}/{src['records']} "
                "records flagged, "
                f"max {src['max_severity']}, risk {src['risk']:.2f}",
                err=True,
            )
    for item in report["skipped"][:5]:
        where = f"{item['input']}:{item['row']}" if item["row"] is not None else item["input"]
        click.echo(f"  skipped {visible(one_line(where))}: {visible(one_line(item['reason']))}", err=True)
    if len(report["skipped"]) > 5:
        click.echo(f"  … and {len(report['skipped']) - 5} more skipped (see report.json)", err=True)
    hidden = summary.get("suppressed") or {}
    if hidden.get("baseline") or hidden.get("waiver"):
        click.echo(
            f"  suppressed (kept in the report, not counted): {hidden.get('baseline', 0)} by the baseline, "
            f"{hidden.get('waiver', 0)} by waivers",
            err=True,
        )
    for note in report.get("notifications", []):
        click.echo(f"  {note['level']}: {note['where']}: {note['message']}", err=True)
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


# --------------------------------------------------------------------------------------------- filter


@cli.command("filter")
@click.argument("corpus", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--findings",
    "findings",
    required=True,
    type=click.Path(path_type=Path),
    help="report.json of a scan of the same CORPUS paths.",
)
@click.option(
    "--min-severity",
    default="high",
    show_default=True,
    type=_SEVERITY_CHOICE,
    help="Remove records with an unsuppressed finding at or above this severity.",
)
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="New or empty folder for the cleaned corpus and filter-manifest.json.",
)
@click.option("--quiet", is_flag=True, help="No summary on stderr.")
def filter_cmd(corpus: tuple[Path, ...], findings: Path, min_severity: str, out: Path, quiet: bool) -> None:
    """Write CORPUS minus the records report.json flags, in each input's own format."""
    from auditor.filter import filter_corpus, read_findings

    for path in corpus:
        if not path.exists():
            _fail(f"corpus path {path} does not exist")
    report = read_findings(findings)
    result = filter_corpus(
        list(corpus), report, out, min_severity=Severity.parse(min_severity), findings_path=findings
    )
    if not quiet:
        click.echo(
            f"filtered {len(result.inputs)} inputs at {result.min_severity.label} or above: "
            f"{result.read:,} rows read, {result.kept:,} kept, {result.removed:,} removed; "
            f"wrote {out} and {result.manifest}",
            err=True,
        )


# --------------------------------------------------------------------------------------------- rules


@cli.group("rules")
def rules_group() -> None:
    """List and check rule packs."""


@rules_group.command("list")
@click.argument("packs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--use", type=click.Choice(["commercial", "research"]), default="commercial")
@click.option("--json", "as_json", is_flag=True, help="Print packs, active and disabled rules as JSON.")
def rules_list(packs: tuple[Path, ...], use: str, as_json: bool) -> None:
    """Show what a scan would use: packs, active rules and disabled rules (bundled packs plus PACKs)."""
    from auditor.rules import load_rule_set

    rule_set = load_rule_set(list(packs), use=use)
    if as_json:
        click.echo(json.dumps(rule_set.listing(), indent=2))
    else:
        click.echo("\n".join(rule_set.listing_lines()))


@rules_group.command("check")
@click.argument("packs", nargs=-1, required=True, type=click.Path(path_type=Path))
def rules_check(packs: tuple[Path, ...]) -> None:
    """Validate PACKs with the bundled packs; print each problem as file:line: message (fix); exit 2."""
    from auditor.rules import load_rule_set

    rule_set = load_rule_set(list(packs))
    click.echo(
        f"ok: {len(packs)} pack(s) checked; {len(rule_set.rules)} rules active, "
        f"{len(rule_set.disabled)} disabled",
        err=True,
    )


@rules_group.command("schema")
@click.option("--waivers", is_flag=True, help="The schema of a --waivers file instead of a rule pack.")
def rules_schema(waivers: bool) -> None:
    """Print the JSON Schema of rule packs (or of waiver files), e.g. for an editor's YAML support."""
    from auditor.rules.schema import schema_text

    click.echo(schema_text("waivers" if waivers else "pack"), nl=False)


# --------------------------------------------------------------------------------------------- entry


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that worker pools and the Parquet sandbox are stopped on the way out."""


SHUTDOWN_GRACE_SECONDS = 15.0
"""After Ctrl-C or SIGTERM, how long shutting down worker pools may take before the process exits anyway."""


def _arm_watchdog(code: int) -> None:
    # Stopping a multiprocessing pool can deadlock on rare timings (a worker ended while holding a
    # queue lock). An interrupt must always end the run: if the orderly shutdown has not finished in
    # time, say so and exit with the interrupt's code. Completed inputs are already checkpointed.
    def expire() -> None:
        with contextlib.suppress(Exception):
            sys.stderr.write(f"\nauditor: interrupted; shutdown took too long, exiting now{_resume_hint()}\n")
            sys.stderr.flush()
        os._exit(code)

    timer = threading.Timer(SHUTDOWN_GRACE_SECONDS, expire)
    timer.daemon = True
    timer.start()


_SIGNALLED: list[int] = []
"""The exit code of each Ctrl-C or SIGTERM this run received (main() clears it)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    _SIGNALLED.append(EXIT_TERMINATED)
    _arm_watchdog(EXIT_TERMINATED)
    raise _Terminated


def _on_sigint(signum: int, frame: Any) -> None:
    _SIGNALLED.append(EXIT_INTERRUPTED)
    _arm_watchdog(EXIT_INTERRUPTED)
    raise KeyboardInterrupt


_COMMAND: list[str] = ["auditor"]
"""The command line as run, for the report's chain of custody (main() sets it)."""


def _resume_hint() -> str:
    """What to do after an interrupt: only a scan checkpoints its inputs and can resume."""
    if _COMMAND[1:2] != ["scan"]:
        return ""
    return "; inputs completed so far are checkpointed: rerun the same scan with --resume to continue"


def _stopped(terminated: bool) -> int:
    """Say that the run was interrupted (Ctrl-C) or terminated (SIGTERM); its exit code."""
    click.echo(f"auditor: {'terminated' if terminated else 'interrupted'}{_resume_hint()}", err=True)
    return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the CLI and exit with the contract's codes, whatever happens."""
    _COMMAND[:] = ["auditor", *(list(argv) if argv is not None else sys.argv[1:])]
    _SIGNALLED.clear()
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        previous_int = signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # not the main thread: leave signals alone
        previous = previous_int = None
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
    except (click.Abort, KeyboardInterrupt) as exc:
        # Click turns Ctrl-C (and our SIGTERM) into Abort, keeping the original as the cause.
        code = _stopped(isinstance(exc, _Terminated) or isinstance(exc.__cause__, _Terminated))
    except AuditorError as exc:
        click.echo(f"auditor: error: {exc}", err=True)
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = EXIT_USAGE
    except SystemExit as exc:
        # Click exits 1 (the code for findings) when a pipe closes; never let that pass as a verdict.
        if not isinstance(exc.__context__, BrokenPipeError):
            raise
        code = EXIT_BROKEN_PIPE
    except (BrokenPipeError, _PipeClosed):
        # The reader of our output went away (| head): never report that as clean or as findings.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_BROKEN_PIPE
    except Exception as exc:
        if _SIGNALLED:
            # Ctrl-C or SIGTERM that a library turned into an error of its own: numba, interrupted
            # while its extension modules load, raises "ImportError: numba._devicearray failed to
            # import". The run was interrupted, not broken.
            code = _stopped(_SIGNALLED[0] == EXIT_TERMINATED)
        else:  # a crash is never reported as clean or as findings
            click.echo(f"auditor: internal error: {type(exc).__name__}: {exc}", err=True)
            click.echo("".join(traceback.format_exception(exc)), err=True)
            code = EXIT_INTERNAL
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if previous_int is not None:
            signal.signal(signal.SIGINT, previous_int)
    sys.exit(code)


if __name__ == "__main__":
    main()
