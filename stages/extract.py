"""Stage `extract`: each kept teacher step becomes one SFT row."""

from repo_agent.files import write_json
from repo_agent.pipeline import paths
from repo_agent.pipeline.extract import extract_files
from repo_agent.pipeline.io import stage_params, timed_stage

if __name__ == "__main__":
    with timed_stage("extract"):
        params = stage_params()
        teacher, rows = paths.TRACES / "teacher.jsonl", paths.SFT / "rows.jsonl"
        counts = extract_files([teacher], rows, params.extract, params.agent.tool_protocol)
        write_json(paths.METRICS / "extract.json", counts)
        print(f"extract: {counts['rows']} SFT rows from {counts['steps']} teacher steps")
