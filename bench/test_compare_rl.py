"""bench/compare_rl.py's and _rl_report.py's pure parts: the hyperparameters, the solved
step, the table and the targets from fabricated runs, and "not installed" rows. No
training here.

    python -m pytest bench/test_compare_rl.py --benchmark-disable
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip("gymnasium")

import _rl_report as report  # noqa: E402
import compare_rl  # noqa: E402


def run(evals=500.0, time=10.0, steps=100_000, episodes=None, kl=None, failed=None,
        max_kl=0.01):
    """A child's answer: episodes of return 500 from step 20k on unless given."""
    if episodes is None:
        episodes = [(1000 * i, 20.0 if i < 20 else 500.0) for i in range(1, 101)]
    out = dict(time=time, steps=steps, episodes=episodes, eval_mean=evals)
    if kl is not None:
        n = len(kl)
        out.update(max_kl=max_kl, history=dict(
            timesteps=[1024.0 * (i + 1) for i in range(n)], mean_return=[math.nan] * n,
            kl=kl, surrogate_gain=[0.1] * n, line_search_steps=[0.0] * n,
            time=[0.1 * i for i in range(n)], failed=failed or [0.0] * n))
    return out


def summaries(ngdx_time=2.0, anchor_time=10.0, ngdx_eval=500.0, anchor_eval=500.0,
              kl=(0.005, 0.012), seeds=5, env_id="CartPole-v1"):
    solved = report.ENVS[env_id]["solved"]
    budget = report.ENVS[env_id]["budget"]
    ngdx = [run(ngdx_eval, ngdx_time, kl=list(kl)) for _ in range(seeds)]
    anchor = [run(anchor_eval, anchor_time) for _ in range(seeds)]
    return {"ngdx TRPO": dict(report.summarize(ngdx, solved), budget=budget),
            "sb3-contrib TRPO": dict(report.summarize(anchor, solved), budget=budget),
            "sb3 PPO": {"skipped": "not installed (stable_baselines3)"}}


def cells(lines, method):
    row = next(line for line in lines if line.startswith(f"| {method} |"))
    return [c.strip() for c in row.strip("|").split("|")][1:]


# ---------------------------------------------------------------------- hyperparameters
def test_every_sb3_method_has_the_zoo_hyperparameters_of_every_env():
    for env_id in report.ENVS:
        assert env_id in compare_rl.NGDX
        for method in compare_rl.METHODS:
            if not method.startswith("ngdx"):
                assert (env_id, method) in compare_rl.ZOO, (env_id, method)
    assert len(compare_rl.ZOO) == 3 * 3


def test_zoo_kwargs_take_out_the_env_settings_and_make_schedules():
    n_envs, normalize, kwargs = compare_rl.zoo_kwargs("CartPole-v1", "sb3 PPO")
    assert (n_envs, normalize) == (8, False)
    assert kwargs["learning_rate"](1.0) == pytest.approx(1e-3)
    assert kwargs["learning_rate"](0.5) == pytest.approx(5e-4)
    assert kwargs["clip_range"](0.25) == pytest.approx(0.05)
    assert "n_envs" not in kwargs and "normalize" not in kwargs
    assert compare_rl.zoo_kwargs("Acrobot-v1", "sb3-contrib TRPO") == (
        2, True, dict(n_steps=1024))
    assert "n_envs" in compare_rl.ZOO[("CartPole-v1", "sb3 PPO")]  # the dict is not changed


def test_ngdx_runs_the_zoos_cartpole_trpo_batch():
    zoo = compare_rl.ZOO[("CartPole-v1", "sb3-contrib TRPO")]
    ours = compare_rl.NGDX["CartPole-v1"]
    for key in ("n_envs", "n_steps", "gamma", "gae_lambda"):
        assert ours[key] == zoo[key]
    assert ours["n_envs"] * ours["n_steps"] == 1024


# ---------------------------------------------------------------------- the curve
def test_solved_at_is_the_first_step_where_the_last_ten_episodes_reach_the_threshold():
    episodes = [(100 * i, 0.0) for i in range(1, 10)] + [(100 * i, 500.0)
                                                        for i in range(10, 30)]
    # episodes 10..19 are 500: the mean of the last ten is 500 at episode 19 (step 1900),
    # 9 x 500 / 10 = 450 just before it
    assert report.solved_at(episodes, 475.0) == 1900
    assert report.solved_at(episodes, 450.0) == 1800
    assert report.solved_at(episodes, 501.0) is None
    assert report.solved_at(episodes[:9], 0.0) is None  # fewer than ten episodes
    assert report.solved_at([(5, -80.0)] * 10, -90.0) == 5  # negative thresholds
    assert report.solved_at([(7, 475.0)] * 10, 475.0) == 7  # exactly at it


def test_running_mean_starts_at_the_tenth_episode():
    episodes = [(10 * i, float(i)) for i in range(1, 13)]
    curve = report.running_mean(episodes)
    assert curve == [(100, 5.5), (110, 6.5), (120, 7.5)]


def test_ngdx_health_ignores_failed_updates_and_empty_batches():
    r = run(kl=[0.004, math.nan, 0.0149], failed=[0.0, 1.0, 0.0])
    ratio, nonfinite, failed = report.ngdx_health(r)
    assert ratio == pytest.approx(1.49) and not nonfinite and failed == 1
    r["history"]["surrogate_gain"][0] = math.inf  # not in a failed update
    assert report.ngdx_health(r)[1]
    assert report.ngdx_health(run(evals=math.nan, kl=[0.001]))[1]
    assert report.ngdx_health(run()) == (None, False, 0)  # an sb3 run


