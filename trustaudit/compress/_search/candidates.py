"""Planning and building the candidates of a search: the ladder of each family, sizes known before training, builds on demand."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustaudit._io import write_text_atomic
from trustaudit.compress._common import serialized_bytes
from trustaudit.compress._search.records import (
    ASC_METHODS,
    BUILT,
    FAILED,
    ONNX_METHODS,
    PLANNED,
    SKIPPED,
)
from trustaudit.exceptions import ExportError, InvalidInputError
from trustaudit.models import ModelBundle


@dataclass
class _Plan:
    """A candidate before (and while) it is made: how to build it and what it will cost."""

    row: dict[str, Any]
    cost: float
    build: Callable[[], ModelBundle]
    bundle: ModelBundle | None = None


def _width(bundle: ModelBundle) -> int:
    config = bundle.config
    return int(config.get("hidden_size") or config.get("dim") or 0)


def _layers(bundle: ModelBundle) -> int | None:
    config = bundle.config
    value = config.get("num_hidden_layers", config.get("n_layers"))
    return int(value) if value is not None else None


def _size(bundle: ModelBundle) -> int:
    """Bytes of the model's state dict as it runs (int8 weights for a quantized model); of its graph file(s) for ONNX."""
    if bundle.kind == "onnx":
        return int(bundle.bytes_on_disk)
    return serialized_bytes(bundle.model.state_dict())


def _latency(bundle: ModelBundle, pairs: Sequence[tuple[str, str | None]], device: Any) -> float:
    """Median batch-1 latency in ms (tokenization and forward), 3 rounds."""
    from trustaudit._audit.latency import measure_latency

    return float(measure_latency({"m": bundle}, pairs, device, repeats=3)["m"].batch1_ms)


