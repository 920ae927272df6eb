"""The data URL and the export routes, through the real app's Flask server over a pipeline-built snapshot."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from dashboard import data


@pytest.fixture(scope="module")
def curated(sample_run):
    return sample_run.curated


@pytest.fixture
def client(curated, monkeypatch):
    monkeypatch.setenv(data.CURATED_ENV, str(curated))
    data.reset()
    from dashboard.app import server

    yield server.test_client()
    data.reset()


def _vintage() -> data.Vintage:
    return data.resolve_vintage(None).vintage


def test_csv_equals_the_query_layer(client):
    response = client.get("/api/v1/data.csv?indicator=investment_eur&by=member_state&from=2022&to=2023"
                          "&type=company&type=SME")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="pact_investment-eur_by-member-state_2022-2023_company-sme-')
    assert disposition.endswith(f'_{_vintage().vintage_id.lower()}.csv"')
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    selection = data.Filters(member_types=("company", "SME"))
    expected = data.breakdown(_vintage(), "investment_eur", "member_state", 2022, 2023, selection)
    # The EU-27 row first, then every Member State in protocol order, ":" where one has no figure.
    assert [r["Member State code"] for r in rows] == [
        "EU27_2020", *(c for c, _ in data.dimensions(_vintage()).member_states)]
    values = {r["Member State code"]: r["Investment in up-/reskilling (EUR)"] for r in rows}
    for key, value in zip(expected["key"], expected["value"], strict=True):
        assert float(values[key]) == pytest.approx(value)
    assert all(values[k] == ":" for k in values if k not in set(expected["key"]) and k != "EU27_2020")
    eu = data.yearly_totals(_vintage(), "investment_eur", selection)
    assert float(values["EU27_2020"]) == pytest.approx(eu[eu["year"].between(2022, 2023)]["value"].sum())
    assert response.headers["X-Pact-Vintage"] == _vintage().vintage_id


def test_two_breakdowns_in_one_call_equal_an_independent_computation(client, curated):
    """by=member_state&by=year, checked against pandas over the curated Parquet (facts joined to members)."""
    response = client.get("/api/v1/data.csv?indicator=people_trained&by=member_state&by=year&from=2023")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    snapshot = curated / "current"
    facts = pd.read_parquet(snapshot / "facts.parquet")
    members = pd.read_parquet(snapshot / "members.parquet", columns=["member_id", "country_code"])
    facts = facts[(facts["indicator"] == "people_trained") & (facts["year"] >= 2023)].merge(members, on="member_id")
    expected = facts.groupby(["country_code", "year"])["value"].sum()
    states = [c for c, _ in data.dimensions(_vintage()).member_states]
    assert [(r["Member State code"], r["Year"]) for r in rows] == [
        (code, str(year)) for code in ["EU27_2020", *states] for year in (2023, 2024)]
    for r in rows[2:]:
        key = (r["Member State code"], int(r["Year"]))
        value = r["People up-/reskilled (people)"]
        if key in expected.index:
            assert int(value) == int(expected[key]), key
        else:
            assert value == ":" and "m" in r["Flags"].split(), key
    totals = facts.groupby("year")["value"].sum()
    assert [int(r["People up-/reskilled (people)"]) for r in rows[:2]] == [int(totals[2023]), int(totals[2024])]


def test_json_form_carries_records_and_metadata(client, curated):
    response = client.get("/api/v1/data.json?indicator=people_trained&by=ecosystem&by=year&measure=share"
                          "&change=2022-2024")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = json.loads(response.data)
    meta = body["metadata"]
    assert meta["vintage"]["id"] == _vintage().vintage_id
    assert meta["permalink"].startswith("/explore?") and "measure=share" in meta["permalink"]
    assert meta["flags"]["m"].startswith("missing") and meta["flags"]["c"].startswith("confidential")
    assert meta["units"] == {"people_trained": "people"}
    assert [c["key"] for c in meta["columns"]][:4] == ["ecosystem", "ecosystem_label", "year", "value"]
    records = body["records"]
    totals = {r["year"]: r["figure"] for r in records if r["ecosystem"] == "TOTAL"}
    for r in records:
        if r["ecosystem"] != "TOTAL" and r["figure"] is not None:
            assert r["value"] == pytest.approx(r["figure"] / totals[r["year"]])
        if r["figure"] is None:
            assert r["value"] is None and "m" in r["flags"].split()
    first = {r["ecosystem"]: r for r in records if r["year"] == 2022}
    last = {r["ecosystem"]: r for r in records if r["year"] == 2024}
    for code, r in last.items():
        if r["figure"] is not None and first[code]["figure"]:
            assert r["change"] == pytest.approx(r["figure"] - first[code]["figure"])
            assert r["change_pct"] == pytest.approx(r["figure"] / first[code]["figure"] - 1)


def test_openapi_description_is_valid_and_names_every_parameter(client):
    from openapi_spec_validator import validate

    document = json.loads(client.get("/api/v1/openapi.json").data)
    validate(document)
    get = document["paths"]["/api/v1/data.{format}"]["get"]
    names = {p["name"] for p in get["parameters"]}
    assert names == {"format", "indicator", "by", "from", "to", "measure", "change", "ecosystem", "country",
                     "partnership", "type", "vintage"}
    index = json.loads(client.get("/api/v1/").data)
    assert set(index["parameter_docs"]) == names - {"format"}


def test_parquet_is_typed_and_says_where_it_comes_from(client):
    response = client.get("/api/v1/data.parquet?indicator=people_trained&by=year")
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.data))
    assert table.column("year").to_pylist() == [2022, 2023, 2024]
    assert table.column("value").to_pylist() == [2_000_000, 1_500_000, 2_600_000]
    assert str(table.schema.field("value").type) == "int64"
    assert table.schema.field("value").metadata[b"header"] == b"People up-/reskilled (people)"
    meta = table.schema.metadata
    assert meta[b"vintage_id"].decode() == _vintage().vintage_id
    assert meta[b"permalink"].decode().startswith("/explore?by=year&vintage=")  # no PACT_BASE_URL: relative
    assert meta[b"synthetic"] == b"true"


@pytest.mark.parametrize(("query", "named"), [
    ("indicator=nope", "nope"),
    ("country=XX", "XX"),
    ("by=member", "member"),
    ("from=1999", "1999"),
    ("colour=red", "colour"),
    ("ecosystem=CONS'%20OR%201=1--", "CONS' OR 1=1--"),
    ("vintage=../../etc/passwd", "../../etc/passwd"),
])
def test_unknown_values_are_a_400_naming_them(client, query, named):
    response = client.get(f"/api/v1/data.csv?{query}")
    assert response.status_code == 400
    body = json.loads(response.data)
    assert body["error"].startswith("invalid query")
    assert any(named in detail for detail in body["details"]), body


def test_index_lists_parameters_and_values(client):
    body = json.loads(client.get("/api/v1/").data)
    assert body["endpoints"] == ["/api/v1/data.csv", "/api/v1/data.parquet", "/api/v1/data.json"]
    assert "people_trained" in body["parameters"]["indicator"]
    assert body["parameters"]["from"] == [2022, 2023, 2024]
    assert body["current_vintage"] == _vintage().vintage_id


def test_a_one_year_table_export_shows_the_year_once(client):
    response = client.get("/export/explore/explore.csv?view=table&by=member_state&from=2023&to=2023")
    header = next(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    assert [h for h in header if h.startswith("2023")] == ["2023 (people)", "2023 flags"]


def test_export_routes_serve_each_format(client):
    xlsx = client.get("/export/explore/explore.xlsx?indicator=people_trained&by=ecosystem")
    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.data))
    assert book.sheetnames == ["Data", "Definitions", "Sources", "Filters"]
    filters = {r[0].value: r[1].value for r in book["Filters"].iter_rows() if r[0].value}
    assert filters["Permalink"].startswith("/explore?vintage=")
    csv_response = client.get("/export/progress/kpis.csv?year=2022")
    rows = list(csv.DictReader(io.StringIO(csv_response.data.decode("utf-8-sig"), newline="")))
    people = next(r for r in rows if r["Indicator code"] == "people_trained")
    assert float(people["Value (in unit)"]) == 2_000_000 and people["Year"] == "2022"
    assert client.get("/export/progress/kpis.png").status_code == 404  # a table has no picture
    assert client.get("/export/progress/nope.csv").status_code == 404
    assert client.get("/export/nowhere/kpis.csv").status_code == 404


def test_pack_route_returns_the_zip_and_echoes_the_download_token(client):
    response = client.get("/export/about/pack.zip?download_token=abc123xyz")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert "pm_pack=abc123xyz;" in response.headers["Set-Cookie"]
    failed = client.get("/export/nowhere/pack.zip?download_token=abc123xyz")
    assert failed.status_code == 404 and "pm_pack=abc123xyz-error;" in failed.headers["Set-Cookie"]
    hostile = client.get("/export/about/pack.zip?download_token=%3Cscript%3E")
    assert "Set-Cookie" not in hostile.headers
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        names = archive.namelist()
    assert any(n.endswith("briefing.docx") for n in names) and any(n.endswith(".xlsx") for n in names)


def test_permalinks_come_from_the_configured_address_never_from_the_host_header(client, monkeypatch):
    """A client-supplied Host header used to be written into permalinks in XLSX, DOCX, Parquet and the Link header."""
    url = "/api/v1/data.parquet?indicator=people_trained&by=year"
    hostile = client.get(url, headers={"Host": "evil.example"})
    assert hostile.status_code == 200
    assert b"evil.example" not in hostile.data
    assert "evil.example" not in hostile.headers["Link"]
    assert hostile.headers["Link"].startswith("</explore?by=year&vintage=")
    xlsx = client.get("/api/v1/data.xlsx?indicator=people_trained&by=year", headers={"Host": "evil.example"})
    assert xlsx.status_code in (200, 400, 404)
    assert b"evil.example" not in xlsx.data
    pack = client.get("/export/explore/pack.zip", headers={"Host": "evil.example"})
    assert pack.status_code == 200 and b"evil.example" not in pack.data
    with zipfile.ZipFile(io.BytesIO(pack.data)) as archive:
        assert not any(b"evil.example" in archive.read(name) for name in archive.namelist())

    monkeypatch.setenv("PACT_BASE_URL", "https://pact-monitor.example.eu/")
    configured = client.get(url, headers={"Host": "evil.example"})
    meta = pq.read_table(io.BytesIO(configured.data)).schema.metadata
    assert meta[b"permalink"].decode().startswith("https://pact-monitor.example.eu/explore?by=year&vintage=")
    monkeypatch.setenv("PACT_BASE_URL", "javascript:alert(1)")  # not an http(s) address: ignored
    assert client.get(url).headers["Link"].startswith("</explore?")
