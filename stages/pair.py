"""Stage `pair`: step-level preference pairs labelled by the rubric."""

from repo_agent import paths
from repo_agent.pairs import TeacherLabel, build_pairs
from repo_agent.stage_io import read_jsonl, stage_params, write_json, write_jsonl
from repo_agent.traces import read_trace

if __name__ == "__main__":
    params = stage_params()
    teacher = read_trace(paths.TRACES / "teacher.jsonl")
    student = read_trace(paths.TRACES / "student.jsonl")
    labels = [TeacherLabel.model_validate(x) for x in read_jsonl(paths.TRACES / "labels.jsonl")]
    pairs, metrics = build_pairs(
        teacher.steps,
        student.steps,
        labels,
        params.rubric,
        params.pair,
        params.agent.tool_protocol,
    )
    write_jsonl(paths.PAIRS / "pairs.jsonl", pairs)
    write_json(paths.METRICS / "pairs.json", metrics)
    print(f"pair: {metrics['pairs']} pairs kept of {metrics['candidates']} candidates")