class _Candidates:
    """The planning and building half of :class:`~trustaudit.compress._search.run._Search` (a mixin: it uses its state)."""

    def _asc_ladder(self) -> list[tuple[tuple[int, ...], dict[str, Any]]]:
        """The distinct layer sets of the ladder, most layers removed first, with the rule that picks each."""
        from trustaudit.compress._asc import (
            PAPER_MARGIN,
            highest_similarity,
            layer_similarity,
            redundant_layers,
        )

        similarity = layer_similarity(self.base, self.train, batch_size=self.config.batch_size, max_rows=self.max_rows,
                                      device=self.config.device, progress=self.progress)
        margin = float(self.asc_options.get("margin", PAPER_MARGIN))
        rungs: dict[tuple[int, ...], dict[str, Any]] = {}
        if self.n_remove is not None:
            for k in sorted(set(self.n_remove), reverse=True):
                rungs.setdefault(redundant_layers(similarity, n_remove=k), {"n_remove": int(k)})
        else:
            for t in sorted(set(self.thresholds or ())):
                try:
                    layers = redundant_layers(similarity, t, margin=margin)
                except InvalidInputError:
                    continue  # this threshold would remove every layer
                if layers:
                    rungs.setdefault(layers, {"threshold": float(t), "margin": margin, "thresholds": []})["thresholds"].append(float(t))
            if not rungs:
                raise InvalidInputError(
                    f"no threshold of {sorted(self.thresholds or ())} removes a layer (minus margin {margin}; the highest "
                    f"similarity between two states is {highest_similarity(similarity):.4f}); give lower `thresholds` or `n_remove`"
                )
        return sorted(rungs.items(), key=lambda item: (-len(item[0]), item[0]))

    def plan(self) -> None:
        """Every candidate with its size (and latency) measured on its untrained structure."""
        from trustaudit.compress._asc import prune_layers
        from trustaudit.compress._quantize import quantize

        n_layers = _layers(self.base)
        asc_rows: list[tuple[str, tuple[int, ...], dict[str, Any]]] = []
        needs_asc = any(m in self.methods for m in ASC_METHODS)
        if needs_asc:
            for rung, (layers, rule) in enumerate(self._asc_ladder()):
                name = f"asc-{len(layers)}"
                if any(row["name"] == name for row in self.ladder):  # another layer set of the same size
                    name += f"-t{rule['threshold']:g}"
                self.ladder.append({"rung": rung, "name": name, "layers_removed": list(layers), **rule})
                asc_rows.append((name, layers, rule))
        for rung, (name, layers, rule) in enumerate(asc_rows):
            structure = prune_layers(self.base, layers)
            size, latency = _size(structure), self._estimate_latency(structure)
            kept = None if n_layers is None else n_layers - len(layers)
            self._add(dict(name=name, method="asc", family="asc", rung=rung, layers_removed=layers, layers=kept, parent=None,
                           size_bytes=size, latency_ms=latency), self._asc_builder(rule, layers), include="asc" in self.methods)
            if "asc+quantize" in self.methods:
                q = quantize(structure)
                self._add(dict(name=f"{name}-int8", method="asc+quantize", family="asc+quantize", rung=rung,
                               layers_removed=layers, layers=kept, parent=name, size_bytes=_size(q),
                               latency_ms=self._estimate_latency(q)), self._int8_builder(name))
            if "asc+onnx-int8" in self.methods:
                self._add_onnx(dict(name=f"{name}-onnx-int8", method="asc+onnx-int8", family="asc+onnx-int8", rung=rung,
                                    layers_removed=layers, layers=kept, parent=name), structure, name)
            if "alad" in self.methods:
                extra = self._alad_extra_bytes()
                self._add(dict(name=f"{name}-alad", method="alad", family="alad", rung=rung, layers_removed=layers,
                               layers=kept, parent=name, size_bytes=size + extra, latency_ms=latency), self._alad_builder(name))
        if "quantize" in self.methods:
            q = quantize(self.base)
            self._add(dict(name="base-int8", method="quantize", family="quantize", rung=0, layers_removed=(), layers=n_layers,
                           parent=None, size_bytes=_size(q), latency_ms=self._estimate_latency(q)), self._int8_builder(None))
        if "onnx-int8" in self.methods:
            self._add_onnx(dict(name="base-onnx-int8", method="onnx-int8", family="onnx-int8", rung=0, layers_removed=(),
                                layers=n_layers, parent=None), self.base, None)

    def _add_onnx(self, row: dict[str, Any], structure: ModelBundle, parent: str | None) -> None:
        """Plan an ONNX Runtime int8 candidate, sized by the quantized graph of its untrained structure.

        The structure is exported and quantized (unchecked) in a temporary folder; a structure
        the tracer cannot export makes the candidate ``failed to build`` at once, sized by its
        float state dict.
        """
        from trustaudit.compress._onnx import unchecked_dynamic_int8

        failure = None
        with tempfile.TemporaryDirectory(prefix="trustaudit-search-onnx-") as tmp:
            try:
                graph = unchecked_dynamic_int8(structure, Path(tmp) / "model")
                size, latency = _size(graph), self._estimate_latency(graph)
                del graph
            except ExportError as exc:
                failure = str(exc)
                size, latency = _size(structure), self._estimate_latency(structure)
        self._add({**row, "size_bytes": size, "latency_ms": latency}, self._onnx_builder(parent))
        if failure is not None:
            self.by_name[row["name"]].row.update(state=FAILED, note=f"export failed while planning: {failure}")

    def _estimate_latency(self, bundle: ModelBundle) -> float | None:
        return _latency(bundle, self.pairs, self.device) if self.objective == "latency" else None

    def _alad_extra_bytes(self) -> int:
        """float32 bytes AlAd adds to its small model: window adapter and a head of the base's width."""
        from trustaudit.compress._alad import PAPER_HIDDEN

        width, k = _width(self.base), len(self.base.labels)
        window, hidden = int(self.alad_options.get("window", 3)), int(self.alad_options.get("hidden", PAPER_HIDDEN))
        adapter = window * width * hidden + hidden + hidden * width + width
        head = width * width + width + width * k + k
        return 4 * (adapter + head)

    def _add(self, row: dict[str, Any], build: Callable[[], ModelBundle], include: bool = True) -> None:
        row = {**row, "size_estimated": True, "latency_estimated": row.get("latency_ms") is not None, "state": PLANNED}
        cost = float(row["latency_ms"] if self.objective == "latency" else row["size_bytes"])
        plan = _Plan(row, cost, build)
        plan.row["in_search"] = include
        self.by_name[row["name"]] = plan
        self.plans.append(plan)

    # -- building ---------------------------------------------------------------------------

    def _asc_builder(self, rule: Mapping[str, Any], layers: tuple[int, ...]) -> Callable[[], ModelBundle]:
        def build() -> ModelBundle:
            from trustaudit.compress._asc import asc

            options = {k: v for k, v in self.asc_options.items() if k != "margin"}
            if "n_remove" in rule:
                model, info = asc(self.base, self.train, n_remove=rule["n_remove"], max_rows=self.max_rows,
                                  batch_size=self.config.batch_size, device=self.config.device, progress=self.progress, **options)
            else:
                model, info = asc(self.base, self.train, threshold=rule["threshold"], margin=rule["margin"], max_rows=self.max_rows,
                                  batch_size=self.config.batch_size, device=self.config.device, progress=self.progress, **options)
            if tuple(info.layers_removed) != tuple(layers):
                raise InvalidInputError(
                    f"ASC removed layers {list(info.layers_removed)} where the ladder planned {list(layers)}: the similarities "
                    "changed between two passes over the same data (a non-deterministic device?)"
                )
            return model

        return build

    def _parent(self, name: str) -> ModelBundle:
        """An ASC rung's model: loaded from its bundle, or built (and saved) when no candidate made it yet."""
        from trustaudit.models import load_model

        plan = self.by_name[name]
        if plan.row.get("bundle"):
            return load_model(self.out / plan.row["bundle"])
        self._build(plan)
        assert plan.bundle is not None
        return plan.bundle

    def _int8_builder(self, parent: str | None) -> Callable[[], ModelBundle]:
        def build() -> ModelBundle:
            from trustaudit.compress._quantize import quantize

            return quantize(self.base if parent is None else self._parent(parent))

        return build

    def _onnx_builder(self, parent: str | None) -> Callable[[], ModelBundle]:
        """The PyTorch model an ONNX candidate exports (``_build`` exports and quantizes it)."""
        def build() -> ModelBundle:
            return self.base if parent is None else self._parent(parent)

        return build

    def _alad_builder(self, parent: str) -> Callable[[], ModelBundle]:
        def build() -> ModelBundle:
            from trustaudit.compress._alad import alad

            model, _ = alad(self.base, self._parent(parent), self.train, max_rows=self.max_rows, batch_size=self.config.batch_size,
                            device=self.config.device, progress=self.progress, **self.alad_options)
            return model

        return build

    def _build(self, plan: _Plan) -> None:
        """Make the candidate, save it in ``candidates/`` with its provenance, and load it back."""
        from trustaudit.models import load_model, save_bundle

        row = plan.row
        start = time.perf_counter()
        made = plan.build()
        where = {"name": row["name"], "family": row["family"], "rung": row["rung"], "parent": row["parent"],
                 "base_fingerprint": self.base.fingerprint}
        if row["method"] in ONNX_METHODS:
            path = self.candidates_dir / row["name"]
            self._export(made, path, where)
        else:
            path = self.candidates_dir / f"{row['name']}.pt"
            save_bundle(made, path, provenance={**dict(made.provenance), "search": where})
        bundle = load_model(path)
        row.update(bundle=str(path.relative_to(self.out)), size_bytes=_size(bundle), size_estimated=False,
                   params=bundle.n_params, build_seconds=round(time.perf_counter() - start, 3))
        if row["state"] in (PLANNED, SKIPPED):
            row["state"] = BUILT
        plan.bundle = bundle
        self.save(page=False)

    def _export(self, model: ModelBundle, path: Path, where: Mapping[str, Any]) -> None:
        """``model`` as a checked ONNX Runtime dynamic int8 directory at ``path``; its provenance says where in the search.

        Written in a staging folder and renamed into place, so ``path`` is complete or absent.
        Raises :class:`ExportError` (nothing written) when the fp32 graph does not reproduce
        the PyTorch probabilities within 1e-4 on the check inputs and the first rows of the
        evaluation data.
        """
        from trustaudit.compress._onnx import to_onnx
        from trustaudit.models import PROVENANCE_FILE

        staging = self.candidates_dir / f".{path.name}.staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            to_onnx(model, staging / "model", quantize="dynamic", calibration=self.eval_data)
            record = staging / "model" / PROVENANCE_FILE
            provenance = json.loads(record.read_text(encoding="utf-8"))
            provenance["search"] = dict(where)
            write_text_atomic(record, json.dumps(provenance, indent=1, sort_keys=True))
            os.replace(staging / "model", path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
