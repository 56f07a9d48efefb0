"""The README's JSON samples have the shape the code answers with (a test, so that they cannot drift again):
every field of a result, of its citation and of a search response, no more and no fewer."""

from __future__ import annotations

import json
import re

from conftest import REPO_ROOT

SAMPLES = [
    json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", (REPO_ROOT / "README.md").read_text(), re.S)
]


def _shape(value: object) -> object:
    """Keys all the way down (the first item standing for a list), without the values."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return None


def test_the_result_sample_has_every_field_of_a_result(standin_searcher) -> None:
    (sample,) = [s for s in SAMPLES if "rank" in s]
    (hit, *_) = standin_searcher.search("Victory Day celebration", 3)
    assert _shape(sample) == _shape(hit.to_dict())


def test_the_http_sample_has_the_shape_of_a_search_response(app_client) -> None:
    (sample,) = [s for s in SAMPLES if "results" in s]
    answer = app_client.post("/search", json={"query": "Which airport is still being built?", "top_k": 2}).json()
    assert _shape(sample) == _shape(answer)
    assert len(sample["results"]) == 2
