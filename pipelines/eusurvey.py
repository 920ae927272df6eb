"""What an EUSurvey results export looks like, and how a sidecar's column names find their columns in one.

The layout (docs/eusurvey_export.md has the details and where they were read from): sheet `Content`, continued on
`Content1`, `Content2`, ... past 254 columns; `Alias` and `Export Date` on rows 1-2; the header on row 4; one row
per contribution, newest first. Question titles may repeat. The meta columns come after the questions, each
optional, labelled in the language of the user who exported the file. Free text may arrive XML-escaped, and with
the exporter's "show shortnames" option headers end in ` (shortname)` and choice answers in `(shortname)`.

Nothing here reads files: `resolve_survey_spec` takes a sidecar's survey section and the header the reader
found, and returns the same section with every reference replaced by the exact header it names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipelines.errors import PipelineError
from pipelines.sidecar import MetaColumns, SurveySpec

# EUSurvey's meta-column labels in every language it ships, from its message files
# (src/main/webapp/WEB-INF/classes/messages_<lang>.properties, keys label.InvitationNumber, label.ContributionId,
# label.UserName, label.CreationDate, label.LastUpdate, label.Languages; docs/eusurvey_export.md). The exporter
# falls back to "Contribution Id", "User Name", ... when a message is missing: the same labels up to case.
META_LABELS: dict[str, dict[str, str]] = {
    "invitation_number": {
        "bg": "Номер на покана", "cs": "Číslo výzvy", "da": "Invitationsnummer", "de": "Einladungsnummer",
        "el": "Αριθμός πρόσκλησης", "en": "Invitation number", "es": "Número de invitación", "et": "Kutse number",
        "fi": "Kutsun numero", "fr": "Numéro de l'invitation", "ga": "Uimhir cuiridh", "hr": "Broj pozivnice",
        "hu": "Meghívás száma", "it": "Numero di invito", "lt": "Kvietimo numeris", "lv": "Uzaicinājuma numurs",
        "mt": "Numru tal-Istedina", "nl": "Nummer uitnodiging", "pl": "Numer zaproszenia", "pt": "Número do convite",
        "ro": "Numărul invitației", "sk": "Číslo pozvánky", "sl": "Številka vabila", "sv": "Inbjudans nummer",
    },
    "contribution_id": {
        "bg": "№ на попълнена анкета", "cs": "Číslo příspěvku", "da": "Svar-ID", "de": "Kennnummer des Beitrags",
        "el": "Αναγνωριστικό απαντήσεων", "en": "Contribution ID", "es": "ID de la contribución",
        "et": "Vastuse tunnuskood", "fi": "Vastauksen tunnistenumero",
        "fr": "Numéro d'identification de la contribution", "ga": "ID na hAighneachta",
        "hr": "Identifikacijska oznaka doprinosa", "hu": "Benyújtott felmérés azonosítója", "it": "ID contributo",
        "lt": "Atsakymo ID", "lv": "Atbildes identifikācijas numurs", "mt": "ID tal-Kontribuzzjoni",
        "nl": "Nummer bijdrage", "pl": "Identyfikator formularza", "pt": "Número de identificação da contribuição",
        "ro": "ID contribuție", "sk": "Identifikačné číslo príspevku", "sl": "Identifikacijska oznaka prispevka",
        "sv": "Svar-id",
    },
    "user_name": {
        "bg": "Потребителско име", "cs": "Uživatelské jméno", "da": "Brugernavn", "de": "Nutzername",
        "el": "Όνομα χρήστη", "en": "User name", "es": "Nombre de usuario", "et": "Kasutajanimi",
        "fi": "Käyttäjätunnus", "fr": "Nom d'utilisateur", "ga": "An t-ainm úsáideora", "hr": "Ime korisnika",
        "hu": "Felhasználó neve", "it": "Nome utente", "lt": "Naudotojo vardas", "lv": "Lietotājvārds",
        "mt": "Isem l-utent", "nl": "Gebruikersnaam", "pl": "Nazwa użytkownika", "pt": "Nome de utilizador",
        "ro": "Nume de utilizator", "sk": "Používateľské meno", "sl": "Uporabniško ime", "sv": "Användarnamn",
    },
    "creation_date": {
        "bg": "Дата на създаване", "cs": "Den vytvoření", "da": "Oprettelsesdato", "de": "Erstellungsdatum",
        "el": "Ημερομηνία δημιουργίας", "en": "Creation date", "es": "Fecha de creación", "et": "Loomise kuupäev",
        "fi": "Luontipäivä", "fr": "Date de création", "ga": "Dáta a chruthaithe", "hr": "Datum stvaranja",
        "hu": "Létrehozás dátuma", "it": "Data di creazione", "lt": "Sukūrimo datas", "lv": "Izveides datums",
        "mt": "Data meta nħoloq", "nl": "Aanmaakdatum", "pl": "Data utworzenia", "pt": "Data de criação",
        "ro": "Data creării", "sk": "Dátum vytvorenia", "sl": "Datum priprave", "sv": "Skapad den",
    },
    "last_update": {
        "bg": "Последна актуализация", "cs": "Poslední aktualizace", "da": "Seneste opdatering",
        "de": "Letzte Aktualisierung", "el": "Τελευταία επικαιροποίηση", "en": "Last update",
        "es": "Última actualización", "et": "Viimati ajakohastatud", "fi": "Viimeisin päivitys",
        "fr": "Dernière mise à jour", "ga": "An nuashonrú is déanaí", "hr": "Posljednji put ažurirano",
        "hu": "Legutóbbi frissítés", "it": "Ultimo aggiornamento", "lt": "Paskutinį kartą atnaujinta",
        "lv": "Pēdējās atjaunināšanas datums", "mt": "L-aħħar aġġornament", "nl": "Laatste wijziging",
        "pl": "Ostatnia aktualizacja", "pt": "Última atualização", "ro": "Ultima actualizare",
        "sk": "Posledná aktualizácia", "sl": "Zadnja posodobitev", "sv": "Senaste uppdatering",
    },
    "languages": {
        "bg": "Езици", "cs": "Jazyky", "da": "Sprog", "de": "Sprachen", "el": "Γλώσσες", "en": "Languages",
        "es": "Idiomas", "et": "Keeled", "fi": "Kielet", "fr": "Langues", "ga": "Teangacha", "hr": "Jezici",
        "hu": "Nyelvek", "it": "Lingue", "lt": "Kalbos", "lv": "Valodas", "mt": "Lingwi", "nl": "Talen",
        "pl": "Języki", "pt": "Línguas", "ro": "Limbi", "sk": "Jazyky", "sl": "Jeziki", "sv": "Språk",
    },
    # quizzes only; its translations are not in the message files we read, so English
    "total_score": {"en": "Total Score"},
}
# The meta columns a survey wave cannot be read without: the rules of the data choose a member's submission by them.
REQUIRED_META = ("contribution_id", "creation_date", "last_update")
# Sheet-name stem of a results export; wide exports continue on <stem>1, <stem>2, ...
CONTENT_SHEET = "Content"


def _label_key(text: object) -> str:
    return " ".join(str(text).split()).casefold()


_ROLE_OF_LABEL: dict[str, str] = {
    _label_key(label): role for role, labels in META_LABELS.items() for label in labels.values()
}


def meta_role(header: str) -> str | None:
    """The meta column a header cell is, in any EUSurvey language and any case ('Kennnummer des Beitrags' ->
    'contribution_id'), or None for a question."""
    return _ROLE_OF_LABEL.get(_label_key(header))


def continuation_sheets(stem: str, sheet_names: Sequence[str]) -> list[str]:
    """`stem` and the sheets continuing it (`Content`, `Content1`, `Content2`, ...), in column order."""
    numbered = {int(name[len(stem):]): name for name in sheet_names
                if name.startswith(stem) and name[len(stem):].isdigit()}
    found = [stem] if stem in sheet_names else []
    for n in range(1, len(numbered) + 2):
        if n not in numbered:
            break
        found.append(numbered[n])
    return found


# ---------------------------------------------------------------- cell text

_XML_ENTITY = re.compile(r"&(amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _NAMED:
        return _NAMED[name]
    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group(0)


def unescape_xml(text: str) -> str:
    """Free text as the respondent typed it: since mid-2025 EUSurvey's reporting path writes it XML-escaped
    ('Smith &amp; Sons'). Only XML's five entities and numeric references are undone, so an HTML-looking
    '&copy' someone typed stays as it is."""
    return _XML_ENTITY.sub(_entity, text) if "&" in text else text


_ANSWER_SHORTNAME = re.compile(r"\s*\([^()]*\)\s*$")


def strip_answer_shortname(text: str) -> str:
    """A choice answer without the `(shortname)` the exporter appends when "show shortnames" is on
    ('Completed(ID10)' -> 'Completed')."""
    stripped = _ANSWER_SHORTNAME.sub("", text)
    return stripped if stripped.strip() else text


# ---------------------------------------------------------------- headers

_OCCURRENCE = re.compile(r"^(.*\S)\s*\[([1-9][0-9]*)\]$")


def occurrence_key(title: str, n: int) -> str:
    """How the n-th column under a repeated title is named, in the curated `questions` table and in a sidecar."""
    return f"{title} [{n}]"


def unique_header_keys(titles: Sequence[str]) -> list[str]:
    """Header cells -> unique column keys: a title that appears once is its own key; a repeated one is keyed
    'Title [1]', 'Title [2]', ... left to right (Content before Content1). Empty cells stay ''."""
    counts: dict[str, int] = {}
    for title in titles:
        if title:
            counts[title] = counts.get(title, 0) + 1
    seen: dict[str, int] = {}
    keys = []
    for title in titles:
        if title and counts[title] > 1:
            seen[title] = seen.get(title, 0) + 1
            keys.append(occurrence_key(title, seen[title]))
        else:
            keys.append(title)
    return keys


def strip_header_shortname(header: str) -> str:
    """A header 'Question text (shortname)' without the ` (shortname)` the exporter appends when "show
    shortnames" is on; used only where the sidecar says the option was on."""
    match = re.search(r"\s+\(([^()\s]+)\)$", header)
    return header[: match.start()] if match and header[: match.start()].strip() else header


