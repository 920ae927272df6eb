"""The plain baseline: the same ingest written the way an analyst would, with pandas and its fastest Excel engine.

One function, top to bottom: `pd.read_excel(engine="calamine")` for every workbook (openpyxl, pandas' default,
spent ~75% of this baseline's time parsing and made the pipeline look 5x faster than a competent analyst's code), `pd.read_csv` for the
reference tables, then the rules of the data (docs/rules_of_the_data.md, as `pipelines/rules.py` applies them) with pandas idioms
— string methods, merges, a sort and `duplicated` for "latest submission wins", `groupby` for sums — and a small
Python function `.map`-ped over a column where a rule is easier written for one cell (numbers in a declared
locale, organisation names). It writes facts, submissions, rejects and the registry tables to Parquet with
`DataFrame.to_parquet`. No snapshots, manifest, run log, schema validation or progress bar: the comparison
flatters the baseline, not the pipeline.

It shares no code with `pipelines/` beyond the sidecar model (which tells both how to read each file) and the
indicator catalogue, so that agreement of the two outputs is evidence, not tautology.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import unicodedata
import zipfile
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from pipelines.eusurvey import meta_role
from pipelines.schema import INDICATORS
from pipelines.sidecar import Sidecar, load_sidecar

# The same plausibility ceilings as the pipeline (one member, one activity year, in the indicator's unit).
CEILINGS = {
    "people_trained": 5_000_000, "training_programmes": 100_000, "investment_eur": 5_000_000_000,
    "people_reached": 100_000_000, "stakeholders_joined": 1_000_000,
}
LEGAL_SUFFIXES = (
    "gmbh co kg", "gmbh", "ag", "kg", "ohg", "ev", "eg", "mbh", "se", "sa", "sas", "sasu", "sarl", "sca", "spa",
    "srl", "srls", "scarl", "sl", "slu", "bv", "nv", "vzw", "asbl", "cvba", "ltd", "limited", "plc", "llc", "inc",
    "corp", "co", "oy", "oyj", "ab", "as", "asa", "aps", "a s", "sp z oo", "spzoo", "sro", "s r o", "kft", "zrt",
    "nyrt", "doo", "d o o", "dd", "ad", "ead", "ood", "ou", "uab", "sia", "ik", "lda", "ike", "ae", "oe", "ee", "epe",
)
_SUFFIX_TOKENS = sorted({tuple(s.split()) for s in LEGAL_SUFFIXES}, key=len, reverse=True)
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009\u2007'’]")


# ------------------------------------------------------------------------------------------------- cell helpers


def text(value: object) -> str:
    """A cell as the text a person sees: 1500.0 -> '1500', blank -> ''."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    value = str(value)
    return (html.unescape(value) if "&" in value else value).strip()  # free text the exporter XML-escaped


def column_text(series: pd.Series) -> pd.Series:
    return series.map(text).astype(object)


def header(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split()) if value is not None else ""


def fold(series: pd.Series) -> pd.Series:
    """Accents, case and punctuation out: the key names and countries are compared on."""
    s = series.str.normalize("NFKD").map(lambda v: "".join(c for c in v if not unicodedata.combining(c)))
    return s.str.casefold()


def org_key(series: pd.Series, *, strip_legal_form: bool = True) -> pd.Series:
    """Names compared without accents, case, punctuation and (unless asked to keep it) the legal form."""
    s = fold(series).str.replace("&", " and ", regex=False).str.replace("ß", "ss", regex=False)
    # dots vanish ("S.r.l." -> "srl"); other punctuation separates words ("A/S" -> "a s")
    s = s.str.replace(".", "", regex=False).str.replace(r"[^\w\s]|_", " ", regex=True)
    if not strip_legal_form:
        return s.str.split().str.join(" ")

    def strip_legal(name: str) -> str:
        tokens = name.split()
        changed = True
        while changed and len(tokens) > 1:
            changed = False
            if tokens[-1] == "and":  # left dangling by "GmbH & Co. KG" once "co kg" is gone
                tokens = tokens[:-1]
                changed = True
                continue
            for suffix in _SUFFIX_TOKENS:
                if len(tokens) > len(suffix) and tuple(tokens[-len(suffix):]) == suffix:
                    tokens = tokens[: -len(suffix)]
                    changed = True
                    break
        return " ".join(tokens)

    return s.map(strip_legal)


