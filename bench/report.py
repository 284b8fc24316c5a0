"""The results table printed and written to bench/RESULTS.md."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform

from bench.harness import CONNECTIONS, DURATION, GUNICORN_WORKERS, ROUNDS


def fmt(value, digits=1):
    return "—" if value is None else f"{value:,.{digits}f}"


def render(results: dict, rows: list, elapsed: float) -> str:
    lines = [
        "# AIPROD benchmark results",
        "",
        f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node()}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, gunicorn {GUNICORN_WORKERS} sync workers, wrk {CONNECTIONS} connections, "
        f"{DURATION} s per run, the two sides of each ratio alternated {ROUNDS} times (medians), "
        f"PostgreSQL + Redis local. Whole run {elapsed:.0f} s.",
        "",
        "| scenario | req/s | p50 ms | p99 ms | errors | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r, ratio in rows:
        lines.append(
            f"| {name} | {fmt(r['rps'])} | {fmt(r['p50_ms'], 2)} | {fmt(r['p99_ms'], 2)} | {r['errors']} | "
            f"{'' if ratio is None else f'{ratio:.2f}×'} |"
        )
    lines += [
        "",
        "Ratios: GET /jobs/{id} ÷ bare SELECT view (target ≥ 0.6); POST /jobs ÷ bare INSERT view; "
        "1M-job list ÷ 1k-job list (target ≥ 0.67, i.e. 1M within 1.5× of 1k).",
        "",
        "| pipeline / delivery | figure |",
        "| --- | ---: |",
    ]
    p = results.get("pipeline", {})
    lines += [
        f"| media.probe jobs through 2 workers | {fmt(p.get('jobs_per_s'))} jobs/s ({p.get('completed')} completed, {p.get('failed')} failed of {p.get('jobs')}) |",
        f"| median processing time per job | {fmt(p.get('median_processing_s'), 3)} s |",
        f"| median create → completed, idle worker | {fmt(p.get('idle_median_create_to_completed_s'), 3)} s |",
    ]
    p1 = results.get("pipeline_1_worker", {})
    lines.append(
        f"| media.probe jobs through 1 worker | {fmt(p1.get('jobs_per_s'))} jobs/s ({p1.get('completed')} completed, {p1.get('failed')} failed of {p1.get('jobs')}) |"
    )
    w = results.get("webhooks", {})
    lines += [
        f"| webhook deliveries, 1 worker | {fmt(w.get('deliveries_per_s'))} /s ({w.get('delivered')} delivered) |",
        f"| median event → receipt, during the 1,000-event burst (queueing included) | {fmt(w.get('median_latency_s'), 3)} s |",
        f"| median job completed → job.completed received, idle | {fmt(results.get('job_event_latency', {}).get('median_s'), 3)} s |",
    ]
    for key, where in (("stream", ""), ("stream_s3", ", S3 multipart")):
        for mode, s in results.get(key, {}).items():
            if not isinstance(s, dict):
                continue
            lines += [
                f"| /jobs/stream 1 GiB upload ({mode}{where}) | {fmt(s.get('mb_per_s'))} MB/s |",
                f"| gunicorn worker peak RSS growth, {mode} upload{where} | {fmt(s.get('peak_rss_growth_mib'))} MiB (target ≤ 32) |",
            ]
    lines += [
        "",
        "Raw figures:",
        "",
        "```json",
        json.dumps(results, indent=1, default=str),
        "```",
        "",
    ]
    return "\n".join(lines)

