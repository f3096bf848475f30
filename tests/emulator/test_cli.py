import json
import subprocess
import sys
from pathlib import Path

import requests


def test_python_m_emulator_prints_its_urls_and_answers(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--scenario",
            "demo",
            "--port",
            "0",
            "--http-port",
            "0",
            "--var-dir",
            str(tmp_path),
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(5)]
        https_url = next(line.split()[-1] for line in lines if "HTTPS" in line)
        ca_bundle = next(line.split()[-1] for line in lines if "CA bundle" in line)
        assert ca_bundle == str(tmp_path / "emulator" / "ca.pem")
        health = requests.get(f"{https_url}/_emulator/health", verify=ca_bundle, timeout=10)
        assert health.json() == {"status": "ok"}
        answer = subprocess.run(
            [
                sys.executable,
                "-m",
                "emulator",
                "control",
                "--url",
                https_url,
                "--var-dir",
                str(tmp_path),
                "advance",
                "PT2H",
            ],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(answer.stdout)["offset_seconds"] == 7200.0
    finally:
        process.terminate()
        process.wait(timeout=10)
