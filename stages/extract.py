"""Stage `extract`: each kept teacher step becomes one SFT row."""

from repo_agent.files import write_json
from repo_agent.pipeline import paths
from repo_agent.pipeline.extract import extract_files
from repo_agent.pipeline.io import stage_params

if __name__ == "__main__":
    params = stage_params()
    counts = extract_files(
        [paths.TRACES / "teacher.jsonl"], paths.SFT / "rows.jsonl", params.extract
    )
    write_json(paths.METRICS / "extract.json", counts)
    print(f"extract: {counts['rows']} SFT rows from {counts['steps']} teacher steps")