class HeaderIndex:
    """Finds the column a sidecar names in one export's header.

    A name is the exact question title (whitespace runs compare as one space), or for a title that repeats,
    'Title [n]' for its n-th column. With `shortnames`, a title may be given without the ` (shortname)` the
    header carries. Meta columns are also found by their label in any EUSurvey language, so 'User name' in a
    sidecar finds 'Nutzername' in a German export.
    """

    def __init__(self, keys: Sequence[str], titles: Sequence[str], places: Sequence[str], *,
                 shortnames: bool, file: str, sheet: str | None, header_row: int) -> None:
        self.keys = [k for k in keys if k]
        self._place = {k: p for k, p in zip(keys, places, strict=True) if k}
        self._title = {k: t for k, t in zip(keys, titles, strict=True) if k}
        self.file, self.sheet, self.header_row = file, sheet, header_row
        self._exact = set(self.keys)
        self._short: dict[str, list[str]] = {}
        if shortnames:
            for key in self.keys:
                base, n = _split_occurrence(key)
                plain = strip_header_shortname(base)
                self._short.setdefault(occurrence_key(plain, n) if n else plain, []).append(key)
        self.meta: dict[str, str] = {}
        for key in self.keys:
            role = meta_role(self._title[key])
            if role is not None and role not in self.meta:
                self.meta[role] = key

    def place(self, key: str) -> str:
        return self._place[key]

    def find(self, name: str, *, what: str = "question") -> str:
        """The header key `name` refers to, or a PipelineError saying why it finds none or several."""
        wanted = " ".join(name.split())
        if wanted in self._exact:
            return wanted
        role = meta_role(wanted)
        if role is not None and role in self.meta:
            return self.meta[role]
        short = self._short.get(wanted, [])
        if len(short) == 1:
            return short[0]
        repeated = [k for k in self.keys if self._title[k] == wanted
                    or (self._short and strip_header_shortname(self._title[k]) == wanted)]
        if len(repeated) > 1 or len(short) > 1:
            columns = repeated or short
            where = ", ".join(f"{self.place(k)} ({k!r})" for k in columns)
            choose = " or ".join(repr(occurrence_key(wanted, n)) for n in range(1, len(columns) + 1))
            raise PipelineError(
                f"the sidecar names {what} {wanted!r}, but {len(columns)} columns have this title: {where}; "
                f"write {choose} in the sidecar to say which one (counted left to right)",
                file=self.file, sheet=self.sheet, row=self.header_row, column=wanted,
            )
        raise PipelineError(
            f"the sidecar names {what} {wanted!r} but the header row does not have it "
            f"(header: {', '.join(repr(k) for k in self.keys)})",
            file=self.file, sheet=self.sheet, row=self.header_row, column=wanted,
        )


