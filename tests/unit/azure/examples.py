"""Official Azure REST examples (x-ms-examples from github.com/Azure/azure-rest-api-specs, MIT licence; origins in
rest_examples/README.md): the contract that both the client and the simulator honour."""

from __future__ import annotations

import json
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent / "rest_examples"


def example(relative: str) -> dict:
    return json.loads((EXAMPLES / relative).read_text())


def response_body(relative: str, status: str = "200") -> dict:
    return example(relative)["responses"][status]["body"]
