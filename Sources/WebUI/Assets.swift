/// The page's stylesheet and its one script, served by bomflow itself (no CDN, no build step).
public enum Assets {
    /// Bumped with any change of the files below, so that browsers fetch them again.
    public static let version = "1"

    /// The tab icon (an SVG: a small flow of three steps).
    public static let icon = """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#2957a4"/>\
        <circle cx="8" cy="16" r="4" fill="#fff"/><circle cx="16" cy="16" r="4" fill="#fff"/><circle cx="24" cy="16" r="4" fill="#9fd5b0"/></svg>
        """

    public static let stylesheet = """
        :root { --fg: #1d232b; --muted: #5d6875; --line: #d6dbe1; --bg: #f6f7f9; --accent: #2957a4;
          --ok: #2e7d4f; --bad: #b3261e; --warn: #a05a00; --idle: #8a939e; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
        header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.2rem; background: #fff; border-bottom: 1px solid var(--line); }
        header .brand { font-weight: 700; color: var(--fg); text-decoration: none; }
        header nav a { margin-right: 1rem; color: var(--accent); text-decoration: none; }
        header form.signout { margin-left: auto; display: flex; gap: .6rem; align-items: center; color: var(--muted); }
        main { padding: 1rem 1.2rem 3rem; max-width: 1200px; }
        h1 { font-size: 1.3rem; margin: .4rem 0 1rem; } h2 { font-size: 1.05rem; margin: 1.6rem 0 .6rem; }
        a { color: var(--accent); }
        table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
        th, td { text-align: left; padding: .35rem .55rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { font-weight: 600; color: var(--muted); background: #fafbfc; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        .cards { display: flex; gap: 1rem; flex-wrap: wrap; }
        .card { background: #fff; border: 1px solid var(--line); padding: .7rem 1rem; min-width: 9rem; }
        .card b { display: block; font-size: 1.5rem; }
        .badge { display: inline-block; padding: 0 .45rem; border-radius: .6rem; font-size: .8rem; font-weight: 600; color: #fff; background: var(--idle); }
        .badge.COMPLETED, .badge.done { background: var(--ok); } .badge.FAILED, .badge.failed { background: var(--bad); }
        .badge.CANCELLED { background: #6b5b95; } .badge.TIMED_OUT { background: var(--warn); }
        .badge.PENDING, .badge.processing { background: var(--accent); } .badge.NOT_APPLICABLE { background: var(--idle); }
        .muted { color: var(--muted); } .error { color: var(--bad); font-weight: 600; }
        .notice { background: #fff4e5; border: 1px solid #f0c27a; padding: .5rem .8rem; margin: 0 0 1rem; }
        form.inline { display: inline; }
        form.filters { display: flex; gap: .8rem; flex-wrap: wrap; align-items: end; margin-bottom: 1rem; }
        form.filters label { display: flex; flex-direction: column; font-size: .8rem; color: var(--muted); }
        input, select, button { font: inherit; padding: .25rem .45rem; }
        button { cursor: pointer; border: 1px solid var(--line); background: #fff; border-radius: 3px; }
        button.danger { color: var(--bad); border-color: var(--bad); }
        .signin { max-width: 26rem; margin: 4rem auto; background: #fff; border: 1px solid var(--line); padding: 1.5rem; }
        .signin input { width: 100%; margin: .4rem 0 1rem; }
        .actions { display: flex; gap: 1rem; flex-wrap: wrap; margin: .6rem 0 1rem; }
        svg { background: #fff; border: 1px solid var(--line); max-width: 100%; height: auto; }
        svg text { font: 11px system-ui, sans-serif; fill: var(--muted); }
        dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }
        dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; word-break: break-all; }
        .depth1 { padding-left: 1.4rem; } .depth2 { padding-left: 2.6rem; } .depth3 { padding-left: 3.8rem; } .depth4 { padding-left: 5rem; }
        """

    /// Live refresh: a page whose `<main>` has `data-refresh="S"` is fetched again every S seconds
    /// and its `<main>` swapped in, unless the reader is typing in a form. Without JavaScript the
    /// pages work the same, only without refresh.
    public static let script = """
        "use strict";
        (function () {
          var main = document.getElementById("main");
          if (!main || !main.dataset.refresh) { return; }
          var seconds = Math.max(2, parseInt(main.dataset.refresh, 10) || 5);
          function busy() {
            var active = document.activeElement;
            return active && (active.tagName === "INPUT" || active.tagName === "SELECT" || active.tagName === "TEXTAREA");
          }
          function refresh() {
            if (document.hidden || busy()) { return; }
            fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
              .then(function (response) { return response.ok ? response.text() : null; })
              .then(function (text) {
                if (!text) { return; }
                var next = new DOMParser().parseFromString(text, "text/html").getElementById("main");
                if (next && !busy()) { main.replaceChildren.apply(main, Array.from(next.childNodes)); }
              })
              .catch(function () {});
          }
          window.setInterval(refresh, seconds * 1000);
        })();
        """
}
