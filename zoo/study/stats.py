"""A study's numbers: accuracy over seeds per benchmark setting, the bootstrap over seeds and
images between arms with Holm's verdicts, and the one-row-per-arm summary."""
from __future__ import annotations

import statistics

import numpy as np

from zoo.study.config import BenchmarkSpec, Study, benchmark_key, resolved


def paired_bootstrap(a: np.ndarray, b: np.ndarray, resamples: int, seed: int = 0) -> dict:
    """Bootstrap of the difference in accuracy between two models over both sources of chance.

    ``a``/``b`` are (seeds, images) 0/1 arrays of two models on the same images. Each draw resamples
    the test images (once, the same images for both models: paired) and each model's seeds
    (independently: seed i of A is no more related to seed i of B than to seed j), so a model whose
    result depends on its seed cannot win on the test images alone. With one seed per model this is
    the paired bootstrap over images. p: two-sided, (count + 1) / (resamples + 1), never 0.
    """
    rng = np.random.default_rng(seed)
    images = a.shape[1]
    counts = rng.multinomial(images, np.full(images, 1 / images), size=resamples)  # images drawn, per draw
    draws = np.arange(resamples)[:, None]

    def accuracy(x: np.ndarray) -> np.ndarray:  # (resamples,): mean over resampled seeds and images
        per_seed = counts @ x.T / images
        return per_seed[draws, rng.integers(0, len(x), (resamples, len(x)))].mean(1)

    means = accuracy(a) - accuracy(b)
    tail = min((means <= 0).sum(), (means >= 0).sum())
    p = min(1.0, 2 * (tail + 1) / (resamples + 1))
    low, high = np.percentile(means, [2.5, 97.5])
    return {"difference (pts)": round(100 * (a.mean() - b.mean()), 2), "95% CI low": round(100 * low, 2),
            "95% CI high": round(100 * high, 2), "p": round(float(p), 4)}


def with_verdicts(rows: list[dict], alpha: float) -> list[dict]:
    """Add which model of each pair is better, or that the data cannot tell, keeping the chance of any
    false "better" in the table at ``alpha``: Holm's step-down over the table's p-values (every pair
    of k models is tested at once, so p < alpha alone would find a difference somewhere too often)."""
    order = sorted(range(len(rows)), key=lambda i: rows[i]["p"])
    real = set()
    for rank, i in enumerate(order):
        if rows[i]["p"] > alpha / (len(rows) - rank):
            break
        real.add(i)
    return [{**row, "verdict": (f"{row['A'] if row['difference (pts)'] > 0 else row['B']} better" if i in real
                                else "no real difference")} for i, row in enumerate(rows)]


def _specs(study: Study, specs: list[BenchmarkSpec] | None) -> list[BenchmarkSpec]:
    return study.benchmarks if specs is None else specs


def accuracy_tables(study: Study, evals: dict, costs: dict,
                    specs: list[BenchmarkSpec] | None = None) -> dict[str, list[dict]]:
    """Per benchmark setting, one row per arm: accuracy mean, std and per seed, the paper's number
    (only beside a whole standard set) and the arm's costs. ``evals[label][seed]`` are the runs'
    records; ``specs`` the benchmarks (the study's unless given)."""
    from zoo.data.benchmarks import paper_numbers, setting_title
    from zoo.factory import get_config

    tables = {}
    for spec in _specs(study, specs):
        key = benchmark_key(spec)
        for setting in spec.lexicons:
            rows = []
            for arm in study.arms():
                correct = [evals[arm.label][s]["benchmarks"][key]["correct"][setting] for s in study.seeds]
                accs = [100 * float(np.mean(c)) for c in correct]
                reported = paper_numbers(get_config(arm.model).reported, resolved(spec),
                                         len(correct[0])).get(setting_title(setting))
                if len(accs) == 1:  # one run per arm (shipped weights): a mean and std of one number say nothing
                    measured = {"accuracy %": round(accs[0], 2), "correct": f"{int(sum(correct[0]))}/{len(correct[0])}"}
                else:
                    measured = {"accuracy % (mean)": round(statistics.mean(accs), 2),
                                "std": round(statistics.stdev(accs), 2),
                                "per seed": " ".join(f"{a:.1f}" for a in accs)}
                rows.append({study.label_column: arm.label, **measured, "paper": reported, **costs[arm.label]})
            tables[f"{key} {setting}"] = rows
    return tables


