"""Where pipeline steps read and write: each step's `main()` picks its paths here and passes
them down (dvc.yaml declares the same paths; a test checks). A step's output folder bears its
name."""

from pathlib import Path

PARAMS = Path("params.yaml")
ROLLOUT = Path("data/rollout")  # the teacher's runs: teacher.jsonl (steps and results)
MUTANTS = Path("data/mutants")
RENAMED = Path("data/renamed")  # suite `renamed`: builtin tasks with files and names renamed
EXTRACT = Path("data/extract")  # SFT rows with provenance
PAIR = Path("data/pair")  # preference rows with provenance
SPLIT = Path("data/split")
SPLIT_TRAIN = SPLIT / "train"
SPLIT_TASKS = SPLIT / "tasks.json"
HELDOUT = Path("data/heldout")  # the eval set: held-out task ids and their mutants
HELDOUT_TASKS = HELDOUT / "tasks.json"
HELDOUT_MUTANTS = HELDOUT / "mutants"
ONPOLICY = Path("data/onpolicy")  # the SFT student's runs on train tasks + teacher labels
ONPOLICY_TRACE = "student.jsonl"
ONPOLICY_LABELS = "labels.jsonl"
DPO_PAIRS = Path("data/dpo_pairs/pairs.jsonl")  # split train pairs + on-policy pairs
EVAL_TRACES = Path("data/eval")
MODELS = Path("models")
MODELS_BASE = MODELS / "base"
MODELS_SFT = MODELS / "sft"
MODELS_DPO = MODELS / "dpo"
MODELS_TEACHER = MODELS / "teacher"  # the teacher's policy config, what eval@teacher runs
MODELS_REMOTE = MODELS / "remote"  # remote job state and records, one dir per method
TEACHER_POLICY_FILE = "policy.json"
REMOTE_MODEL_FILE = "remote.json"
CACHE_ROLLOUT = Path("cache/rollout")
CACHE_EVAL = Path("cache/eval")  # one dir per evaluated model
CACHE_ONPOLICY = Path("cache/onpolicy")
LIVE = Path("dvclive")  # DVCLive's training metrics and curves, one dir per method
METRICS = Path("metrics")
PLOTS = Path("plots")
REPORTS = Path("reports")


def eval_trace(model: str) -> Path:
    """The eval trace of one model (written by eval@<model>, read by report)."""
    return EVAL_TRACES / f"{model}.jsonl"
