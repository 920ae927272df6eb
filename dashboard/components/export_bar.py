"""The export toolbar: download links for a view (CSV, XLSX, PNG, SVG) and the page's briefing-pack button.

The files come from plain HTTP routes (dashboard/api.py), so any gunicorn worker can serve them and the browser's
own download manager takes over: the page never waits. Links carry the page's current query string, kept in step
with the page's `<page>-permalink` store by a clientside callback, so a file always matches the view on screen.
The briefing pack takes a few seconds (charts are drawn on the server), so its button fetches the ZIP in the
background and shows progress (elapsed seconds, then kilobytes received) in a live region, then saves it.
"""

from __future__ import annotations

from urllib.parse import quote

from dash import ALL, MATCH, Input, Output, State, clientside_callback, html

LINK = "pm-export-link"
PACK_BUTTON = "pm-pack-button"
PACK_STATUS = "pm-pack-status"
FORMATS: tuple[tuple[str, str, str], ...] = (
    ("csv", "CSV", "bi-filetype-csv"),
    ("xlsx", "XLSX", "bi-file-earmark-spreadsheet"),
    ("png", "PNG", "bi-file-earmark-image"),
    ("svg", "SVG", "bi-filetype-svg"),
)
_registered: set[str] = set()


def export_href(page: str, view: str, fmt: str, search: str | None = "") -> str:
    return f"/export/{quote(page)}/{quote(view)}.{fmt}{search or ''}"


def pack_href(page: str, search: str | None = "") -> str:
    return f"/export/{quote(page)}/pack.zip{search or ''}"


def export_links(page: str, view: str, search: str | None = "", *, what: str = "this view",
                 images: bool = True) -> html.Div:
    """"Download: CSV XLSX [PNG SVG]" for one chart or table of `page`."""
    formats = FORMATS if images else FORMATS[:2]
    links = [
        html.A(
            [html.I(className=f"bi {icon} me-1", **{"aria-hidden": "true"}), label],
            id={"type": LINK, "page": page, "view": view, "fmt": fmt},
            href=export_href(page, view, fmt, search),
            download="",
            className="btn btn-outline-secondary btn-sm",
            title=f"Download {what} as {label}",
            **{"aria-label": f"Download {what} as {label}"},
        )
        for fmt, label, icon in formats
    ]
    return html.Div(
        [html.Span("Download:", className="small text-body-secondary me-2"),
         html.Div(links, className="btn-group btn-group-sm", role="group",
                  **{"aria-label": f"Download {what}"})],
        className="export-bar d-flex align-items-center flex-wrap mt-1 mb-2",
    )


def pack_button(page: str) -> html.Div:
    """The one-click briefing pack: Word briefing, workbook and chart images of the page's current view."""
    return html.Div(
        [
            html.Button(
                [html.I(className="bi bi-file-earmark-zip me-1", **{"aria-hidden": "true"}), "Briefing pack (ZIP)"],
                id={"type": PACK_BUTTON, "page": page},
                className="btn btn-primary btn-sm",
                type="button",
                n_clicks=0,
                title="A Word briefing with the headline figures, this view's charts, sources and permalink, "
                      "plus the data as XLSX and the charts as PNG",
            ),
            html.Span(id={"type": PACK_STATUS, "page": page}, role="status", className="small ms-2",
                      **{"aria-live": "polite"}),
        ],
        className="pack-bar d-flex align-items-center flex-wrap mb-2",
    )


_HREF_JS = """
function (search, ids) {
    if (!Array.isArray(ids)) { return window.dash_clientside.no_update; }
    var query = (typeof search === "string") ? search : "";
    return ids.map(function (id) {
        return "/export/" + encodeURIComponent(id.page) + "/" + encodeURIComponent(id.view) + "." + id.fmt + query;
    });
}
"""

_PACK_JS = """
async function (nClicks) {
    var dc = window.dash_clientside;
    if (!nClicks) { return dc.no_update; }
    var triggered = dc.callback_context.triggered[0].prop_id;
    var button = JSON.parse(triggered.slice(0, triggered.lastIndexOf(".")));
    var status = {type: "pm-pack-status", page: button.page};
    var url = "/export/" + encodeURIComponent(button.page) + "/pack.zip" + window.location.search;
    var started = Date.now();
    var seconds = function () { return ((Date.now() - started) / 1000).toFixed(0); };
    dc.set_props(button, {disabled: true});
    dc.set_props(status, {children: "Preparing the briefing pack…"});
    var tick = setInterval(function () {
        dc.set_props(status, {children: "Preparing the briefing pack… " + seconds() + " s"});
    }, 500);
    try {
        var response = await fetch(url, {credentials: "same-origin"});
        clearInterval(tick);
        if (!response.ok) {
            var reason = response.status + " " + response.statusText;
            try {
                var problem = await response.json();
                reason = problem.error + (problem.details && problem.details.length ? ": " + problem.details.join("; ") : "");
            } catch (ignored) { /* not JSON: keep the status line */ }
            throw new Error(reason);
        }
        var total = Number(response.headers.get("Content-Length")) || 0;
        var reader = response.body.getReader();
        var chunks = [];
        var received = 0;
        for (;;) {
            var part = await reader.read();
            if (part.done) { break; }
            chunks.push(part.value);
            received += part.value.length;
            dc.set_props(status, {children: "Downloading the briefing pack… " + Math.round(received / 1024) + " KB" +
                                            (total ? " of " + Math.round(total / 1024) + " KB" : "")});
        }
        var blob = new Blob(chunks, {type: "application/zip"});
        // Chromium may still be closing the finished request when the script has read the last byte; starting
        // the download at once would be logged as that request aborted, so let the network layer finish first.
        await new Promise(function (resolve) { setTimeout(resolve, 250); });
        var match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
        var link = document.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = match ? match[1] : "pact_briefing.zip";
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(link.href); }, 60000);
        return "Briefing pack saved: " + link.download + " (" + Math.round(blob.size / 1024) + " KB, " +
               ((Date.now() - started) / 1000).toFixed(1) + " s).";
    } catch (error) {
        return "The briefing pack could not be made: " + error.message;
    } finally {
        clearInterval(tick);
        dc.set_props(button, {disabled: false});
    }
}
"""


def register_export_bar(page: str) -> None:
    """Keep `page`'s export links on its current query string (call once, where the page registers)."""
    if page in _registered:
        return
    _registered.add(page)
    pattern = {"type": LINK, "page": page, "view": ALL, "fmt": ALL}
    clientside_callback(_HREF_JS, Output(pattern, "href"), Input(f"{page}-permalink", "data"),
                        State(pattern, "id"), prevent_initial_call=True)
    if "__pack__" not in _registered:
        _registered.add("__pack__")
        clientside_callback(_PACK_JS, Output({"type": PACK_STATUS, "page": MATCH}, "children"),
                            Input({"type": PACK_BUTTON, "page": MATCH}, "n_clicks"), prevent_initial_call=True)