def id_key(series: pd.Series) -> pd.Series:
    """Registration IDs compare on letters and digits only ('pfs 000123' = 'PFS-000123')."""
    return column_text(series).str.normalize("NFKC").str.upper().str.replace(r"[\W_]+", "", regex=True)


def label_key(series: pd.Series) -> pd.Series:
    return column_text(series).str.casefold().str.split().str.join(" ")


def country_key(series: pd.Series) -> pd.Series:
    s = fold(column_text(series)).str.replace(r"[^\w\s]", " ", regex=True)
    return s.str.split().str.join(" ")


def to_number(value: object, decimal: str) -> Decimal | str:
    """A reported number exactly, or the reason code why it is not one."""
    if isinstance(value, bool):
        return "not_a_number"
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return "not_a_number" if value != value or value in (float("inf"), float("-inf")) else Decimal(repr(value))
    s = _SPACES.sub("", str(value).strip())
    sign = ""
    if s[:1] in "+-\u2212":
        sign, s = ("-" if s[0] in "-\u2212" else ""), s[1:]
    thousands = "," if decimal == "." else "."
    match = re.fullmatch(rf"(\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+|\d+)?(?:{re.escape(decimal)}(\d+))?", s)
    if not s or match is None or (match.group(1) is None and match.group(2) is None):
        return "not_a_number"
    whole = (match.group(1) or "0").replace(thousands, "")
    try:
        return Decimal(f"{sign}{whole}.{match.group(2)}" if match.group(2) else f"{sign}{whole}")
    except InvalidOperation:
        return "not_a_number"


def stored_value(value: object, indicator: str, decimal: str, multiplier: int) -> int | str:
    number = to_number(value, decimal)
    if isinstance(number, str):
        return number
    if number < 0:
        return "negative"
    scale = INDICATORS[indicator].scale
    stored = number * multiplier * scale
    if stored != stored.to_integral_value():
        return "not_whole"
    if stored > CEILINGS[indicator] * scale:
        return "absurd"
    return int(stored)


def timestamps(series: pd.Series, fmt: str) -> pd.Series:
    as_text = series.map(lambda v: v if isinstance(v, (dt.datetime, dt.date)) else text(v))
    parsed = pd.to_datetime(as_text.where(as_text.map(lambda v: isinstance(v, str))), format=fmt, errors="coerce")
    real = as_text.map(lambda v: isinstance(v, dt.datetime | dt.date) and not isinstance(v, str))
    if real.any():
        parsed = parsed.where(~real, pd.to_datetime(as_text.where(real), errors="coerce"))
    return parsed.dt.round("s").astype("datetime64[us]")


# --------------------------------------------------------------------------------------------------------- run


