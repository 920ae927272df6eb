/* Clientside helpers of Pact Monitor (served from the app's own origin: no inline script needed). */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    pact: {
        /* Mirror a page's query string into the address bar without a reload. replaceState does not tell
           Dash's Location components, so the page is not rebuilt and the focused control keeps its focus. */
        syncUrl: function (search) {
            if (typeof search !== "string") {
                return window.dash_clientside.no_update;
            }
            var target = window.location.pathname + search + window.location.hash;
            var now = window.location.pathname + window.location.search + window.location.hash;
            if (target !== now) {
                window.history.replaceState(window.history.state, "", target);
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
        /* One pane per view: hidden unless it is the chosen one (order of outputs = order of panes). */
        showPane: function (value) {
            var outputs = window.dash_clientside.callback_context.outputs_list;
            return outputs.map(function (o) { return !o.id.endsWith("-pane-" + value); });
        }
    }
});
