"""The tuned-parameters file that ``coordinator best --save`` writes and ``apply`` reads.

Format (JSON, UTF-8), version ``ocr-tune-params/1``::

    {
      "format": "ocr-tune-params/1",
      "params": {"resize": {"glyph_height_px": 22}, "binarise": null, ...},
      "exp_key": "ocr-data",            # the experiment the parameters come from
      "tid": 17,                        # the trial that scored them
      "loss": 0.8024,                   # its loss (sum of 1 - similarity over the images)
      "objective": "ocr",
      "engine": "tesserocr",            # the engine and language the search read with
      "lang": "eng",
      "tesseract_version": "5.5.0"      # the Tesseract that scored the trial
    }

Only ``params`` is required; every other field may be null or absent. A file whose
``objective`` names another objective than ``ocr`` (``best --save`` on a scikit-learn
experiment) holds no preprocessing parameters and is refused saying so. A file that holds
the bare parameters object (what ``coordinator history --format jsonl`` shows as
``params``) is read too, so users can write parameters by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.errors import ParamsError
from shared.jsontypes import JsonObject
from shared.ocr_objective import OBJECTIVE_NAME as OCR_NAME
from shared.params import PipelineParams
from shared.trials import Experiment, Trial

PARAMS_FORMAT = "ocr-tune-params/1"
_OPTIONAL_TEXT = ("exp_key", "objective", "engine", "lang", "tesseract_version")
# How a refusal names the experiments of objectives other than OCR.
_OBJECTIVE_LABELS = {"sklearn": "a scikit-learn experiment"}


def params_text(params: JsonObject) -> str:
    """The parameters as JSON with one pipeline step per line, for people to read."""
    steps = [f"  {json.dumps(step)}: {json.dumps(value)}" for step, value in params.items()]
    return "{\n" + ",\n".join(steps) + "\n}" if steps else "{}"


@dataclass(frozen=True)
class TunedParams:
    """Plain pipeline parameters and where they came from (None where unknown)."""

    params: JsonObject
    exp_key: str | None = None
    tid: int | None = None
    loss: float | None = None
    objective: str | None = None
    engine: str | None = None
    lang: str | None = None
    tesseract_version: str | None = None

    def pipeline(self) -> PipelineParams:
        """The checked pipeline parameters; raises ParamsError naming a bad field."""
        return PipelineParams.from_json(self.params)

    def to_json(self) -> dict[str, Any]:
        return {"format": PARAMS_FORMAT, "params": self.params, "exp_key": self.exp_key,
                "tid": self.tid, "loss": self.loss, "objective": self.objective,
                "engine": self.engine, "lang": self.lang,
                "tesseract_version": self.tesseract_version}

    @classmethod
    def from_json(cls, doc: object, *, source: str = "the parameters") -> TunedParams:
        """Read the file format above, or a bare parameters object; ParamsError if neither."""
        if not isinstance(doc, dict):
            raise ParamsError(f"{source} must hold a JSON object, not {type(doc).__name__}")
        if "params" not in doc:
            PipelineParams.from_json(doc)  # a bare parameters object: check it now
            return cls(params=doc)
        fmt = doc.get("format", PARAMS_FORMAT)
        if fmt != PARAMS_FORMAT:
            raise ParamsError(f"{source} has format {fmt!r}; this release reads "
                              f"{PARAMS_FORMAT!r}: save it again with `coordinator best`")
        _refuse_other_objective(doc, source)
        params = doc["params"]
        if not isinstance(params, dict):
            raise ParamsError(f"{source}: 'params' must be a JSON object, got {params!r}")
        PipelineParams.from_json(params)
        text = {key: _optional(doc, key, str, source) for key in _OPTIONAL_TEXT}
        return cls(params=params, tid=_optional(doc, "tid", int, source),
                   loss=_optional(doc, "loss", float, source), **text)


def _refuse_other_objective(doc: object, source: str) -> None:
    """ParamsError if ``doc`` says it holds the parameters of an experiment that is not OCR.

    Those parameters are no preprocessing pipeline, so checking them as one would only
    report a missing 'resize'.
    """
    if not isinstance(doc, dict):
        return
    objective = doc.get("objective")
    if not isinstance(objective, str) or objective == OCR_NAME:
        return
    label = _OBJECTIVE_LABELS.get(objective, f"an experiment of objective {objective!r}")
    exp_key = doc.get("exp_key")
    of_key = f" ({exp_key!r})" if isinstance(exp_key, str) else ""
    raise ParamsError(f"{source} holds the parameters of {label}{of_key}, not "
                      "preprocessing parameters; apply needs an OCR experiment's: save them "
                      "with `coordinator best --exp-key <an OCR experiment> --save FILE`")


def _optional(doc: dict[str, Any], key: str, kind: type[Any], source: str) -> Any:
    value = doc.get(key)
    if value is None:
        return None
    # JSON has one number type: a loss written as 1 is still a float loss.
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ParamsError(f"{source}: {key!r} is {value!r}; expected a {kind.__name__} "
                          "or null")
    return value


def tuned_from_trial(experiment: Experiment, trial: Trial) -> TunedParams:
    """The parameters of ``trial`` with the experiment's engine and the trial's Tesseract."""
    settings = experiment.objective.settings
    details = trial.result.details if trial.result is not None else {}
    version = details.get("tesseract_version", settings.get("tesseract_version"))
    return TunedParams(params=trial.params, exp_key=experiment.exp_key, tid=trial.tid,
                       loss=trial.loss, objective=experiment.objective.name,
                       engine=_text_or_none(settings.get("engine")),
                       lang=_text_or_none(settings.get("lang")),
                       tesseract_version=_text_or_none(version))


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def save_params(tuned: TunedParams, path: Path) -> None:
    """Write ``tuned`` to ``path`` (folders created); ParamsError if it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(tuned.to_json(), indent=2) + "\n", encoding="utf-8")
    except OSError as err:
        raise ParamsError(f"cannot write the parameters to {path}: {err.strerror}; choose "
                          "another --save path") from err


def load_params(path: Path) -> TunedParams:
    """Read a parameters file; ParamsError naming the file and what is wrong with it."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ParamsError(f"cannot read the parameters file {path}: {err.strerror}; save "
                          "one with `coordinator best --save FILE`") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ParamsError(f"the parameters file {path} is not JSON ({err}); save one with "
                          "`coordinator best --save FILE`") from err
    source = f"the parameters file {path}"
    # Checked first, as its message says all there is to fix; the hint below would mislead.
    _refuse_other_objective(doc, source)
    try:
        return TunedParams.from_json(doc, source=source)
    except ParamsError as err:
        where = "" if str(path) in str(err) else f"the parameters file {path}: "
        raise ParamsError(f"{where}{err}; it should hold what `coordinator best --save FILE` "
                          f"writes ({PARAMS_FORMAT}), or the bare parameters object") from err
