"""Stage `extract`: each kept teacher step becomes one SFT row."""

from repo_agent import paths
from repo_agent.extract import extract_sft
from repo_agent.stage_io import stage_params, write_json, write_jsonl
from repo_agent.traces import read_trace

if __name__ == "__main__":
    p = stage_params().extract
    trace = read_trace(paths.TRACES / "teacher.jsonl")
    rows, counts = extract_sft(trace.steps, trace.results, p.require_success, p.dedupe, p.max_chars)
    write_jsonl(paths.SFT / "rows.jsonl", rows)
    write_json(paths.METRICS / "extract.json", counts)
    print(f"extract: {counts['rows']} SFT rows from {counts['steps']} teacher steps")
