"""Where pipeline stages read and write (dvc.yaml declares the same paths; a test checks)."""

from pathlib import Path

PARAMS = Path("params.yaml")
TRACES = Path("data/traces")
MUTANTS = Path("data/mutants")
SFT = Path("data/sft")
PAIRS = Path("data/pairs")
SPLIT = Path("data/split")
SPLIT_TRAIN = SPLIT / "train"
SPLIT_TASKS = SPLIT / "tasks.json"
EVAL_TRACES = Path("data/eval")
MODELS_BASE = Path("models/base")
MODELS_SFT = Path("models/sft")
MODELS_DPO = Path("models/dpo")
MODELS_REMOTE = Path("models/remote")
CACHE_ROLLOUT = Path("cache/rollout")
CACHE_EVAL = Path("cache/eval")
METRICS = Path("metrics")
PLOTS = Path("plots")
REPORTS = Path("reports")
REMOTE_MODEL_FILE = "remote.json"
