"""The export toolbar: download links for a view (CSV, XLSX, PNG, SVG) and the page's briefing-pack button.

The files come from plain HTTP routes (dashboard/api.py), so any gunicorn worker can serve them and the browser's
own download manager takes over: the page never waits. Links carry the page's current query string, kept in step
with the page's `<page>-permalink` store by a clientside callback, so a file always matches the view on screen.
The briefing pack takes a few seconds (charts are drawn on the server): its button starts an ordinary download
with a one-time token, shows the elapsed time in a live region and watches for the cookie the server sets with
that token when the pack is sent (or failed), the classic way to follow a file download without holding it in
the page: the browser's own download manager receives the file, and any worker can serve it.
"""

from __future__ import annotations

from urllib.parse import quote

from dash import ALL, MATCH, Input, Output, State, clientside_callback, html

from dashboard.export_registry import VIEW_FORMATS
from dashboard.ui import aria

LINK = "pm-export-link"
PACK_BUTTON = "pm-pack-button"
PACK_STATUS = "pm-pack-status"

_registered: set[str] = set()


def export_href(page: str, view: str, fmt: str, search: str | None = "") -> str:
    return f"/export/{quote(page)}/{quote(view)}.{fmt}{search or ''}"


def export_links(page: str, view: str, search: str | None = "", *, what: str = "this view",
                 images: bool = True) -> html.Div:
    """"Download: CSV XLSX [PNG SVG]" for one chart or table of `page`."""
    formats = [f for f in VIEW_FORMATS.values() if images or not f.chart]
    links = [
        html.A(
            [html.I(className=f"bi {f.icon} me-1", **aria(hidden=True)), f.label],
            id={"type": LINK, "page": page, "view": view, "fmt": f.ext},
            href=export_href(page, view, f.ext, search),
            download="",
            className="btn btn-outline-secondary btn-sm",
            title=f"Download {what} as {f.label}",
            **aria(label=f"Download {what} as {f.label}"),
        )
        for f in formats
    ]
    return html.Div(
        [html.Span("Download:", className="small text-body-secondary me-2"),
         html.Div(links, className="btn-group btn-group-sm", role="group",
                  **aria(label=f"Download {what}"))],
        className="export-bar d-flex align-items-center flex-wrap mt-1 mb-2",
    )


def pack_button(page: str) -> html.Div:
    """The one-click briefing pack: Word briefing, workbook and chart images of the page's current view."""
    return html.Div(
        [
            html.Button(
                [html.I(className="bi bi-file-earmark-zip me-1", **aria(hidden=True)), "Briefing pack (ZIP)"],
                id={"type": PACK_BUTTON, "page": page},
                className="btn btn-primary btn-sm",
                type="button",
                n_clicks=0,
                title="A Word briefing with the headline figures, this view's charts, sources and permalink, "
                      "plus the data as XLSX and the charts as PNG",
            ),
            html.Span(id={"type": PACK_STATUS, "page": page}, role="status", className="small ms-2",
                      **aria(live="polite")),
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
function (nClicks) {
    var dc = window.dash_clientside;
    if (!nClicks) { return dc.no_update; }
    var triggered = dc.callback_context.triggered[0].prop_id;
    var button = JSON.parse(triggered.slice(0, triggered.lastIndexOf(".")));
    var status = {type: "pm-pack-status", page: button.page};
    var token = Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
    var search = window.location.search;
    var link = document.createElement("a");
    link.href = "/export/" + encodeURIComponent(button.page) + "/pack.zip" + search + (search ? "&" : "?") +
                "download_token=" + token;
    link.download = "";
    document.body.appendChild(link);
    link.click();
    link.remove();
    dc.set_props(button, {disabled: true});
    var started = Date.now();
    var seconds = function () { return ((Date.now() - started) / 1000).toFixed(0); };
    var timer = setInterval(function () {
        var cookie = document.cookie.split("; ").filter(function (c) { return c.indexOf("pm_pack=" + token) === 0; })[0];
        if (cookie || Date.now() - started > 180000) {
            clearInterval(timer);
            document.cookie = "pm_pack=; Max-Age=0; Path=/; SameSite=Strict";
            dc.set_props(button, {disabled: false});
            var message = !cookie ? "The briefing pack is taking unusually long; it will still download when ready."
                : (cookie.slice(-6) === "-error" ? "The briefing pack could not be made; CSV and XLSX remain available."
                   : "Briefing pack ready after " + seconds() + " s: it is in your downloads.");
            dc.set_props(status, {children: message});
            return;
        }
        dc.set_props(status, {children: "Preparing the briefing pack… " + seconds() + " s"});
    }, 500);
    return "Preparing the briefing pack…";
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

