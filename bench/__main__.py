"""`python -m bench` (and `make bench`): options, the order of the sections, and where the report goes.

Exit status: 0 when every server started and every run was free of errors (targets may still be
missed: they are flagged in the report), 1 when some run had errors, 2 when a prerequisite is missing.
"""

from __future__ import annotations

import argparse
import sys

from bench import gate, scenarios, soak
from bench.common import CACHE_DIR, LOG_DIR, REPORT_DIR, MissingPrerequisite, capture, load_average, say
from bench.load import WrkSettings, ensure_wrk
from bench.processes import install_cleanup
from bench.report import as_json, evaluate, markdown, problem_list, write
from bench.scenarios import Bench, Results
from bench.targets import ensure_prism

SECTIONS = ("mock", "prism", "list", "startup", "soak", "gate")


def build_parser() -> argparse.ArgumentParser:
    defaults = WrkSettings()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Throughput and latency of the LeadVibe mock beside Prism (same openapi.yaml), list latency "
        "with 100,000 leads, and start-up time and memory. Prism and the large seed are set up on first use in "
        "bench/.cache/. Writes reports/bench.md and reports/bench.json and prints the markdown report.",
        epilog="Sections: mock and prism = GET /lead/ld_123, PUT /lead/ld_123 and GET /leads on each side; "
        "list = GET /leads with the shipped seed and with 100,000 leads; startup = launch-to-ready time and "
        "memory; soak = minutes of mixed traffic; gate = leadvibe-contracts with and without 150 ms latency. "
        "Exit status 1 when a run had errors or a server failed, 2 when a prerequisite is missing.",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=defaults.duration_s,
        metavar="SECONDS",
        help=f"length of each measured wrk run (default {defaults.duration_s:g})",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=defaults.warmup_s,
        metavar="SECONDS",
        help=f"length of the discarded wrk run before each measured one (default {defaults.warmup_s:g}; 0: none)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=defaults.connections,
        metavar="N",
        help=f"wrk's open connections (default {defaults.connections}; wrk uses {defaults.threads} thread)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=defaults.repeat,
        metavar="N",
        help="measure each request N times and report the run with the median req/s, with the range "
        f"(default {defaults.repeat}; 3 when numbers vary between runs, at about twice the time)",
    )
    parser.add_argument(
        "--soak-seconds",
        type=float,
        default=180.0,
        metavar="SECONDS",
        help="length of the soak section (default 180; its memory and latency are reported every 15 s)",
    )
    parser.add_argument(
        "--gate-examples",
        type=int,
        default=3,
        metavar="N",
        help="LEADVIBE_MAX_EXAMPLES of the gate section's runs (default 3: four runs of a few minutes each)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section; repeat for several (default: all)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.connections < 1 or args.repeat < 1:
        build_parser().error("--duration must be positive, --warmup not negative, --connections and --repeat >= 1")
    install_cleanup()
    try:
        settings = WrkSettings(
            duration_s=args.duration, warmup_s=args.warmup, connections=args.connections, repeat=args.repeat
        )
        return run(set(args.only or SECTIONS), settings, args.soak_seconds, args.gate_examples)
    except MissingPrerequisite as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        say("interrupted; every server it started has been stopped")
        return 130


def run(sections: set[str], settings: WrkSettings, soak_seconds: float = 180.0, gate_examples: int = 3) -> int:
    """Run `sections` in order, one server at a time, then write and print the report."""
    failed = 0
    if "gate" in sections:
        runs = gate.gate_runs(gate_examples, LOG_DIR)
        gated = gate.markdown(runs, gate_examples)
        write(REPORT_DIR / "gate.md", gated)
        print(gated, end="")
        failed = int(any(run.exit_code != 0 for run in runs))
        sections = sections - {"gate"}
        if not sections:
            return failed
    if "soak" in sections:
        interval = min(15.0, soak_seconds / 4)
        say(f"soak: {soak_seconds:g} s of mixed traffic")
        soaked = soak.markdown(soak.soak(soak_seconds, interval, LOG_DIR), interval)
        write(REPORT_DIR / "soak.md", soaked)
        print(soaked, end="")
        sections = sections - {"soak"}
        if not sections:
            return failed
    wrk = ensure_wrk() if sections - {"startup"} else None
    prism = ensure_prism() if "prism" in sections else None
    bench = Bench(settings, LOG_DIR, CACHE_DIR / "wrk")
    bench.script_dir.mkdir(parents=True, exist_ok=True)
    results = Results(settings, capture(wrk, prism))
    say(f"server logs in {LOG_DIR}")
    if "mock" in sections:
        results.versus.append(scenarios.versus_mock(bench))
    if prism is not None:
        results.versus.append(scenarios.versus_prism(bench, prism))
    if "list" in sections:
        results.lists = scenarios.list_flatness(bench)
    if "startup" in sections:
        results.startup = scenarios.startup(bench, scenarios.find_server(results.lists, scenarios.LARGE_SEED))
    results.environment.load_after = load_average()
    verdicts = evaluate(results)
    report = markdown(results, verdicts)
    write(REPORT_DIR / "bench.md", report)
    write(REPORT_DIR / "bench.json", as_json(results, verdicts))
    print(report, end="")
    problems = problem_list(results)
    if problems:
        say(f"ERRORS in {len(problems)} place(s); see the report's ERRORS section")
    say(f"wrote {REPORT_DIR / 'bench.md'} and {REPORT_DIR / 'bench.json'}")
    return 1 if problems or failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
