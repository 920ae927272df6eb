/* Clientside helpers of Pact Monitor (served from the app's own origin: no inline script needed). */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    pact: {
        /* Mirror a page's query string into the address bar without a reload. pushState does not tell
           Dash's Location components, so the page is not rebuilt and the focused control keeps its focus.
           A view the person chose gets a history entry of its own, so Back and Forward move between views (the
           Location component hears popstate and rebuilds the page from the query); the page's first sync only
           tidies the address of the entry it was opened with. */
        syncUrl: function (search) {
            if (typeof search !== "string") {
                return window.dash_clientside.no_update;
            }
            var target = window.location.pathname + search + window.location.hash;
            var now = window.location.pathname + window.location.search + window.location.hash;
            if (target !== now) {
                var triggered = (window.dash_clientside.callback_context || {}).triggered || [];
                var initial = triggered.length === 0 || triggered[0].prop_id === ".";
                if (initial) {
                    window.history.replaceState(window.history.state, "", target);
                } else {
                    window.history.pushState(window.history.state, "", target);
                }
            }
            return window.dash_clientside.no_update;
        },
        /* The summary line of a checkbox group: "all", one or two names, or "n selected". */
        selectionText: function (values, options) {
            var chosen = (options || []).filter(function (o) {
                return (values || []).indexOf(o.value) !== -1;
            }).map(function (o) { return o.label; });
            if (chosen.length === 0) { return "all"; }
            if (chosen.length <= 2) { return chosen.join(", "); }
            return chosen.length + " selected";
        },
        /* The phone menu: the button opens and closes it, following a link closes it; aria-expanded follows. */
        toggleMenu: function (clicks, pathname, search, isOpen) {
            var byButton = (window.dash_clientside.callback_context.triggered || []).some(function (t) {
                return t.prop_id === "navbar-toggler.n_clicks";
            });
            var open = byButton ? !isOpen : false;
            return [open, open ? "true" : "false"];
        },
        /* One pane per view: hidden unless it is the chosen one (order of outputs = order of panes). */
        showPane: function (value) {
            var outputs = window.dash_clientside.callback_context.outputs_list;
            return outputs.map(function (o) { return !o.id.endsWith("-pane-" + value); });
        }
    }
});

/* Back and Forward within one page: the entries syncUrl pushed are views of the same page, which Dash's Location
   component does not see (it still holds the query the page was opened with), so the page is opened afresh from
   the entry's query. Moving between pages is left to the Location component. */
(function () {
    var shownPath = window.location.pathname;
    // Registered before Dash mounts its Location component, so this listener runs first and can keep it from
    // starting a rebuild that the reload would only cancel.
    window.addEventListener("popstate", function (event) {
        if (window.location.pathname === shownPath) {
            event.stopImmediatePropagation();
            window.location.reload();
            return;
        }
        shownPath = window.location.pathname;
    });
    window.addEventListener("_dashprivate_pushstate", function () { shownPath = window.location.pathname; });
}());

/* Charts on a narrow screen (a phone): long titles wrap instead of being clipped, a year axis labels every other
   year upright instead of cutting "2022" to "202", smaller title type. Applied after each draw of a chart that is
   narrower than 576 px; the figure itself (and so every export of it) is unchanged. */
(function () {
    var NARROW = 576;
    var tweaked = new WeakSet();
    function wrap(text, width) {
        if (typeof text !== "string" || text.indexOf("<br>") !== -1 || text.length <= width) { return text; }
        var lines = [], line = "";
        text.split(" ").forEach(function (word) {
            if (line && (line + " " + word).length > width) { lines.push(line); line = word; }
            else { line = line ? line + " " + word : word; }
        });
        if (line) { lines.push(line); }
        return lines.join("<br>");
    }
    function fit(gd) {
        var layout = gd.layout;
        if (!layout || tweaked.has(layout) || !window.Plotly || !gd._fullLayout) { return; }
        var width = gd.clientWidth;
        if (!width || width >= NARROW) { return; }
        tweaked.add(layout);
        var update = {};
        var title = layout.title || {};
        var chars = Math.max(24, Math.floor(width / 8.5));
        var lines = 1;
        if (typeof title.text === "string") {
            update["title.text"] = wrap(title.text, chars);
            lines = update["title.text"].split("<br>").length;
            update["title.font.size"] = 14;
        }
        if (title.subtitle && typeof title.subtitle.text === "string") {
            var sub = wrap(title.subtitle.text, Math.floor(chars * 1.2));
            update["title.subtitle.text"] = sub;
            lines += sub.split("<br>").length;
        }
        if (lines > 2 && layout.margin) {
            update["margin.t"] = (layout.margin.t || 56) + 18 * (lines - 2);
        }
        var x = gd._fullLayout.xaxis;
        if (x && x.type === "linear" && x.dtick === 1 && x.range && x.range[1] - x.range[0] > 6) {
            update["xaxis.dtick"] = 2;
            update["xaxis.tickangle"] = 0;
        }
        if (layout.legend && layout.legend.orientation === "h" && layout.showlegend !== false) {
            // Below the axis labels, at the foot of the chart, with room made for it (one entry a line at worst).
            var entries = (gd.data || []).filter(function (t) { return t.showlegend !== false; }).length;
            update["legend.font.size"] = 11;
            update["legend.yref"] = "container";
            update["legend.y"] = 0;
            update["legend.yanchor"] = "bottom";
            update["margin.b"] = 50 + 19 * entries;
            var box = gd.closest(".dash-graph");
            if (box) {  // the graph's box is as tall as the figure (ui.graph_style): it grows with the legend
                box.style.height = ((gd._fullLayout.height || 380) + 19 * entries) + "px";
            }
        }
        window.Plotly.relayout(gd, update).catch(function () { return null; });
    }
    function watch(root) {
        (root.querySelectorAll ? root.querySelectorAll(".js-plotly-plot") : []).forEach(function (gd) {
            if (gd.__pactWatched || typeof gd.on !== "function") { return; }
            gd.__pactWatched = true;
            gd.on("plotly_afterplot", function () { fit(gd); });
            fit(gd);
        });
    }
    new MutationObserver(function () { watch(document); })
        .observe(document.documentElement, {childList: true, subtree: true});
}());

/* Print: every AG Grid lays out all its rows (domLayout "print", no virtualised rows left blank below the
   fold), then goes back to its scrolling box. */
(function () {
    function grids() {
        var api = window.dash_ag_grid && window.dash_ag_grid.getApi;
        if (!api) { return []; }
        return Array.prototype.map.call(document.querySelectorAll(".ag-theme-alpine[id]"), function (el) {
            try { return api(el.id); } catch (e) { return null; }
        }).filter(function (a) { return a; });
    }
    window.addEventListener("beforeprint", function () {
        grids().forEach(function (api) { api.setGridOption("domLayout", "print"); });
    });
    window.addEventListener("afterprint", function () {
        grids().forEach(function (api) { api.setGridOption("domLayout", "normal"); });
    });
}());
