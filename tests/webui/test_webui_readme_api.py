"""The README's Python and curl examples, run as written against the stand-in's HTTP API.

Only the network is replaced: `requests.post` and `curl` hand their request to the test client."""

import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from conftest import gray, scene, tiny_model
from fastapi.testclient import TestClient
from modules import shared

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = README.read_text().split("## Calling the HTTP API", 1)[1].split("\n## ", 1)[0]
HOST = "http://127.0.0.1:7860"


def block(language: str) -> str:
    return re.search(rf"```{language}\n(.*?)```", SECTION, re.S).group(1)


@pytest.fixture
def api(webui, tmp_path, monkeypatch):
    shared.sd_model = tiny_model("sd1")
    scene().save(tmp_path / "input.png")
    gray(0.4).save(tmp_path / "map.png")
    monkeypatch.chdir(tmp_path)
    return TestClient(webui.app(), raise_server_exceptions=False)


def test_python_example(api, tmp_path, monkeypatch):
    sent = []

    def post(url, json, timeout):
        assert url.startswith(HOST)
        response = api.post(url[len(HOST) :], json=json)
        sent.append(response)
        return response

    monkeypatch.setitem(sys.modules, "requests", types.SimpleNamespace(post=post))
    exec(compile(block("python"), "README python example", "exec"), {})
    assert sent[0].status_code == 200
    assert "DiffDiff strength: 0.9" in sent[0].json()["info"]
    assert (tmp_path / "output.png").stat().st_size > 0


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("base64") is None, reason="needs bash and coreutils")
def test_curl_example(api, tmp_path):
    # curl is a shell function that keeps its request; everything else (base64, the heredoc) runs as written
    capture = 'curl() { printf "%s\\n" "$@" > curl-args.txt; cat > body.json; echo "{}"; }\n'
    subprocess.run(["bash", "-c", capture + block("bash")], check=True, cwd=tmp_path)
    arguments = (tmp_path / "curl-args.txt").read_text().split("\n")
    url = next(argument for argument in arguments if argument.startswith(HOST))
    response = api.post(url[len(HOST) :], content=(tmp_path / "body.json").read_bytes(), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert "DiffDiff: True" in response.json()["info"]
