"""The protocol's numbers and the report of bench/compare_rl.py: the training curve and
its solved step, the per-(env, method) summary over seeds, the table and issue 13's
targets, each computed from the children's JSON alone (tested on fabricated runs)."""

from __future__ import annotations

import datetime
import json
import math
import os
import statistics

import numpy as np

#: env -> its budget of environment steps and the mean return that counts as solved.
ENVS = {"CartPole-v1": dict(budget=100_000, solved=475.0),
        "Acrobot-v1": dict(budget=100_000, solved=-90.0),
        "Pendulum-v1": dict(budget=200_000, solved=-200.0)}
ANCHOR = "sb3-contrib TRPO"  # the denominator of the speed ratio
WINDOW = 10  # training episodes in the curve's running mean
BUSY = 0.05  # a run during which other processes used more of the CPUs was disturbed


def running_mean(episodes, window=WINDOW):
    """[(steps, mean return of the last ``window`` finished episodes)], from the
    ``window``-th episode on."""
    returns = np.array([r for _, r in episodes], dtype=float)
    if len(returns) < window:
        return []
    # sums over window, then divided: ten returns of 475 average to exactly 475
    means = np.convolve(returns, np.ones(window), mode="valid") / window
    return [(episodes[i + window - 1][0], float(m)) for i, m in enumerate(means)]


def solved_at(episodes, threshold, window=WINDOW):
    """The environment steps at which the training curve first reaches ``threshold``,
    else None."""
    return next((s for s, m in running_mean(episodes, window) if m >= threshold), None)


def ngdx_health(run):
    """(largest measured KL / max_kl or None, non-finite value seen, failed updates)."""
    history = run.get("history")
    if history is None:
        return None, False, 0
    failed = np.asarray(history.get("failed", [0.0] * len(history["timesteps"])), float) > 0
    nonfinite = not math.isfinite(run["eval_mean"])
    for key, values in history.items():
        if key != "mean_return":  # NaN there means no episode ended in the batch
            nonfinite |= bool(np.any(~np.isfinite(np.asarray(values, float)) & ~failed))
    kl = np.asarray(history.get("kl", []), float)
    ratio = (float(np.nanmax(kl)) / run["max_kl"] if run.get("max_kl") and np.isfinite(kl).any()
             else None)
    return ratio, nonfinite, int(failed.sum())


def summarize(runs, threshold):
    """One (env, method)'s numbers over its seeds: ``runs`` the children's dicts (an
    "error" key when one failed)."""
    ok = [r for r in runs if "error" not in r]
    out = dict(seeds=len(runs), errors=[r["error"] for r in runs if "error" in r])
    if not ok:
        return out
    evals = [r["eval_mean"] for r in ok]
    times = [r["time"] for r in ok]
    health = [ngdx_health(r) for r in ok]
    ratios = [h[0] for h in health if h[0] is not None]
    out.update(
        eval_mean=float(np.mean(evals)), eval_std=float(np.std(evals)), evals=evals,
        solved=[solved_at(r["episodes"], threshold) for r in ok],
        time_median=statistics.median(times), time_min=min(times), time_max=max(times),
        per_1e5=statistics.median(r["time"] / r["steps"] * 1e5 for r in ok),
        kl_ratio=max(ratios) if ratios else None,
        nonfinite=any(h[1] for h in health), failed=sum(h[2] for h in health),
        foreign=max(r.get("foreign", 0.0) for r in ok),
        is_ngdx="history" in ok[0])
    return out


def steps_text(steps):
    return "-" if steps is None else f"{steps / 1000:.1f}k"


def table(env_id, summaries, budget):
    """The markdown lines of one env's table; ``summaries``: method -> ``summarize`` or
    {"skipped": reason}."""
    anchor = summaries.get(ANCHOR, {}).get("per_1e5")
    lines = [f"### {env_id} (solved: {ENVS[env_id]['solved']:g}; {budget:,} steps)", "",
             "| method | eval return (mean ± std over seeds) | solved at (per seed) | "
             "wall time s (median [min, max]) | s per 1e5 steps | x sb3-contrib TRPO | "
             "max KL / max_kl | non-finite (failed updates) |",
             "|---|---|---|---|---|---|---|---|"]
    for method, s in summaries.items():
        if "skipped" in s:
            lines.append(f"| {method} | {s['skipped']} | | | | | | |")
            continue
        if "eval_mean" not in s:
            lines.append(f"| {method} | error: {s['errors'][0]} | | | | | | |")
            continue
        errors = f" ({len(s['errors'])} of {s['seeds']} seeds failed)" if s["errors"] else ""
        ratio = (f"{anchor / s['per_1e5']:.2f}" if anchor and s["is_ngdx"] else "-")
        kl = "-" if s["kl_ratio"] is None else f"{s['kl_ratio']:.2f}"
        health = (f"{'yes' if s['nonfinite'] else 'no'} ({s['failed']})" if s["is_ngdx"]
                  else "-")
        lines.append(
            f"| {method} | {s['eval_mean']:.1f} ± {s['eval_std']:.1f}{errors} | "
            f"{', '.join(steps_text(x) for x in s['solved'])} | {s['time_median']:.1f} "
            f"[{s['time_min']:.1f}, {s['time_max']:.1f}] | {s['per_1e5']:.1f} | {ratio} | "
            f"{kl} | {health} |")
    busy = {m: s["foreign"] for m, s in summaries.items() if s.get("foreign", 0.0) > BUSY}
    if busy:
        lines += ["", "Disturbed (other processes used this share of the CPUs during a run; "
                  "do not quote its times): " + ", ".join(f"{m} {f:.0%}" for m, f in busy.items())
                  + "."]
    return lines


