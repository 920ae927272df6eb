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
