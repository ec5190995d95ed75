"""Explaining a model pair: ``trustaudit.explain.explain_pair`` against the naive recipe, in one run.

Models: base = all-MiniLM-L6-v2 encoder with a fresh, seeded 3-way head; small =
paraphrase-MiniLM-L3-v2 with a fresh, seeded head. Data: the first SNLI validation pairs.
For every example, both sides compute the same explanations: LIME (``--lime-samples``)
and SHAP (``--shap-max-evals``) of the base model's predicted class for the base model
with the seed, the small model with seed + 1, and the base model again with seed + 1
(the base repeat, whose agreement with the base run is the noise floor, paired like the comparison).

Naive recipe: ``LimeTextExplainer(bow=False, split_expression=SEPARATOR, mask_string="")``
(the same word features as trustaudit) with a ``classifier_fn`` batching 64 in request
order, a fresh explainer per explanation; ``shap.Explainer(f, shap.maskers.Text(tokenizer))``
(Partition, called with ``batch_size=64``), on ``premise [SEP] hypothesis`` joined as one
string when both texts are explained, on the hypothesis with the premise fixed otherwise.
trustaudit: ``explain_pair`` with a cold cache (``cache=False``), one example per call so
that the two methods alternate and share the machine's load.

Floor: the unique texts trustaudit sent to each model divided by that model's
throughput on full, unpadded batches (``--batch-size`` rows of the mean token length of
those texts), measured right after each example so that it sees the same machine load.
Efficiency = floor / trustaudit's seconds, end to end. With ``--onnx``, trustaudit also runs
with ``--runtime onnx`` (both models exported once, checked to 1e-5, forward passes in ONNX
Runtime), timed in the same alternation: the row "trustaudit, ONNX Runtime".

    PYTHONPATH=. python bench/explain.py [--examples 20] [--segments both,b] [--lime-samples 1000]
                            [--shap-max-evals 500] [--threads 1] [--batch-size 32] [--onnx]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from _common import SNLI_LABELS, machine, minilm_l3_path, minilm_l6_path, shared_path


class NaiveModel:
    """Probabilities of ``(text_a, text_b | None)`` inputs in batches of 64, in request order, padded."""

    def __init__(self, model, tokenizer, batch_size: int = 64) -> None:
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        self.evaluations = 0
        self.last: tuple[list, np.ndarray] = ([], np.zeros((0, 0)))

    def __call__(self, pairs) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for s in range(0, len(pairs), self.batch_size):
                chunk = pairs[s:s + self.batch_size]
                second = [b for _, b in chunk] if chunk[0][1] is not None else None
                enc = self.tokenizer([a for a, _ in chunk], second, padding=True, truncation=True, return_tensors="pt")
                out.append(torch.softmax(self.model(**enc).logits.double(), -1).numpy())
        self.evaluations += len(pairs)
        probs = np.concatenate(out)
        self.last = (list(pairs), probs)
        return probs


@dataclass
class Tally:
    seconds: float = 0.0
    evaluations: int = 0
    requested: int = 0
    lime: dict = field(default_factory=dict)


def naive_example(models, premise, hypothesis, segment, target, args, lime_runs) -> dict[str, np.ndarray]:
    """The naive recipe's LIME weights per run (inputs and outputs in ``lime_runs``); SHAP is only run."""
    import shap
    from lime.lime_text import LimeTextExplainer

    from trustaudit.explain.features import SEPARATOR, FeatureSet

    d = len(FeatureSet(premise, hypothesis, segment))
    runs = (("base", args.seed), ("small", args.seed + 1), ("base_repeat", args.seed + 1))
    weights = {}
    for run, seed in runs:
        model = models["small" if run == "small" else "base"]
        if segment == "b":
            text, classify = hypothesis, lambda hyps, m=model: m([(premise, h) for h in hyps])
        else:
            text = f"{premise} ||| {hypothesis}"
            classify = lambda texts, m=model: m([tuple(p.strip() for p in t.split("|||")) for t in texts])  # noqa: E731
        explainer = LimeTextExplainer(
            bow=False, split_expression=SEPARATOR, mask_string="", random_state=seed, feature_selection="none"
        )
        exp = explainer.explain_instance(text, classify, labels=(target,), num_features=d, num_samples=args.lime_samples)
        w = np.zeros(d)
        for feature, value in exp.local_exp[target]:
            w[feature] = value
        weights[run] = w
        lime_runs[run] = model.last
    for run, seed in runs:
        model = models["small" if run == "small" else "base"]
        if segment == "b":
            f, inputs = (lambda hyps, m=model: m([(premise, str(h)) for h in hyps])), [hypothesis]
        else:
            f, inputs = (lambda texts, m=model: m([(str(t), None) for t in texts])), [f"{premise} [SEP] {hypothesis}"]
        np.random.seed(seed)
        explainer = shap.Explainer(f, shap.maskers.Text(model.tokenizer), silent=True)
        explainer(inputs, max_evals=args.shap_max_evals, batch_size=64, silent=True)
    return weights


