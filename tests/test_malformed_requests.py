"""Every malformed request to the real app answers 4xx with a short body, never 500.

A corpus written as data (each a body, or raw bytes, and the status it must get) posted to `/_dash-update-component`
on the real app's Flask test client over the tiny fixture snapshot, odd static paths, and a hypothesis test that
fuzzes the shape of a callback body (random JSON for output, outputs, inputs, state and changedPropIds) and
checks no answer is a 5xx. The valid bodies are built from the app's own `/_dash-dependencies`.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import state
from dashboard.security import MAX_CALLBACK_BYTES, MAX_CALLBACK_DEPTH, nesting_exceeds
from tests.dashboard_fixtures import write_curated_snapshot

log = logging.getLogger(__name__)
UPDATE = "/_dash-update-component"
BANNER = "synthetic-banner.children"
DEEP = "[" * 1000 + '"x"' + "]" * 1000
OMIT = object()  # a key left out of the body


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from dashboard import data

    curated = tmp_path_factory.mktemp("malformed") / "curated"
    write_curated_snapshot(curated)
    patch = pytest.MonkeyPatch()
    patch.setenv("PACT_CURATED_DIR", str(curated))
    data.reset()
    from dashboard.app import app

    with app.server.test_client() as test_client:
        assert test_client.get("/").status_code == 200  # Dash registers the pages' callbacks on the first request
        yield test_client
    patch.undo()
    data.reset()


@pytest.fixture(scope="module")
def callbacks(client: Any) -> dict[str, dict[str, Any]]:
    return {d["output"]: d for d in client.get("/_dash-dependencies").get_json()}


def valid_body(callbacks: dict[str, dict[str, Any]], key: str, values: dict[str, object] | None = None) -> dict:
    """The body the browser sends for callback `key`, with `values` by "id.property" (None elsewhere)."""
    spec, values = callbacks[key], values or {}
    names = key.strip(".").split("...") if key.startswith("..") else [key]
    outputs = [{"id": n.rsplit(".", 1)[0], "property": n.rsplit(".", 1)[1]} for n in names]

    def entries(kind: str) -> list[dict[str, object]]:
        return [{"id": d["id"], "property": d["property"], "value": values.get(f"{d['id']}.{d['property']}")}
                for d in spec[kind]]

    first = spec["inputs"][0]
    return {"output": key, "outputs": outputs if key.startswith("..") else outputs[0], "inputs": entries("inputs"),
            "state": entries("state"), "changedPropIds": [f"{first['id']}.{first['property']}"]}


def _key(callbacks: dict[str, dict[str, Any]], fragment: str) -> str:
    return next(k for k in callbacks if fragment in k)


def _with(body: dict, **changes: object) -> dict:
    changed = copy.deepcopy(body)
    for name, value in changes.items():
        if value is OMIT:
            changed.pop(name, None)
        else:
            changed[name] = value
    return changed


def corpus(callbacks: dict[str, dict[str, Any]]) -> list[tuple[str, object, int]]:
    """(name, body dict or raw bytes, expected status). Every one of these answered 500 before the validation layer,
    except the last few, which were already refused and must stay so."""
    router_key = _key(callbacks, "_pages_content.children")
    grid_key = _key(callbacks, "explore-permalink.data@")
    banner = valid_body(callbacks, BANNER, {"_pages_location.search": ""})
    router = valid_body(callbacks, router_key, {"_pages_location.pathname": "/", "_pages_location.search": ""})
    deep_value = json.dumps(banner).replace('"value": ""', '"value": ' + DEEP).encode()
    mixed_sort = [{"colId": "value", "sort": "asc", "sortIndex": 0}, {"colId": "label", "sort": "desc", "sortIndex": "1"}]
    return [
        ("inputs null", _with(banner, inputs=None), 400),
        ("inputs a string", _with(banner, inputs="x"), 400),
        ("inputs a number", _with(banner, inputs=5), 400),
        ("inputs an object", _with(banner, inputs={}), 400),
        ("inputs [5]", _with(banner, inputs=[5]), 400),
        ("inputs [{}]", _with(banner, inputs=[{}]), 400),
        ("state a string", _with(banner, state="x"), 400),
        ("state a number", _with(banner, state=5), 400),
        ("state [1]", _with(banner, state=[1]), 400),
        ("state null", _with(banner, state=None), 400),
        ("state an object", _with(banner, state={}), 400),
        ("outputs a number", _with(banner, outputs=5), 400),
        ("outputs a string", _with(banner, outputs="x"), 400),
        ("outputs null", _with(banner, outputs=None), 400),
        ("outputs [1, 2]", _with(router, outputs=[1, 2]), 400),
        ("outputs {}", _with(banner, outputs={}), 400),
        ("changedPropIds a number", _with(banner, changedPropIds=5), 400),
        ("changedPropIds null", _with(banner, changedPropIds=None), 400),
        ("router search a number", valid_body(callbacks, router_key, {"_pages_location.pathname": "/",
                                                                       "_pages_location.search": 5}), 400),
        ("router pathname a number", valid_body(callbacks, router_key, {"_pages_location.pathname": 5,
                                                                         "_pages_location.search": ""}), 400),
        ("router pathname a list", valid_body(callbacks, router_key, {"_pages_location.pathname": ["/"],
                                                                       "_pages_location.search": ""}), 400),
        ("banner search a number", valid_body(callbacks, BANNER, {"_pages_location.search": 5}), 400),
        ("inputs nested 1,000 deep", b'{"output": "' + BANNER.encode() + b'", "inputs": ' + DEEP.encode() + b"}", 400),
        ("a value nested 1,000 deep", deep_value, 400),
        ("an array nested 2,000 deep", b"[" * 2000 + b"]" * 2000, 400),
        ("an object nested 1,000 deep", b'{"a":' * 1000 + b"1" + b"}" * 1000, 400),
        # well-formed but odd: answered normally
        ("grid columnState with mixed sortIndex types",
         valid_body(callbacks, grid_key, {"explore-grid.columnState": mixed_sort}), 200),
        # shapes Dash accepted with a 200 although no page sends them
        ("inputs [[]] for a plain id", _with(banner, inputs=[[]]), 400),
        ("changedPropIds a string", _with(banner, changedPropIds="x"), 400),
        ("changedPropIds [5]", _with(banner, changedPropIds=[5]), 400),
        ("changedPropIds {}", _with(banner, changedPropIds={}), 400),
        ("banner search an object", valid_body(callbacks, BANNER, {"_pages_location.search": {}}), 400),
        # already refused before, kept refused
        ("inputs missing", _with(banner, inputs=OMIT), 400),
        ("inputs empty", _with(banner, inputs=[]), 400),
        ("outputs missing", _with(banner, outputs=OMIT), 400),
        ("outputs [] for two outputs", _with(router, outputs=[]), 400),
        ("unknown output", _with(banner, output="nope.children"), 400),
        ("output a number", _with(banner, output=5), 400),
        ("a list body", [banner], 400),
        ("a number body", 5, 400),
        ("not JSON", b"{not json", 400),
        ("a body too large", b'{"output": "' + b"x" * MAX_CALLBACK_BYTES + b'"}', 413),
    ]


def _post(client: Any, body: object, content_type: str = "application/json") -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(UPDATE, data=raw, content_type=content_type)


def test_malformed_callback_bodies_answer_4xx_with_a_short_body(client: Any, callbacks: dict[str, dict[str, Any]],
                                                                caplog: pytest.LogCaptureFixture) -> None:
    answers = {}
    for name, body, expected in corpus(callbacks):
        response = _post(client, body)
        text = response.get_data(as_text=True)
        answers[name] = response.status_code
        assert response.status_code == expected, (name, text[:300])
        if expected >= 400:
            assert response.mimetype == "application/json", name
            assert set(response.get_json()) == {"error"} and len(text) < 200, (name, text)
            assert response.headers["Cache-Control"] == "no-store"
    log.info("malformed callback corpus: %s", answers)
    assert len(answers) >= 29
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no request reached a failing callback"


def test_the_corpus_starts_from_bodies_the_app_accepts(client: Any, callbacks: dict[str, dict[str, Any]]) -> None:
    router_key = _key(callbacks, "_pages_content.children")
    for key, values in ((BANNER, {"_pages_location.search": ""}),
                        (router_key, {"_pages_location.pathname": "/explore", "_pages_location.search": "?view=map"})):
        body = valid_body(callbacks, key, values)
        response = _post(client, body)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        assert response.headers["Cache-Control"] == "no-store"


def test_other_wrong_requests_to_the_callback_route(client: Any, callbacks: dict[str, dict[str, Any]]) -> None:
    banner = valid_body(callbacks, BANNER, {"_pages_location.search": ""})
    assert _post(client, banner, content_type="text/plain").status_code == 415
    assert client.post(UPDATE).status_code == 415  # no body, no content type
    assert client.post(UPDATE, content_type="application/json").status_code == 411


def test_a_callback_that_still_fails_answers_422_and_is_logged(client: Any, callbacks: dict[str, dict[str, Any]],
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    from dashboard import app as app_module

    def broken(_: object) -> list:
        raise TypeError("a value no page sends")

    monkeypatch.setattr(app_module, "synthetic_banner", broken)
    with caplog.at_level(logging.ERROR, logger="dashboard.security"):
        response = _post(client, valid_body(callbacks, BANNER, {"_pages_location.search": "?vintage=x"}))
    assert response.status_code == 422
    assert response.get_json() == {"error": "the callback cannot be computed from these values"}
    assert [r.getMessage() for r in caplog.records] == [
        f"callback {BANNER} failed on values no page sends; answered 422"]


@pytest.mark.parametrize("path", [
    "/_dash-component-suites/dash/x.py",
    "/_dash-component-suites/dash/nope.js",
    "/_dash-component-suites/nope/x.js",
    "/_dash-component-suites/dash/../app.py",
    "/_dash-component-suites/dash/x.map",
    "/_dash-component-suites/dash_bootstrap_components/_components/x.js",
    "/assets/../app.py",
    "/assets/%2e%2e/app.py",
    "/assets/no-such-file.js",
])
def test_unknown_static_files_are_not_found(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, response.get_data(as_text=True)[:300]
    assert len(response.get_data()) < 300
    assert response.headers["Cache-Control"] == "no-store"


def test_the_grid_sort_of_odd_column_states() -> None:
    mixed = [{"colId": "value", "sort": "asc", "sortIndex": 1}, {"colId": "label", "sort": "desc", "sortIndex": "0"}]
    assert state.grid_sort(mixed) == "-label"  # "0" counts as 0, before 1
    assert state.grid_sort([{"colId": "share", "sort": "desc", "sortIndex": None}]) == "-share"
    assert state.grid_sort([{"colId": "value", "sort": "asc", "sortIndex": True},
                            {"colId": "label", "sort": "asc", "sortIndex": 2}]) == "value"
    assert state.grid_sort([{"colId": "value", "sort": "asc", "sortIndex": [1]}, "x", 5]) == "value"


def test_nesting_is_measured_outside_strings() -> None:
    assert not nesting_exceeds(b'{"a": "' + b"[" * 500 + b'"}', 2)
    assert not nesting_exceeds(b'{"a": "\\"[[[[", "b": [[1]]}', 3)
    assert nesting_exceeds(b'{"a": [[[1]]]}', 3)
    assert not nesting_exceeds(b"[" * MAX_CALLBACK_DEPTH + b"]" * MAX_CALLBACK_DEPTH, MAX_CALLBACK_DEPTH)
    assert nesting_exceeds(b"[" * (MAX_CALLBACK_DEPTH + 1), MAX_CALLBACK_DEPTH)


# Random JSON: scalars of every type, and lists and objects of them a few levels deep.
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def _entry(ids: st.SearchStrategy) -> st.SearchStrategy:
    return st.fixed_dictionaries({"id": ids, "property": st.sampled_from(["value", "search", "pathname", "data",
                                                                          "columnState", "children"]) | _json},
                                 optional={"value": _json})


@pytest.mark.timeout(600)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_callback_bodies_never_answer_5xx(client: Any, callbacks: dict[str, dict[str, Any]],
                                                 data: st.DataObject) -> None:
    server_side = sorted(k for k, d in callbacks.items() if d.get("clientside_function") is None)
    output = data.draw(st.sampled_from(server_side) | _json, label="output")
    base = valid_body(callbacks, output) if output in server_side else {"output": output}
    ids = st.sampled_from(sorted({d["id"] for spec in callbacks.values() for d in spec["inputs"]})) | _json
    shapes = {
        "outputs": st.just(base.get("outputs")) | _json | st.lists(_entry(ids), max_size=3) | _entry(ids),
        "inputs": st.just(base.get("inputs")) | _json | st.lists(_entry(ids) | _json, max_size=4),
        "state": st.just(base.get("state")) | _json | st.lists(_entry(ids) | _json, max_size=3),
        "changedPropIds": st.just(base.get("changedPropIds")) | _json | st.lists(_json, max_size=3),
    }
    body = {"output": output}
    for key, strategy in shapes.items():
        if data.draw(st.booleans(), label=f"{key} present"):
            body[key] = data.draw(strategy, label=key)
    if isinstance(body.get("inputs"), list) and data.draw(st.booleans(), label="values from the right ids"):
        # Keep the callback's own ids and properties and fuzz only the values, so some bodies pass validation
        # and reach the callback.
        body["inputs"] = [{**e, "value": data.draw(_json, label="value")} for e in base.get("inputs") or []]
    response = _post(client, body)
    assert response.status_code < 500, (body, response.get_data(as_text=True)[:300])