def verdict(ok):
    return "**met**" if ok else "**not met**"


def targets(results, method="ngdx TRPO"):
    """Issue 13's targets, each with met / not met from ``results`` (env -> method ->
    ``summarize``), judged on ``method``."""
    lines = ["", f"Targets (issue 13), judged on {method}:", ""]
    for env_id, spec in ENVS.items():
        s = results.get(env_id, {}).get(method, {})
        goal = f"{env_id}: evaluation return ≥ {spec['solved']:g} within {spec['budget']:,} steps"
        if "eval_mean" not in s:
            lines.append(f"- {goal}: not run.")
            continue
        short = s["budget"] < spec["budget"]
        note = f" (this run: {s['budget']:,} steps)" if short else ""
        hits = sum(e >= spec["solved"] for e in s["evals"])
        if env_id == "CartPole-v1":  # "in 5 of 5 seeds"
            ok = hits == s["seeds"] == 5
            lines.append(f"- {goal} in 5 of 5 seeds: {hits} of {s['seeds']} seeds{note} — "
                         f"{verdict(ok)}.")
        else:
            ok = s["eval_mean"] >= spec["solved"] and not s["errors"]
            lines.append(f"- {goal} (mean over seeds): {s['eval_mean']:.1f}, {hits} of "
                         f"{s['seeds']} seeds{note} — {verdict(ok)}.")
    for env_id, rows in results.items():
        s, a = rows.get(method, {}), rows.get(ANCHOR, {})
        if "per_1e5" not in s or "per_1e5" not in a:
            lines.append(f"- {env_id}: ≥ 3x faster per 1e5 steps than {ANCHOR} at equal or "
                         f"better return: not run.")
            continue
        ratio = a["per_1e5"] / s["per_1e5"]
        solved = ENVS[env_id]["solved"]
        better = s["eval_mean"] >= a["eval_mean"] or min(s["eval_mean"], a["eval_mean"]) >= solved
        disturbed = max(s.get("foreign", 0.0), a.get("foreign", 0.0)) > BUSY
        lines.append(f"- {env_id}: ≥ 3x faster per 1e5 steps than {ANCHOR} at equal or better "
                     f"return: {ratio:.2f}x, return {s['eval_mean']:.1f} vs {a['eval_mean']:.1f}"
                     " — " + ("not judged (times disturbed by other processes)" if disturbed
                              else verdict(ratio >= 3 and better)) + ".")
    ngdx = [s for rows in results.values() for m, s in rows.items()
            if m.startswith("ngdx") and "eval_mean" in s]
    worst = max((s["kl_ratio"] for s in ngdx if s["kl_ratio"] is not None), default=None)
    bad = any(s["nonfinite"] for s in ngdx)
    kl = "no KL measured" if worst is None else f"largest KL / max_kl {worst:.2f}"
    lines.append(f"- No ngdx run produces a NaN or a KL over 1.5 x max_kl: "
                 f"{'a non-finite value' if bad else 'no non-finite value'}, {kl} over "
                 f"{sum(len(s['evals']) for s in ngdx)} runs — "
                 f"{verdict(bool(ngdx) and not bad and (worst is None or worst <= 1.5))}.")
    return lines


def save_curves(raw, name, points=200):
    """The training curves (steps, running mean return), at most ``points`` per run, to
    bench/results/DATE-name-curves.json."""
    curves = {}
    for key, runs in raw.items():
        curves[key] = []
        for r in runs:
            curve = running_mean(r.get("episodes", []))
            keep = np.unique(np.linspace(0, len(curve) - 1, min(points, len(curve))).astype(int))
            curves[key].append([curve[i] for i in keep] if curve else [])
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                        f"{datetime.date.today()}-{name}-curves.json")
    with open(path, "w") as fh:
        json.dump(curves, fh)