def token_ids(tokenizer, pairs) -> list[list[int]]:
    """Token ids as both the engine and the naive classifier get them: batched, so that an empty
    second text stays a second text (a single call would drop it)."""
    return tokenizer([a for a, _ in pairs], [b for _, b in pairs] if pairs[0][1] is not None else None)["input_ids"]


def throughput(bundle, length: int, batch_size: int, seconds: float = 1.0) -> float:
    """Inputs per second on full batches of ``length`` tokens with no padding."""
    ids = bundle.tokenizer("A man in a blue shirt is standing on a ladder.", "A man is outside.")["input_ids"]
    row = (ids * (length // len(ids) + 1))[:length]
    enc = {
        "input_ids": torch.tensor([row] * batch_size),
        "attention_mask": torch.ones(batch_size, length, dtype=torch.long),
        "token_type_ids": torch.zeros(batch_size, length, dtype=torch.long),
    }
    with torch.inference_mode():
        bundle.model(**enc)
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < seconds or n < 3:
            bundle.model(**enc)
            n += 1
    return n * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20, help="SNLI validation pairs to explain (default 20)")
    parser.add_argument("--segments", default="both,b", help="segment modes to run, comma-separated (default both,b)")
    parser.add_argument("--lime-samples", type=int, default=1000)
    parser.add_argument("--shap-max-evals", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for every model call (default 1)")
    parser.add_argument("--batch-size", type=int, default=32, help="trustaudit's batch size (default 32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--onnx", action="store_true", help="also time trustaudit with --runtime onnx")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    import trustaudit
    from trustaudit.explain import FeatureSet, explain_pair, lime, shap
    from trustaudit.models import ModelPair, from_model, label_permutation

    hf_logging.set_verbosity_error()
    bundles = {}
    for name, path, seed in (("base", minilm_l6_path(), 0), ("small", minilm_l3_path(), 1)):
        torch.manual_seed(seed)
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3).eval()
        bundles[name] = from_model(model, AutoTokenizer.from_pretrained(path), SNLI_LABELS, task="pair", path=path)
    pair = ModelPair(bundles["base"], bundles["small"], label_permutation(SNLI_LABELS, SNLI_LABELS))
    runtimes = {"trustaudit": pair}
    if args.onnx:
        from trustaudit._runtime import apply_runtime

        runtimes["trustaudit, ONNX Runtime"] = apply_runtime(pair, "onnx")
    data = trustaudit.load_dataset(shared_path("data", "snli", "validation.tsv"), SNLI_LABELS, limit=args.examples + 1)
    naive = {name: NaiveModel(b.model, b.tokenizer) for name, b in bundles.items()}
    naive["base_repeat"] = naive["base"]
    budget = {"lime_samples": args.lime_samples, "shap_max_evals": args.shap_max_evals, "seed": args.seed}

    def ours(i: int, segment: str, runtime: str = "trustaudit"):
        return explain_pair(runtimes[runtime], data, [i], segment=segment, batch_size=args.batch_size, cache=False,
                            progress=False, **budget)

    warm = args.examples  # extra examples: imports, numba compilation of every SHAP path, first calls
    for segment in args.segments.split(","):
        naive_example(naive, data.text_a[warm], data.text_b[warm], segment, 0, args, {})
        for runtime in runtimes:
            ours(warm, segment, runtime)
    words = FeatureSet(" ".join(f"w{i}" for i in range(40)))
    for max_evals in (2**6, 50):
        shap.explain(FeatureSet(" ".join(words.words[:6])), lambda p: np.full((len(p), 3), 1 / 3), 0, max_evals=max_evals)
        shap.explain(words, lambda p: np.full((len(p), 3), 1 / 3), 0, max_evals=max_evals)

    results = {}
    for segment in args.segments.split(","):
        tallies = {"naive": Tally(), **{runtime: Tally() for runtime in runtimes}}
        floor = 0.0
        lime_gap = refit_gap = 0.0
        same_ranking = same_texts = True
        for i in range(args.examples):
            premise, hypothesis = data.text_a[i], data.text_b[i]
            for runtime in [r for r in runtimes if r != "trustaudit"]:
                t0 = time.perf_counter()
                other = ours(i, segment, runtime)
                tallies[runtime].seconds += time.perf_counter() - t0
                tallies[runtime].evaluations += sum(other.stats[n].unique for n in ("base", "small"))
                tallies[runtime].requested += sum(other.stats[n].requested for n in ("base", "small"))
            t0 = time.perf_counter()
            result = ours(i, segment)
            tallies["trustaudit"].seconds += time.perf_counter() - t0
            example = result.examples[0]
            for name in ("base", "small"):
                stats = result.stats[name]
                tallies["trustaudit"].evaluations += stats.unique
                tallies["trustaudit"].requested += stats.requested
                length = max(1, round(stats.real_tokens / max(stats.unique, 1)))
                floor += stats.unique / throughput(bundles[name], length, args.batch_size, seconds=1.0)

            before = sum(m.evaluations for m in (naive["base"], naive["small"]))
            lime_runs: dict[str, tuple] = {}
            t0 = time.perf_counter()
            weights = naive_example(naive, premise, hypothesis, segment, example.target.index, args, lime_runs)
            tallies["naive"].seconds += time.perf_counter() - t0
            after = sum(m.evaluations for m in (naive["base"], naive["small"]))
            tallies["naive"].evaluations += after - before + 2  # + the two predictions of the target class
            tallies["naive"].requested = tallies["naive"].evaluations

            for run, group in (("base", example.base), ("small", example.small), ("base_repeat", example.base_repeat)):
                ours_w = group["lime"].scores
                lime_gap = max(lime_gap, float(np.abs(ours_w - weights[run]).max()))
                same_ranking &= bool(np.array_equal(np.argsort(-ours_w), np.argsort(-weights[run])))
                seed = args.seed + (run != "base")
                drawn = lime.sample(example.features, num_samples=args.lime_samples, seed=seed)
                naive_inputs, naive_probs = lime_runs[run]
                refit = lime.fit(drawn, naive_probs, example.target).scores
                refit_gap = max(refit_gap, float(np.abs(refit - weights[run]).max()))
                same_texts &= token_ids(bundles["base"].tokenizer, naive_inputs) == token_ids(
                    bundles["base"].tokenizer, list(drawn.texts)
                )
        results[segment] = (tallies, floor, lime_gap, refit_gap, same_ranking, same_texts)

    n = args.examples
    print(f"machine: {machine()}; load average {open('/proc/loadavg').read().split()[:3]}")
    print(f"{n} SNLI validation pairs; LIME {args.lime_samples} samples, SHAP max_evals {args.shap_max_evals}; "
          f"base all-MiniLM-L6-v2 ({bundles['base'].n_params:,} params), small paraphrase-MiniLM-L3-v2 "
          f"({bundles['small'].n_params:,}); runs per example: base at seed, small and base again at seed + 1")
    print()
    print("| explained | method | s/example | model evaluations/example | speed-up | floor s/example | efficiency vs floor |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for segment, (tallies, floor, *_rest) in results.items():
        label = "premise + hypothesis" if segment == "both" else "hypothesis only" if segment == "b" else "premise only"
        naive_s = tallies["naive"].seconds
        for method, tally in tallies.items():
            evals = f"{tally.evaluations / n:,.0f}"
            if method != "naive":
                evals += f" unique of {tally.requested / n:,.0f} requested"
            speedup = naive_s / tally.seconds
            eff = f"{floor / tally.seconds:.2f}" if method == "trustaudit" else ""
            floor_cell = f"{floor / n:.2f}" if method == "trustaudit" else ""
            print(f"| {label} | {method} | {tally.seconds / n:.2f} | {evals} | {speedup:.2f}x | {floor_cell} | {eff} |")
    print()
    for segment, (_, _, lime_gap, refit_gap, same_ranking, same_texts) in results.items():
        print(
            f"LIME, segment={segment}: LimeTextExplainer's perturbed inputs have the same tokens as ours: {same_texts}; "
            f"our fit on the naive run's own probabilities vs its weights: max |diff| {refit_gap:.1e} (0 = bit-identical); "
            f"trustaudit's weights vs the naive run's: max |diff| {lime_gap:.1e} (float32 outputs move with batching), "
            f"same ranking: {same_ranking}"
        )


if __name__ == "__main__":
    main()
