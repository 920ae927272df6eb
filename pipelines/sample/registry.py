"""The synthetic member registry: members, their partnerships and their commitments.

Registration dates follow the published membership timeline (calibration.MEMBERSHIP_ANCHORS); partnership join
dates are never before the partnership's launch nor the member's registration. Written as one workbook with three
sheets, like an export of the membership-application form.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from pipelines.sample import calibration as cal
from pipelines.sample.allocate import round_like_people_do
from pipelines.sample.names import MEMBER_TYPES, organisation_names

MEMBERS_SHEET, PARTNERSHIPS_SHEET, COMMITMENTS_SHEET = "Members", "Partnerships", "Commitments"
MEMBER_COLUMNS = (
    "Registration ID", "Organisation", "Type of organisation", "Size", "Country", "Industrial ecosystems",
    "Date of registration",
)
PARTNERSHIP_COLUMNS = ("Registration ID", "Partnership", "Joined on")
COMMITMENT_COLUMNS = (
    "Registration ID", "Commitment no.", "Charter principle", "Pledged number of people", "Commitment",
)

TYPE_WEIGHTS = dict(zip(MEMBER_TYPES, (0.28, 0.22, 0.18, 0.07, 0.05, 0.03, 0.02, 0.06, 0.05, 0.04), strict=True))
SIZES = ("Micro (fewer than 10 staff)", "Small (10-49 staff)", "Medium (50-249 staff)", "Large (250 or more staff)")
SIZE_FACTOR = dict(zip(SIZES, (0.3, 0.7, 1.6, 4.0), strict=True))
_SIZE_BY_TYPE = {  # probabilities over SIZES
    "company": (0.0, 0.0, 0.15, 0.85),
    "SME": (0.3, 0.4, 0.3, 0.0),
}
_SIZE_OTHER = (0.2, 0.35, 0.3, 0.15)

# Rough shares of members by Member State: larger countries and Belgium (EU-level associations) weigh more.
COUNTRY_WEIGHTS = {
    "BE": 9, "BG": 1.5, "CZ": 2, "DK": 2, "DE": 14, "EE": 0.7, "IE": 2, "EL": 3, "ES": 10, "FR": 11, "HR": 1,
    "IT": 12, "CY": 0.5, "LV": 0.7, "LT": 1, "LU": 0.6, "HU": 1.5, "MT": 0.5, "NL": 5, "AT": 3, "PL": 5, "PT": 4,
    "RO": 2.5, "SI": 1, "SK": 1, "FI": 2, "SE": 2.5,
}
ECOSYSTEM_WEIGHTS = {
    "AERO": 3, "AGRI": 8, "CONS": 9, "CCI": 7, "DIGI": 12, "ELEC": 5, "EII": 6, "RENE": 6, "HLTH": 9, "MOBI": 9,
    "PROX": 8, "RETL": 5, "TEXT": 5, "TOUR": 8,
}
# Partnerships whose sources give only a month or a year: members join no earlier than the end of that period.
# Those with neither a date nor a known period (the unidentified ones, Sud Italia) get no members.
LAUNCH_LOWER_BOUND = {
    "LSP-SHIP": dt.date(2021, 12, 31),
    "LSP-OREN": dt.date(2021, 12, 31),
    "LSP-TCLF": dt.date(2021, 12, 31),
    "RSP-ECRN": dt.date(2023, 2, 28),
    "RSP-BARI": dt.date(2024, 11, 30),
}
# Regional partnerships recruit by Member State (and, for the chemical regions, by ecosystem).
REGIONAL_RECRUITMENT = {
    "RSP-LOMB": ({"IT"}, None, 0.10),
    "RSP-BARI": ({"IT"}, None, 0.04),
    "RSP-ECRN": ({"BE", "DE", "NL", "FR", "ES", "IT", "PL"}, "EII", 0.20),
}
COMMITMENT_TEXTS = {
    1: ("Train our staff in {skill} skills every year", "Offer every employee an individual learning plan",
        "Upskill workers of our supply chain in {skill} skills", "Open our training courses to jobseekers"),
    2: ("Co-develop training curricula with local providers", "Join the large-scale partnership of our ecosystem",
        "Set up a regional skills network with SMEs"),
    3: ("Run a yearly survey of skills needs among our members", "Publish a skills-intelligence report each year",
        "Map the skills gaps of our sector with partners"),
    4: ("Reach gender balance among our trainees", "Reserve training places for people with disabilities",
        "Reach out to older workers and low-qualified adults"),
}
_SKILLS = ("digital", "green", "technical", "advanced digital", "entrepreneurial")


@dataclass(frozen=True)
class Reference:
    ecosystems: pd.DataFrame
    member_states: pd.DataFrame
    partnerships: pd.DataFrame


def load_reference(reference_dir: Path) -> Reference:
    def read(name: str) -> pd.DataFrame:
        with (reference_dir / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
            return pd.DataFrame(list(csv.DictReader(fh)))

    return Reference(read("ecosystems"), read("member_states"), read("partnerships"))


def member_id(number: int) -> str:
    # six digits at least, more when needed: PFS-000123, PFS-1234567
    return f"PFS-{number:06d}"


def registration_dates(rng: np.random.Generator, n: int, scale: int) -> np.ndarray:
    """n registration dates (sorted) whose running count follows the published timeline times `scale`."""
    anchor_days = np.array([d.toordinal() for d, _ in cal.MEMBERSHIP_ANCHORS], dtype=np.float64)
    anchor_counts = np.array([c for _, c in cal.MEMBERSHIP_ANCHORS], dtype=np.float64) * scale
    positions = np.sort(rng.uniform(0.0, anchor_counts[-1], size=n))
    return np.floor(np.interp(positions, anchor_counts, anchor_days)).astype(np.int64)


def generate_members(rng: np.random.Generator, ref: Reference, scale: int) -> pd.DataFrame:
    """One row per member; `ecosystems` holds ecosystem ids, primary first."""
    n = cal.MEMBERS * scale
    days = registration_dates(rng, n, scale)
    types = rng.choice(list(TYPE_WEIGHTS), size=n, p=np.array(list(TYPE_WEIGHTS.values())))
    size_idx = np.empty(n, dtype=np.int64)
    for member_type in MEMBER_TYPES:
        mask = types == member_type
        probs = np.array(_SIZE_BY_TYPE.get(member_type, _SIZE_OTHER))
        size_idx[mask] = rng.choice(len(SIZES), size=int(mask.sum()), p=probs)
    codes = ref.member_states["country_code"].tolist()
    weights = np.array([COUNTRY_WEIGHTS[c] for c in codes], dtype=np.float64)
    countries = rng.choice(codes, size=n, p=weights / weights.sum())
    eco_ids = ref.ecosystems["ecosystem_id"].tolist()
    eco_w = np.array([ECOSYSTEM_WEIGHTS[e] for e in eco_ids], dtype=np.float64)
    eco_w /= eco_w.sum()
    primary = rng.choice(len(eco_ids), size=n, p=eco_w)
    extra_count = rng.choice(3, size=n, p=[0.55, 0.3, 0.15])
    ecosystems = []
    for p, k in zip(primary.tolist(), extra_count.tolist(), strict=True):
        chosen = [eco_ids[p]]
        if k:
            others = [e for e in range(len(eco_ids)) if e != p]
            chosen += [eco_ids[i] for i in rng.choice(others, size=k, replace=False).tolist()]
        ecosystems.append(chosen)
    names = organisation_names(rng, types.tolist(), countries.tolist())
    return pd.DataFrame({
        "member_id": [member_id(i) for i in range(1, n + 1)],
        "organisation": names,
        "member_type": types,
        "size": np.array(SIZES)[size_idx],
        "country_code": countries,
        "ecosystems": ecosystems,
        "registered_on": [dt.date.fromordinal(int(d)) for d in days],
    })


def written_countries(rng: np.random.Generator, members: pd.DataFrame, ref: Reference) -> list[str]:
    """The Country column as registries hold it: mostly Eurostat codes, some ISO 'GR', some English names."""
    names = dict(zip(ref.member_states["country_code"], ref.member_states["name"], strict=True))
    alternates = {"CZ": "Czech Republic", "NL": "The Netherlands", "SK": "Slovak Republic"}
    draw = rng.random(len(members))
    out = []
    for code, u in zip(members["country_code"].tolist(), draw.tolist(), strict=True):
        if code == "EL" and u < 0.4:
            out.append("GR")
        elif u > 0.97:
            out.append(alternates[code] if u > 0.995 and code in alternates else names[code])
        else:
            out.append(code)
    return out


def effective_launch(ref: Reference) -> dict[str, dt.date]:
    """Earliest possible join day of each partnership that can have members."""
    out = {}
    for row in ref.partnerships.itertuples(index=False):
        if row.launched_on:
            out[row.partnership_id] = dt.date.fromisoformat(row.launched_on)
        elif row.partnership_id in LAUNCH_LOWER_BOUND:
            out[row.partnership_id] = LAUNCH_LOWER_BOUND[row.partnership_id]
    return out


def generate_memberships(rng: np.random.Generator, members: pd.DataFrame, ref: Reference) -> pd.DataFrame:
    """Member <-> partnership with join dates: LSPs by ecosystem, RSPs by Member State."""
    launch = effective_launch(ref)
    lsps = ref.partnerships[ref.partnerships["kind"] == "large-scale"]
    by_ecosystem: dict[str, list[str]] = {}
    for pid, eco in zip(lsps["partnership_id"], lsps["ecosystem_id"], strict=True):
        if eco and pid in launch:
            by_ecosystem.setdefault(eco, []).append(pid)
    rows: list[tuple[str, str, dt.date]] = []
    limit = cal.REGISTRY_AS_OF

    def join(mid: str, pid: str, registered: dt.date) -> None:
        start = max(registered, launch[pid])
        joined = start + dt.timedelta(days=int(rng.exponential(75.0)))
        if joined <= limit:
            rows.append((mid, pid, joined))

    for mid, ecos, registered, country in zip(
        members["member_id"], members["ecosystems"], members["registered_on"], members["country_code"], strict=True
    ):
        seen: set[str] = set()
        for rank, eco in enumerate(ecos):
            candidates = by_ecosystem.get(eco, [])
            if candidates and rng.random() < (0.30 if rank == 0 else 0.10):
                pid = candidates[int(rng.integers(len(candidates)))]
                if pid not in seen:
                    seen.add(pid)
                    join(mid, pid, registered)
        for pid, (countries, eco, p) in REGIONAL_RECRUITMENT.items():
            if country in countries and (eco is None or eco in ecos) and rng.random() < p:
                join(mid, pid, registered)
    frame = pd.DataFrame(rows, columns=["member_id", "partnership_id", "joined_on"])
    return frame.sort_values(["member_id", "partnership_id"], kind="stable").reset_index(drop=True)


def generate_commitments(rng: np.random.Generator, members: pd.DataFrame) -> pd.DataFrame:
    n = len(members)
    counts = rng.choice([1, 2, 3, 4], size=n, p=[0.35, 0.35, 0.2, 0.1])
    total = int(counts.sum())
    owner = np.repeat(np.arange(n), counts)
    number = np.concatenate([np.arange(1, c + 1) for c in counts.tolist()]) if n else np.zeros(0, dtype=np.int64)
    principle = rng.choice([1, 2, 3, 4], size=total, p=[0.4, 0.25, 0.15, 0.2])
    has_pledge = rng.random(total) < np.where(principle == 1, 0.7, 0.15)
    size_factor = members["size"].map(SIZE_FACTOR).to_numpy()[owner]
    pledged = round_like_people_do(np.maximum(1, np.rint(np.exp(rng.normal(np.log(120), 1.0, total)) * size_factor)))
    text_pick = rng.integers(0, 12, size=total)
    skill_pick = rng.integers(0, len(_SKILLS), size=total)
    texts = [
        COMMITMENT_TEXTS[p][t % len(COMMITMENT_TEXTS[p])].format(skill=_SKILLS[s])
        for p, t, s in zip(principle.tolist(), text_pick.tolist(), skill_pick.tolist(), strict=True)
    ]
    return pd.DataFrame({
        "member_id": members["member_id"].to_numpy()[owner],
        "commitment_no": number,
        "principle": principle,
        "pledged_people": pd.Series(pledged, dtype="Int64").where(has_pledge),
        "text": texts,
    })


def write_registry(
    path: Path, members: pd.DataFrame, countries_written: list[str], memberships: pd.DataFrame,
    commitments: pd.DataFrame, ecosystem_names: dict[str, str],
) -> dict[str, int]:
    """Write the three sheets (streaming) and return the data rows per sheet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    workbook.set_properties({"created": cal.REGISTRY_EXPORTED_AT})
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    bold = workbook.add_format({"bold": True})
    try:
        sheet = workbook.add_worksheet(MEMBERS_SHEET)
        sheet.write_row(0, 0, MEMBER_COLUMNS, bold)
        for r, (mid, org, mtype, size, country, ecos, registered) in enumerate(zip(
            members["member_id"], members["organisation"], members["member_type"], members["size"],
            countries_written, members["ecosystems"], members["registered_on"], strict=True,
        ), start=1):
            sheet.write_string(r, 0, mid)
            sheet.write_string(r, 1, org)
            sheet.write_string(r, 2, mtype)
            sheet.write_string(r, 3, size)
            sheet.write_string(r, 4, country)
            sheet.write_string(r, 5, ";".join(ecosystem_names[e] for e in ecos))
            sheet.write_datetime(r, 6, dt.datetime.combine(registered, dt.time()), date_format)
        sheet = workbook.add_worksheet(PARTNERSHIPS_SHEET)
        sheet.write_row(0, 0, PARTNERSHIP_COLUMNS, bold)
        for r, (mid, pid, joined) in enumerate(memberships.itertuples(index=False, name=None), start=1):
            sheet.write_string(r, 0, mid)
            sheet.write_string(r, 1, pid)
            sheet.write_datetime(r, 2, dt.datetime.combine(joined, dt.time()), date_format)
        sheet = workbook.add_worksheet(COMMITMENTS_SHEET)
        sheet.write_row(0, 0, COMMITMENT_COLUMNS, bold)
        pledged = commitments["pledged_people"].to_numpy(dtype=object, na_value=None)
        for r, (mid, no, principle, people, text) in enumerate(zip(
            commitments["member_id"], commitments["commitment_no"].tolist(), commitments["principle"].tolist(),
            pledged, commitments["text"], strict=True,
        ), start=1):
            sheet.write_string(r, 0, mid)
            sheet.write_number(r, 1, no)
            sheet.write_number(r, 2, principle)
            if people is not None:
                sheet.write_number(r, 3, int(people))
            sheet.write_string(r, 4, text)
    finally:
        workbook.close()
    return {"members": len(members), "memberships": len(memberships), "commitments": len(commitments)}