def significance_tables(study: Study, evals: dict, specs: list[BenchmarkSpec] | None = None) -> dict[str, list[dict]]:
    """Per benchmark setting, the bootstrap of every pair of ``study.pairs()`` with Holm's verdicts."""
    tables = {}
    for spec in _specs(study, specs):
        key = benchmark_key(spec)
        for setting in spec.lexicons:
            def correct(label):
                return np.array([evals[label][s]["benchmarks"][key]["correct"][setting] for s in study.seeds], float)
            rows = [{"A": a, "B": b, **paired_bootstrap(correct(a), correct(b), study.bootstrap)}
                    for a, b in study.pairs()]
            tables[f"{key} {setting}"] = with_verdicts(rows, study.alpha)
    return tables


COSTS = ["params (M)", "GFLOPs", "train img/s", "infer img/s"]


def accuracy_of(row: dict) -> tuple[float, float]:
    """An accuracy table row's accuracy and its std over seeds (0 for one run)."""
    return (row["accuracy %"], 0.0) if "accuracy %" in row else (row["accuracy % (mean)"], row["std"])


def spread(seeds: list) -> str:
    """What a study's accuracies are: a mean over seeds, or one run's."""
    return f"mean ± std over {len(seeds)} seeds" if len(seeds) > 1 else "one run per row"


def resampled(seeds: list) -> str:
    """What the bootstrap draws from: seeds and images, or images alone when each arm is one run."""
    return "seeds and test images" if len(seeds) > 1 else "test images"


def summary_table(accuracy: dict[str, list[dict]]) -> list[dict]:
    """One row per arm: mean +- std over seeds (or the one run's accuracy) in every benchmark setting,
    then the costs."""
    def cell(row: dict) -> str:
        mean, std = accuracy_of(row)
        return f"{mean:.2f} ± {std:.2f}" if "std" in row else f"{mean:.2f}"

    tables = list(accuracy.values())
    label = next(iter(tables[0][0]))  # the first column: model or variant
    return [{label: rows[0][label], **{name: cell(r) for name, r in zip(accuracy, rows)},
             **{c: rows[0][c] for c in COSTS}} for rows in zip(*tables)]


def model_costs(name: str, options: dict, speed_batch: int, train_batch: int, bf16: bool) -> dict:
    """Parameters, GFLOPs and images/s (inference at ``speed_batch``, training at the recipe's batch
    and precision) of ``name`` built with ``options``, measured now on this machine."""
    from zoo.bench import TrainingStep, images, inference_call, interleaved_medians
    from zoo.factory import create_model
    from zoo.models.profile import count_parameters, gflops

    net = create_model(name, **(options or {}))
    config = net.config
    infer = interleaved_medians({"m": inference_call(net.eval(), images(speed_batch, in_chans=config.in_chans))}, 3)
    # timed as `zoo train` runs: channels_last, bf16 autocast when the recipe says so
    step = TrainingStep(net, images(train_batch, in_chans=config.in_chans), net.num_classes, bf16=bf16,
                        channels_last=True)
    trained = interleaved_medians({"m": step}, 3)
    return {"params (M)": round(count_parameters(net) / 1e6, 2), "GFLOPs": round(gflops(net), 2),
            "train img/s": round(train_batch / trained["m"], 1),
            "infer img/s": round(speed_batch / infer["m"], 1)}


def arm_costs(study: Study, recipes: dict) -> dict:
    """Each arm's costs, from its own recipe's model and batch: measured once per distinct
    configuration (a variants study's arms share one, so one measurement serves every row)."""
    import json

    measured, costs = {}, {}
    for arm in study.arms():
        recipe = recipes[arm.label]
        key = json.dumps([recipe.model.name, recipe.model.options, recipe.train.batch_size, recipe.train.bf16],
                         sort_keys=True)
        if key not in measured:
            measured[key] = model_costs(recipe.model.name, recipe.model.options, study.speed_batch,
                                        recipe.train.batch_size, recipe.train.bf16)
        costs[arm.label] = measured[key]
    return costs