def _split_occurrence(key: str) -> tuple[str, int]:
    match = _OCCURRENCE.match(key)
    return (match.group(1), int(match.group(2))) if match else (key, 0)


def resolve_meta(index: HeaderIndex, declared: MetaColumns) -> MetaColumns:
    """The meta columns of this export: those the sidecar names, else found by label; the required ones must be
    there, or the error lists every label looked for."""
    found = {}
    for role in MetaColumns.model_fields:
        name = getattr(declared, role)
        if name is not None:
            found[role] = index.find(name, what=f"meta column ({role})")
        elif role in index.meta:
            found[role] = index.meta[role]
    missing = [role for role in REQUIRED_META if role not in found]
    if missing:
        looked_for = "; ".join(f"{role}: {', '.join(repr(v) for v in dict.fromkeys(META_LABELS[role].values()))}"
                               for role in missing)
        raise PipelineError(
            f"cannot find EUSurvey's meta column(s) {', '.join(missing)} after the questions (looked for the "
            f"labels, in any case: {looked_for}); if the export labels them otherwise, name them under "
            "survey.meta in the sidecar",
            file=index.file, sheet=index.sheet, row=index.header_row,
        )
    return MetaColumns(**found)


def resolve_survey_spec(spec: SurveySpec, index: HeaderIndex) -> SurveySpec:
    """`spec` with every column it names replaced by the exact header key of this export (and its meta columns
    found), so that the rules compare keys only. Every name must resolve, before any row is read."""
    meta = resolve_meta(index, spec.meta)  # first: without them no row can be read
    find = index.find
    identity = spec.identity.model_copy(update={
        "member_id": find(spec.identity.member_id), "organisation": find(spec.identity.organisation),
        "country": find(spec.identity.country) if spec.identity.country else None,
    })
    indicators: dict[str, str] = {}
    for question, indicator in spec.indicators.items():
        key = find(question)
        if key in indicators:
            raise PipelineError(f"the sidecar maps column {key!r} twice under indicators", file=index.file,
                                sheet=index.sheet, row=index.header_row, column=key)
        indicators[key] = indicator
    progress = spec.commitment_progress
    if progress is not None:
        progress = progress.model_copy(update={"columns": [find(c) for c in progress.columns]})
    tests = [rule.model_copy(update={"column": find(rule.column, what="test-entry column")})
             for rule in spec.test_entries]
    return spec.model_copy(update={
        "identity": identity, "indicators": indicators, "commitment_progress": progress,
        "personal": [find(c, what="personal column") for c in spec.personal], "test_entries": tests,
        "meta": meta,
    })