def run(raw_dir: Path, out_dir: Path) -> dict[str, pd.DataFrame]:
    """Read every raw file, apply the rules, write the tables; return them (for the comparison)."""
    ref = raw_dir / "reference"
    ecosystems = pd.read_csv(ref / "ecosystems.csv", dtype=str, keep_default_na=False)
    states = pd.read_csv(ref / "member_states.csv", dtype=str, keep_default_na=False)
    partnerships = pd.read_csv(ref / "partnerships.csv", dtype=str, keep_default_na=False)

    spellings = pd.concat([
        states[["country_code"]].assign(s=states["country_code"]),
        states[["country_code"]].assign(s=states["iso_alpha2"]),
        states[["country_code"]].assign(s=states["name"]),
        states[["country_code"]].assign(s=states["aliases"].str.split(";")).explode("s"),
    ])
    spellings["key"] = country_key(spellings["s"].fillna(""))
    countries = dict(zip(spellings["key"], spellings["country_code"].str.upper(), strict=True))
    countries.pop("", None)
    eco_lookup = {}
    for column in ("ecosystem_id", "name", "short_name"):
        eco_lookup.update(zip(label_key(ecosystems[column]), ecosystems["ecosystem_id"], strict=True))

    rejects: list[pd.DataFrame] = []

    # ---- registry
    registry_path = next((raw_dir / "registry").glob("*.xlsx"))
    registry_car = load_sidecar(registry_path)
    sheets = registry_car.read.sheets
    reg_rel = registry_path.relative_to(raw_dir).as_posix()
    skip = registry_car.read.header_row - 1
    membership_sheet = sheets.get("memberships") or sheets["partnerships"]
    # one read of the workbook for its three sheets
    registry = pd.read_excel(registry_path, sheet_name=[sheets["members"], membership_sheet, sheets["commitments"]],
                             header=skip, dtype=object, engine="calamine")
    members_raw = registry[sheets["members"]]
    member_sheet_row = members_raw.index + registry_car.read.header_row + 1
    members_raw = members_raw.assign(_row=member_sheet_row).dropna(how="all", subset=members_raw.columns)
    members = pd.DataFrame({
        "member_id": column_text(members_raw["Registration ID"]),
        "organisation": column_text(members_raw["Organisation"]),
        "member_type": column_text(members_raw["Type of organisation"]),
        "size": column_text(members_raw["Size"]),
        "country_code": country_key(members_raw["Country"]).map(countries),
        "joined_on": pd.to_datetime(members_raw["Date of registration"], dayfirst=False).dt.date,
    })
    bad_country = members["country_code"].isna()
    if bad_country.any():
        rejects.append(pd.DataFrame({
            "source_file": reg_rel, "sheet": sheets["members"], "row": members_raw["_row"][bad_country],
            "column": "Country", "contribution_id": None, "value": column_text(members_raw["Country"][bad_country]),
            "reason_code": "unknown_member_state", "reason": "not an EU-27 Member State",
        }))
    eco = members_raw[["Registration ID", "Industrial ecosystems", "_row"]].assign(
        ecosystem=column_text(members_raw["Industrial ecosystems"]).str.split(";")).explode("ecosystem")
    eco["ecosystem"] = eco["ecosystem"].str.strip()
    eco = eco[eco["ecosystem"].fillna("") != ""]
    eco["ecosystem_id"] = label_key(eco["ecosystem"]).map(eco_lookup)
    unknown_eco = eco[eco["ecosystem_id"].isna()]
    if len(unknown_eco):
        rejects.append(pd.DataFrame({
            "source_file": reg_rel, "sheet": sheets["members"], "row": unknown_eco["_row"],
            "column": "Industrial ecosystems", "contribution_id": None, "value": unknown_eco["ecosystem"],
            "reason_code": "unknown_ecosystem", "reason": "not one of the 14 industrial ecosystems",
        }))
    eco = eco.dropna(subset=["ecosystem_id"]).assign(member_id=lambda f: column_text(f["Registration ID"]))
    eco = eco.drop_duplicates(["member_id", "ecosystem_id"])
    eco["is_primary"] = ~eco.duplicated("member_id")
    member_ecosystems = eco[["member_id", "ecosystem_id", "is_primary"]].reset_index(drop=True)
    primary = member_ecosystems[member_ecosystems["is_primary"]].set_index("member_id")["ecosystem_id"]
    members["primary_ecosystem_id"] = members["member_id"].map(primary)
    members = members[["member_id", "organisation", "member_type", "size", "country_code", "primary_ecosystem_id",
                       "joined_on"]].replace({"": None})
    member_by_key = dict(zip(id_key(members["member_id"]), members["member_id"], strict=True))

    ms_raw = registry[membership_sheet].dropna(how="all")
    memberships = pd.DataFrame({
        "member_id": id_key(ms_raw["Registration ID"]).map(member_by_key),
        "partnership_id": column_text(ms_raw["Partnership"]),
        "joined_on": pd.to_datetime(ms_raw["Joined on"]).dt.date,
    })
    memberships = memberships[memberships["member_id"].notna()
                              & memberships["partnership_id"].isin(partnerships["partnership_id"])]
    memberships = memberships.groupby(["member_id", "partnership_id"], as_index=False)["joined_on"].min()

    com_raw = registry[sheets["commitments"]].dropna(how="all")
    commitments = pd.DataFrame({
        "member_id": id_key(com_raw["Registration ID"]).map(member_by_key),
        "commitment_no": pd.to_numeric(com_raw["Commitment no."]).astype("Int16"),
        "principle": pd.to_numeric(com_raw["Charter principle"]).astype("Int16"),
        "pledged_people": pd.to_numeric(com_raw["Pledged number of people"]).astype("Int64"),
        "text": column_text(com_raw["Commitment"]).replace({"": None}),
    }).dropna(subset=["member_id"])

    organisation = members["organisation"].fillna("")
    names = pd.DataFrame({"member_id": members["member_id"], "country": members["country_code"],
                          "full": org_key(organisation, strip_legal_form=False), "name": org_key(organisation)})
    names = names[names["full"] != ""]

    # ---- corrections
    corrections = pd.read_csv(raw_dir / "corrections" / "corrections.csv", dtype=str, keep_default_na=False)
    corrections = corrections[corrections.apply(lambda r: any(v.strip() for v in r), axis=1)] \
        if len(corrections) else corrections

    # ---- surveys
    submissions_out: list[pd.DataFrame] = []
    facts_out: list[pd.DataFrame] = []
    waves: dict[int, list[tuple[Path, Sidecar]]] = {}
    for path in sorted(p for p in (raw_dir / "surveys").iterdir() if p.suffix in (".xlsx", ".zip")):
        car = load_sidecar(path)
        waves.setdefault(car.survey.wave, []).append((path, car))
    for wave, files in sorted(waves.items()):
        frames = []
        for path, car in files:
            frames.append(read_survey(path, car, raw_dir))
        survey = pd.concat(frames, ignore_index=True)
        subs, facts, rej = classify(wave, survey, files[0][1], member_by_key, names, countries, corrections)
        submissions_out.append(subs)
        facts_out.append(facts)
        rejects.append(rej)

    submissions = pd.concat(submissions_out, ignore_index=True).sort_values(["wave", "source_file", "row"])
    facts = pd.concat(facts_out, ignore_index=True)
    facts = apply_value_corrections(facts, submissions, corrections)
    facts = facts.sort_values(["year", "member_id", "indicator"]).reset_index(drop=True)
    rejects_all = pd.concat([r for r in rejects if len(r)], ignore_index=True) if rejects else pd.DataFrame()

    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "facts": facts, "submissions": submissions.reset_index(drop=True), "rejects": rejects_all,
        "members": members, "member_ecosystems": member_ecosystems, "memberships": memberships,
        "commitments": commitments,
    }
    for name, frame in tables.items():
        frame.to_parquet(out_dir / f"{name}.parquet", index=False)
    return tables