# ---------------------------------------------------------------------- the report
def test_table_reports_return_solved_steps_times_and_the_speed_ratio():
    lines = report.table("CartPole-v1", summaries(), 100_000)
    assert lines[0].startswith("### CartPole-v1 (solved: 475; 100,000 steps)")
    ngdx = cells(lines, "ngdx TRPO")
    assert ngdx[0] == "500.0 ± 0.0"
    assert ngdx[1] == ", ".join(["29.0k"] * 5)  # the 10th episode of 500 ends at 29k steps
    assert ngdx[2] == "2.0 [2.0, 2.0]" and ngdx[3] == "2.0"
    assert ngdx[4] == "5.00" and ngdx[5] == "1.20" and ngdx[6] == "no (0)"
    anchor = cells(lines, "sb3-contrib TRPO")
    assert anchor[4] == "-" and anchor[5] == "-" and anchor[6] == "-"
    assert cells(lines, "sb3 PPO")[0] == "not installed (stable_baselines3)"


def test_runs_disturbed_by_other_processes_are_named():
    s = summaries()
    assert not any("Disturbed" in line for line in report.table("CartPole-v1", s, 1))
    s["sb3-contrib TRPO"]["foreign"] = 0.4
    assert report.table("CartPole-v1", s, 1)[-1].endswith(": sb3-contrib TRPO 40%.")


def test_a_failed_seed_is_counted_and_an_all_failed_method_shows_its_error():
    s = report.summarize([run(), {"error": "boom"}], 475.0)
    lines = report.table("CartPole-v1", {"sb3 A2C": s, "sb3 PPO": report.summarize(
        [{"error": "timeout after 9 s"}], 475.0)}, 100_000)
    assert "(1 of 2 seeds failed)" in cells(lines, "sb3 A2C")[0]
    assert cells(lines, "sb3 PPO")[0] == "error: timeout after 9 s"


def test_targets_are_met_from_the_numbers():
    results = {"CartPole-v1": summaries()}
    text = "\n".join(report.targets(results))
    assert "5 of 5 seeds — **met**" in text
    assert "5.00x, return 500.0 vs 500.0 — **met**" in text
    assert "largest KL / max_kl 1.20 over 5 runs — **met**" in text
    assert "Acrobot-v1: evaluation return ≥ -90 within 100,000 steps: not run." in text


def test_targets_not_met_when_slower_worse_or_over_the_kl_bound():
    slow = "\n".join(report.targets({"CartPole-v1": summaries(ngdx_time=5.0)}))
    assert "2.00x" in slow and "**not met**" in slow
    worse = "\n".join(report.targets({"CartPole-v1": summaries(ngdx_eval=400.0,
                                                                    anchor_eval=450.0)}))
    assert "0 of 5 seeds — **not met**" in worse
    assert "5.00x, return 400.0 vs 450.0 — **not met**" in worse
    kl = "\n".join(report.targets({"CartPole-v1": summaries(kl=(0.02,))}))
    assert "largest KL / max_kl 2.00 over 5 runs — **not met**" in kl


def test_the_speed_target_is_not_judged_on_disturbed_times():
    s = summaries()
    s["ngdx TRPO"]["foreign"] = 0.5
    text = "\n".join(report.targets({"CartPole-v1": s}))
    assert "5.00x, return 500.0 vs 500.0 — not judged (times disturbed by other processes)." in text


def test_targets_of_acrobot_use_the_mean_over_seeds_and_say_a_short_budget():
    s = summaries(env_id="Acrobot-v1", ngdx_eval=-85.0, anchor_eval=-100.0)
    s["ngdx TRPO"]["budget"] = 10_000
    text = "\n".join(report.targets({"Acrobot-v1": s}))
    assert ("Acrobot-v1: evaluation return ≥ -90 within 100,000 steps (mean over seeds): "
            "-85.0, 5 of 5 seeds (this run: 10,000 steps) — **met**") in text
    assert "return -85.0 vs -100.0 — **met**" in text


def test_a_missing_library_skips_its_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(compare_rl, "missing", lambda method: "sb3_contrib")
    out = tmp_path / "report.md"
    assert compare_rl.main(["--quick", "--out", str(out)]) == 0
    report = out.read_text()
    for method in compare_rl.METHODS:
        assert cells(report.splitlines(), method)[0] == "not installed (sb3_contrib)"
    assert "not run" in report


# ---------------------------------------------------------------------- the child's parts
def test_the_episode_log_counts_steps_and_returns_over_every_copy():
    log = compare_rl.EpisodeLog()
    make = log.factory("CartPole-v1")
    lengths = []
    for seed in (0, 1):  # two copies, one episode each
        env, done = make(), False
        env.reset(seed=seed)
        lengths.append(0)
        while not done:
            _, _, terminated, truncated, _ = env.step(0)
            lengths[-1] += 1
            done = terminated or truncated
    snap = log.snapshot()
    assert snap["steps"] == sum(lengths)
    # CartPole pays 1 a step: an episode's return is its length
    assert sorted(r for _, r in snap["episodes"]) == sorted(float(n) for n in lengths)
    assert [s for s, _ in snap["episodes"]] == [lengths[0], sum(lengths)]


def test_play_seeds_episodes_as_ngdx_evaluate_does():
    """The evaluation protocol is the same for every library: ngdx's evaluate(seed=1000 +
    seed) and play(seed) give the same returns for the same policy."""
    ngdx_rl = pytest.importorskip("ngdx.rl")
    agent = ngdx_rl.TRPO("CartPole-v1", policy="linear", n_steps=256, value_fn="linear",
                         seed=0).learn(512)  # a policy that looks at the state
    mean, _ = agent.evaluate(n_episodes=compare_rl.EVAL_EPISODES, seed=1000 + 3)
    assert compare_rl.play("CartPole-v1", agent.predict, 3) == mean