def read_survey(path: Path, car: Sidecar, raw_dir: Path) -> pd.DataFrame:
    """One export's rows; a zipped export is several workbooks, each read the same way."""
    rel = path.relative_to(raw_dir).as_posix()
    if path.suffix != ".zip":
        return read_workbook(path, car, rel)
    with zipfile.ZipFile(path) as archive:
        return pd.concat([read_workbook(io.BytesIO(archive.read(name)), car, f"{rel}/{name}")
                          for name in sorted(archive.namelist())], ignore_index=True)


def read_workbook(source, car: Sidecar, rel: str) -> pd.DataFrame:
    sheet = car.read.sheet or "Content"
    frame = pd.read_excel(source, sheet_name=sheet, header=car.read.header_row - 1, dtype=object, engine="calamine")
    frame.columns = [header(c) for c in frame.columns]
    frame = frame.loc[:, [c for c in frame.columns if c and not c.startswith("Unnamed:")]]
    return frame.assign(_file=rel, _sheet=sheet, _row=frame.index + car.read.header_row + 1,
                        _spec=[car.survey] * len(frame))


def classify(
    wave: int, survey: pd.DataFrame, car: Sidecar, member_by_key: dict[str, str], names: pd.DataFrame,
    countries: dict[str, str], corrections: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One wave: statuses of every row, facts of the accepted ones, rejects."""
    spec = car.survey
    # EUSurvey's meta columns, found by their label in whatever language the export was made
    found = {meta_role(c): c for c in survey.columns if meta_role(c)}

    def h(name: str) -> str:
        return found.get(meta_role(name)) or header(name)

    meta = set(found.values())
    personal = {h(c) for c in spec.personal} | {found.get("user_name")}
    questions = [c for c in survey.columns if not c.startswith("_") and c not in meta]
    cid = column_text(survey[found["contribution_id"]])
    created = timestamps(survey[found["creation_date"]], spec.datetime_format)
    updated = timestamps(survey[found["last_update"]], spec.datetime_format)
    subs = pd.DataFrame({
        "wave": wave, "source_file": survey["_file"], "sheet": survey["_sheet"], "row": survey["_row"],
        "contribution_id": cid.replace({"": None}), "member_id": None, "created_at": created, "updated_at": updated,
        "status": None, "reason_code": None, "reason": None,
    })
    reject_rows: list[pd.DataFrame] = []

    def reject(rows: pd.Index, column: str, code: str) -> None:
        if not len(rows):
            return
        values = None if column in personal else column_text(survey.loc[rows, h(column)]).replace({"": None})
        reject_rows.append(pd.DataFrame({
            "source_file": survey.loc[rows, "_file"], "sheet": survey.loc[rows, "_sheet"],
            "row": survey.loc[rows, "_row"], "column": column, "contribution_id": cid[rows].replace({"": None}),
            "value": values, "reason_code": code, "reason": code.replace("_", " "),
        }))

    answers = survey[questions]
    blank = (answers.isna() | answers.astype(str).apply(lambda c: c.str.strip() == "")).all(axis=1)
    subs.loc[blank, ["status", "reason_code"]] = ["blank", "blank"]
    test = pd.Series(False, index=survey.index)
    for rule in spec.test_entries:
        test |= column_text(survey[h(rule.column)]).str.contains(rule.pattern, regex=True)
    test &= subs["status"].isna()
    subs.loc[test, ["status", "reason_code"]] = ["test", "test_entry"]

    open_rows = subs["status"].isna()
    by_id = id_key(survey[h(spec.identity.member_id)]).map(member_by_key)
    # else the name: with its legal form when that names one member, else without it among members of the
    # Member State the respondent answered (or of no known country)
    org_text = column_text(survey[h(spec.identity.organisation)])
    full_counts = names.groupby("full")["member_id"].agg(["first", "size"])
    strict = org_key(org_text, strip_legal_form=False).map(full_counts["first"].where(full_counts["size"] == 1))
    answered = country_key(survey[h(spec.identity.country)]).map(countries)
    asked = pd.DataFrame({"name": org_key(org_text), "answered": answered}).rename_axis("row_index").reset_index()
    candidates = asked[asked["name"] != ""].merge(names[["name", "member_id", "country"]], on="name")
    fits = candidates["answered"].isna() | candidates["country"].isna() | (
        candidates["country"] == candidates["answered"])
    per_row = candidates[fits].groupby("row_index")["member_id"].agg(["first", "size"])
    loose = per_row["first"].where(per_row["size"] == 1).reindex(survey.index)
    member = by_id.fillna(strict).fillna(loose)
    subs["member_id"] = member.where(open_rows)

    excluded = corrections[(corrections["action"].str.casefold() == "exclude")
                           & (corrections["indicator"].str.strip() == "")
                           & (corrections["wave"].astype(int) == wave)] if len(corrections) else corrections
    if len(excluded):
        ex = set(excluded["contribution_id"].str.strip())
        hit = open_rows & cid.isin(ex)
        subs.loc[hit, ["status", "reason_code"]] = ["test", "excluded_by_correction"]
        open_rows &= ~hit

    unknown = open_rows & member.isna()
    # one reject per unknown member: the ID that names nobody, or the name when no ID was given
    id_given = column_text(survey[h(spec.identity.member_id)]) != ""
    reject(unknown[unknown & id_given].index, spec.identity.member_id, "unknown_member")
    reject(unknown[unknown & ~id_given].index, spec.identity.organisation, "unknown_member")
    country_cell = column_text(survey[h(spec.identity.country)])
    bad_country = open_rows & (country_cell != "") & country_key(country_cell).map(countries).isna()
    reject(bad_country[bad_country].index, spec.identity.country, "unknown_member_state")
    bad_updated = open_rows & updated.isna()
    reject(bad_updated[bad_updated].index, found["last_update"], "invalid_timestamp")
    bad_created = open_rows & created.isna()
    reject(bad_created[bad_created].index, found["creation_date"], "invalid_timestamp")
    rejected = unknown | bad_country | bad_updated | bad_created
    subs.loc[rejected, ["status", "reason_code"]] = ["rejected", "rejected"]
    subs.loc[rejected, "member_id"] = member[rejected]

    # latest Last Update wins; ties: latest Creation Date, highest Contribution Id (numeric when digits), top row
    candidates = subs[subs["status"].isna()].copy()
    numeric_cid = candidates["contribution_id"].fillna("").str.strip()
    candidates["_cid_is_num"] = numeric_cid.str.fullmatch(r"\d+")
    candidates["_cid_num"] = pd.to_numeric(numeric_cid.where(candidates["_cid_is_num"]), errors="coerce")
    candidates["_cid_txt"] = numeric_cid.where(~candidates["_cid_is_num"], "")
    candidates = candidates.sort_values(
        ["member_id", "updated_at", "created_at", "_cid_is_num", "_cid_num", "_cid_txt", "row"],
        ascending=[True, False, False, False, False, False, True],
    )
    winner = ~candidates.duplicated("member_id")
    subs.loc[candidates.index[winner], ["status"]] = "accepted"
    subs.loc[candidates.index[~winner], ["status", "reason_code"]] = ["superseded", "superseded"]
    subs["reason"] = subs["reason_code"]

    accepted = survey.loc[candidates.index[winner]]
    acc_subs = subs.loc[accepted.index]
    facts = []
    decimal = spec.number_format.decimal_separator
    by_indicator: dict[str, list[str]] = {}
    for column, indicator in spec.indicators.items():
        by_indicator.setdefault(indicator, []).append(column)
    for indicator, columns in by_indicator.items():
        # several questions of one wave may feed one indicator: their valid values add up
        total = pd.Series(0, index=accepted.index, dtype="int64")
        used = pd.Series("", index=accepted.index, dtype=object)
        any_value = pd.Series(False, index=accepted.index)
        for column in columns:
            cells = accepted[h(column)]
            present = cells.notna() & (cells.astype(str).str.strip() != "")
            values = cells[present].map(
                lambda v, i=indicator: stored_value(v, i, decimal, spec.multipliers.get(i, 1)))
            bad = values.map(lambda v: isinstance(v, str))
            for code in values[bad].unique():
                reject(values[bad & (values == code)].index, column, code)
            good = values[~bad].astype("int64")
            total = total.add(good, fill_value=0).astype("int64")
            used[good.index] = used[good.index].where(used[good.index] == "", used[good.index] + " + ") + column
            any_value[good.index] = True
        per_row = pd.DataFrame({"value": total, "column": used, "reported": any_value})  # aligned on the row
        per_row = per_row[per_row["reported"]].rename_axis("row_index").reset_index()
        facts.append(per_row.drop(columns="reported").assign(indicator=indicator))
    if spec.commitment_progress is not None:
        progress = spec.commitment_progress
        yes = {" ".join(x.casefold().split()) for x in progress.progressing}
        no = {" ".join(x.casefold().split()) for x in progress.not_progressing}
        labels = accepted[[h(c) for c in progress.columns]].apply(label_key)
        is_yes = labels.isin(yes)
        is_known = is_yes | labels.isin(no)
        unknown_label = (labels != "") & ~is_known
        for c in progress.columns:
            reject(unknown_label[unknown_label[h(c)]].index, c, "unknown_label")
        reported = is_known.sum(axis=1)
        counted = is_yes.sum(axis=1)
        titles = {c.rsplit(":", 1)[0].strip() for c in progress.columns if ":" in c}
        title = titles.pop() if len(titles) == 1 and all(":" in c for c in progress.columns) else \
            " | ".join(progress.columns)
        some = reported > 0
        for indicator, series in (("commitments_reported", reported), ("commitments_progressing", counted)):
            facts.append(pd.DataFrame({"row_index": series[some].index, "indicator": indicator,
                                       "value": series[some].astype("int64"), "column": title}))
    long = pd.concat(facts, ignore_index=True)
    long = long.merge(acc_subs[["member_id", "source_file", "sheet", "row", "contribution_id", "updated_at"]],
                      left_on="row_index", right_index=True)
    long = long.rename(columns={"updated_at": "submitted_at"}).assign(year=wave, corrected=False)
    long = long[["year", "member_id", "indicator", "value", "source_file", "sheet", "row", "column",
                 "contribution_id", "submitted_at", "corrected"]]
    return subs, long, pd.concat(reject_rows, ignore_index=True) if reject_rows else pd.DataFrame()


def apply_value_corrections(facts: pd.DataFrame, submissions: pd.DataFrame, corrections: pd.DataFrame) -> pd.DataFrame:
    """Indicator-level `set` / `exclude` corrections against the accepted submission they name."""
    if not len(corrections):
        return facts
    value_level = corrections[corrections["indicator"].str.strip() != ""]
    accepted = submissions[submissions["status"] == "accepted"]
    facts = facts.copy()
    for c in value_level.itertuples(index=False):
        wave = int(c.wave)
        if c.contribution_id.strip():
            target = submissions[(submissions["wave"] == wave)
                                 & (submissions["contribution_id"] == c.contribution_id.strip())]
        else:
            target = accepted[(accepted["wave"] == wave)
                              & (accepted["member_id"].str.upper() == c.member_id.replace(" ", "").upper())]
        if target.empty or target.iloc[0]["status"] != "accepted":
            continue
        t = target.iloc[0]
        if c.member_id.strip() and c.member_id.replace(" ", "").upper() != str(t["member_id"]).upper():
            continue
        key = (facts["year"] == wave) & (facts["member_id"] == t["member_id"]) & (facts["indicator"] == c.indicator)
        if c.action.casefold() == "exclude":
            facts = facts[~key]
            continue
        number = to_number(c.value, ".")
        value = int(number * INDICATORS[c.indicator].scale)
        if key.any():
            facts.loc[key, ["value", "corrected"]] = [value, True]
        else:
            facts = pd.concat([facts, pd.DataFrame([{
                "year": wave, "member_id": t["member_id"], "indicator": c.indicator, "value": value,
                "source_file": t["source_file"], "sheet": t["sheet"], "row": t["row"], "column": c.indicator,
                "contribution_id": t["contribution_id"], "submitted_at": t["updated_at"], "corrected": True,
            }])], ignore_index=True)
    return facts
