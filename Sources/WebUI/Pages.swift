internal import Interchange
internal import Notifications
public import Storage
public import WorkflowModel

/// The operator pages (docs/UI.md), rendered on the server from the store's values: plain HTML
/// that works without JavaScript, no inline script or style (the Content-Security-Policy
/// forbids both), every value escaped.
public enum Pages {
    /// The frame of every signed-in page.
    static func layout(title: String, viewer: Viewer?, refresh: Int? = nil, notice: String? = nil, _ body: String)
        -> String
    {
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(HTML.escape(title)) · bomflow</title>
            <link rel="icon" href="/ui/assets/icon.svg?v=\(Assets.version)" type="image/svg+xml">
            <link rel="stylesheet" href="/ui/assets/style.css?v=\(Assets.version)">
            <script src="/ui/assets/app.js?v=\(Assets.version)" defer></script></head><body>
            """
        if let viewer {
            html += """
                <header><a class="brand" href="/ui">bomflow</a><nav><a href="/ui">Overview</a><a href="/ui/workflows">Workflows</a></nav>
                <form class="signout" method="post" action="/ui/signout">\(viewer.csrfField)<span>\(HTML.escape(viewer.name ?? "no key"))\(viewer.isAdmin ? " · ADMIN" : " · read only")</span><button type="submit">Sign out</button></form></header>
                """
        }
        html += refresh.map { #"<main id="main" data-refresh="\#($0)">"# } ?? #"<main id="main">"#
        if let notice { html += #"<p class="notice">\#(HTML.escape(notice))</p>"# }
        html += body + "</main></body></html>\n"
        return html
    }

    // MARK: Sign-in and errors

    /// The sign-in form: an API key in, a session cookie out.
    public static func signIn(csrf: String, error: String? = nil) -> String {
        layout(
            title: "Sign in", viewer: nil,
            """
            <form class="signin" method="post" action="/ui/signin">
            <h1>bomflow</h1>
            \(error.map { #"<p class="error">\#(HTML.escape($0))</p>"# } ?? "")
            <label for="key">API key</label>
            <input id="key" name="key" type="password" autocomplete="off" required autofocus>
            <input type="hidden" name="csrf" value="\(HTML.escape(csrf))">
            <button type="submit">Sign in</button>
            <p class="muted">A READ key sees; an ADMIN key may also cancel, restart, release, pause and redeliver.</p>
            </form>
            """)
    }

    /// An error page (refused action, unknown workflow).
    public static func error(title: String, message: String, viewer: Viewer?) -> String {
        layout(
            title: title, viewer: viewer,
            #"<h1>\#(HTML.escape(title))</h1><p class="error">\#(HTML.escape(message))</p><p><a href="/ui">Overview</a></p>"#
        )
    }

    // MARK: Overview

    /// What the overview shows.
    public struct Overview: Sendable {
        public var figures: CheapFigures
        public var queues: [QueueFigures]
        public var throughput: Throughput
        /// Recently finished workflows with a failed or cancelled step, newest first.
        public var failures: [Workflow]
        /// Processing workflows with a timed-out step, newest first.
        public var timeouts: [Workflow]
        public var now: Timestamp

        public init(
            figures: CheapFigures, queues: [QueueFigures], throughput: Throughput, failures: [Workflow],
            timeouts: [Workflow], now: Timestamp
        ) {
            self.figures = figures
            self.queues = queues
            self.throughput = throughput
            self.failures = failures
            self.timeouts = timeouts
            self.now = now
        }
    }

    public static func overview(_ overview: Overview, viewer: Viewer, notice: String? = nil) -> String {
        let figures = overview.figures
        var body = "<h1>Overview</h1><div class=\"cards\">"
        for (label, value, link) in [
            ("Processing", figures.processing, "/ui/workflows?state=processing"),
            ("Done", figures.done, "/ui/workflows?state=done"), ("Workflows", figures.workflows, "/ui/workflows"),
            ("Projects", figures.projects, nil),
        ] {
            let number = link.map { #"<a href="\#($0)">\#(value)</a>"# } ?? "\(value)"
            body += #"<div class="card"><span class="muted">\#(label)</span><b>\#(number)</b></div>"#
        }
        body += "</div>"
        body += "<h2>Finished in the last hour</h2>" + Charts.throughput(overview.throughput, now: overview.now)
        body += "<h2>Queues</h2>" + queueTable(overview.queues, viewer: viewer, now: overview.now)
        body += "<h2>Recent failures</h2>"
        body += workflowTable(
            overview.failures, now: overview.now, empty: "No failed or cancelled workflow among the recently finished.")
        body += "<h2>Timed-out steps</h2>"
        body += workflowTable(
            overview.timeouts, now: overview.now, empty: "No processing workflow has a timed-out step.")
        return layout(title: "Overview", viewer: viewer, refresh: 5, notice: notice, body)
    }

    static func queueTable(_ queues: [QueueFigures], viewer: Viewer, now: Timestamp) -> String {
        guard !queues.isEmpty else {
            return #"<p class="muted">No step is ready or claimed, and no queue is paused.</p>"#
        }
        var html =
            #"<table id="queues"><thead><tr><th>Step</th><th class="num">Ready</th><th class="num">Claimed</th><th>Oldest ready</th><th>State</th>\#(viewer.isAdmin ? "<th></th>" : "")</tr></thead><tbody>"#
        for queue in queues {
            let name = HTML.escape(queue.step.rawValue)
            html += "<tr><td>\(name)</td><td class=\"num\">\(queue.ready)</td><td class=\"num\">\(queue.claimed)</td>"
            html += "<td>\(queue.oldestReady.map { age($0, now: now) } ?? "—")</td>"
            html += "<td>\(queue.paused ? #"<span class="badge TIMED_OUT">paused</span>"# : "running")</td>"
            if viewer.isAdmin {
                html += """
                    <td><form class="inline" method="post" action="/ui/queue/\(HTML.escape(HTML.queryValue(queue.step.rawValue)))">\(viewer.csrfField)<input type="hidden" name="paused" value="\(queue.paused ? "false" : "true")"><button type="submit">\(queue.paused ? "Resume" : "Pause")</button></form></td>
                    """
            }
            html += "</tr>"
        }
        return html + "</tbody></table>"
    }

    static func workflowTable(_ workflows: [Workflow], now: Timestamp, empty: String) -> String {
        guard !workflows.isEmpty else { return #"<p class="muted">\#(HTML.escape(empty))</p>"# }
        var html =
            "<table class=\"workflows\"><thead><tr><th>Token</th><th>Template</th><th>State</th><th>Steps</th><th>Labels</th><th>Created</th></tr></thead><tbody>"
        for workflow in workflows {
            let state = stateName(workflow)
            let finished = workflow.steps.count { $0.status.isTerminal }
            let problem = workflow.steps.first { $0.status == .failed || $0.status == .timedOut }
            html += "<tr><td><a href=\"/ui/workflow/\(workflow.token)\">\(workflow.token)</a></td>"
            html += "<td>\(HTML.escape(workflow.template?.rawValue ?? "custom"))</td>"
            html += "<td><span class=\"badge \(state)\">\(state)</span>"
            if let problem {
                html += " <span class=\"muted\">\(HTML.escape(problem.name.rawValue))"
                if let reason = problem.failureReason { html += ": " + HTML.escape(reason) }
                html += "</span>"
            }
            html += "</td><td class=\"num\">\(finished)/\(workflow.steps.count)</td><td>\(labels(workflow.labels))</td>"
            html += "<td>\(age(workflow.createdAt, now: now))</td></tr>"
        }
        return html + "</tbody></table>"
    }

    /// `processing`, `failed` (a step failed or was cancelled) or `done`.
    static func stateName(_ workflow: Workflow) -> String {
        if workflow.isProcessing { return "processing" }
        return workflow.steps.contains { $0.status == .failed || $0.status == .cancelled } ? "failed" : "done"
    }

    static func labels(_ labels: Labels) -> String {
        labels.map { "<code>\(HTML.escape($0.key))=\(HTML.escape($0.value))</code>" }.joined(separator: " ")
    }

    /// `3 min ago` (or `in 5 min` for a time to come), the exact time as its title.
    static func age(_ time: Timestamp, now: Timestamp) -> String {
        let difference = (now.milliseconds - time.milliseconds) / 1000
        let seconds = abs(difference)
        let amount: String
        switch seconds {
        case ..<60: amount = "\(seconds) s"
        case ..<3600: amount = "\(seconds / 60) min"
        case ..<86400: amount = "\(seconds / 3600) h"
        default: amount = "\(seconds / 86400) d"
        }
        let relative = difference >= 0 ? "\(amount) ago" : "in \(amount)"
        return #"<time datetime="\#(ISOTime.string(time))" title="\#(ISOTime.string(time))">\#(relative)</time>"#
    }

    // MARK: Workflow list

    /// The list's filters as the form sends them (strings: echoed into the form).
    public struct ListFilters: Sendable, Equatable {
        public var state = ""
        public var template = ""
        public var label = ""
        public var project = ""
        public var createdAfter = ""

        public init() {}

        /// The query string of these filters (and a cursor), for links.
        public func query(cursor: UInt64? = nil) -> String {
            var parts: [String] = []
            for (name, value) in [
                ("state", state), ("template", template), ("label", label), ("project", project),
                ("createdAfter", createdAfter),
            ] where !value.isEmpty {
                parts.append("\(name)=\(HTML.queryValue(value))")
            }
            if let cursor { parts.append("cursor=\(cursor)") }
            return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
        }
    }

    public static func workflowList(
        _ workflows: [Workflow], filters: ListFilters, nextCursor: UInt64?, scanned: Int, viewer: Viewer,
        now: Timestamp,
        error: String? = nil
    ) -> String {
        var body = "<h1>Workflows</h1>"
        body += #"<form class="filters" method="get" action="/ui/workflows">"#
        body += #"<label>State<select name="state">"#
        for (value, label) in [("", "any"), ("processing", "processing"), ("done", "done")] {
            body += #"<option value="\#(value)"\#(filters.state == value ? " selected" : "")>\#(label)</option>"#
        }
        body += "</select></label>"
        for (name, label, value, hint) in [
            ("template", "Template", filters.template, "BOM_UPLOAD"), ("label", "Label", filters.label, "key:value"),
            ("project", "Project UUID", filters.project, ""),
            ("createdAfter", "Created after (UTC)", filters.createdAfter, "2026-12-01T00:00"),
        ] {
            body +=
                #"<label>\#(label)<input name="\#(name)" value="\#(HTML.escape(value))" placeholder="\#(hint)"></label>"#
        }
        body += #"<button type="submit">Filter</button> <a href="/ui/workflows">Clear</a></form>"#
        if let error { body += #"<p class="error">\#(HTML.escape(error))</p>"# }
        body += workflowTable(workflows, now: now, empty: "No workflow matches.")
        body += #"<p class="muted">\#(workflows.count) shown of \#(scanned) read (newest first)."#
        if let nextCursor {
            body +=
                #" <a id="next" href="/ui/workflows\#(HTML.escape(filters.query(cursor: nextCursor)))">Next page</a>"#
        }
        body += "</p>"
        return layout(title: "Workflows", viewer: viewer, body)
    }

    // MARK: Workflow detail

    public static func workflow(
        _ workflow: Workflow, history: HistoryPage, viewer: Viewer, now: Timestamp, notice: String? = nil
    ) -> String {
        let token = workflow.token.description
        let state = stateName(workflow)
        var body =
            #"<h1>Workflow <span id="token">\#(token)</span> <span class="badge \#(state)" id="state">\#(state)</span></h1>"#
        body += #"<dl class="meta">"#
        var rows: [(String, String)] = [
            ("Template", HTML.escape(workflow.template?.rawValue ?? "custom")),
            ("Created", age(workflow.createdAt, now: now)),
            ("Created by", HTML.escape(workflow.createdBy ?? "—")), ("Version", "\(workflow.version)"),
            ("Priority", "\(workflow.priority)"), ("Dependency-Track status", workflow.tokenStatus.rawValue),
            ("Labels", labels(workflow.labels).isEmpty ? "—" : labels(workflow.labels)),
        ]
        if let key = workflow.concurrencyKey {
            rows.append(("Concurrency key", HTML.escape(key) + (workflow.isHeld ? " (held)" : "")))
        }
        for (name, value) in rows { body += "<dt>\(name)</dt><dd>\(value)</dd>" }
        body += "</dl>"
        if viewer.isAdmin { body += actions(workflow, viewer: viewer) }
        body += "<h2>Steps</h2>" + stepTable(workflow, viewer: viewer, now: now)
        body += "<h2>Timeline</h2>" + Charts.timeline(workflow, history: history.events, now: now)
        body += "<h2>History</h2>" + historyTable(token: token, history, viewer: viewer, now: now)
        return layout(title: "Workflow \(token)", viewer: viewer, refresh: 5, notice: notice, body)
    }

    static func actions(_ workflow: Workflow, viewer: Viewer) -> String {
        let base = "/ui/workflow/\(workflow.token)"
        var html = #"<div class="actions">"#
        if workflow.isProcessing {
            html += """
                <form id="cancel" method="post" action="\(base)/cancel">\(viewer.csrfField)<input name="reason" placeholder="reason" maxlength="4096"> <button class="danger" type="submit">Cancel workflow</button></form>
                """
        } else {
            html +=
                #"<form id="restart" method="post" action="\#(base)/restart">\#(viewer.csrfField)<select name="step">"#
            for step in workflow.stepsInTreeOrder {
                html +=
                    #"<option value="\#(HTML.escape(step.name.rawValue))">\#(HTML.escape(step.name.rawValue))</option>"#
            }
            html += #"</select> <button type="submit">Restart from step</button></form>"#
        }
        return html + "</div>"
    }

    static func stepTable(_ workflow: Workflow, viewer: Viewer, now: Timestamp) -> String {
        let ready = Set(workflow.readySteps)
        var html =
            #"<table id="steps"><thead><tr><th>Step</th><th>Status</th><th>Claim</th><th>Progress</th><th>Started</th><th>Updated</th><th>Failure reason</th>\#(viewer.isAdmin ? "<th></th>" : "")</tr></thead><tbody>"#
        for step in workflow.stepsInTreeOrder {
            var depth = 0
            var parent = step.parent
            while let name = parent, depth < 4 {
                depth += 1
                parent = workflow.step(name)?.parent
            }
            let name = HTML.escape(step.name.rawValue)
            html +=
                #"<tr><td class="depth\#(depth)">\#(name)</td><td><span class="badge \#(step.status.rawValue)">\#(step.status.rawValue)</span>\#(ready.contains(step.name) ? " <span class=\"muted\">ready</span>" : "")</td>"#
            var claim = step.attempts > 0 ? "attempts \(step.attempts)" : "—"
            if let held = step.claim {
                claim =
                    "\(HTML.escape(held.worker)), attempt \(held.attempt), lease until \(age(held.leaseExpiresAt, now: now))"
            }
            html += "<td>\(claim)</td><td>"
            if let progress = step.progress { html += HTML.escape(progress.summary) } else { html += "—" }
            html +=
                "</td><td>\(step.startedAt.map { age($0, now: now) } ?? "—")</td><td>\(age(step.updatedAt, now: now))</td>"
            html += "<td>\(step.failureReason.map(HTML.escape) ?? "")</td>"
            if viewer.isAdmin {
                html += "<td>"
                if step.claim != nil {
                    html += """
                        <form class="inline" method="post" action="/ui/workflow/\(workflow.token)/step/\(HTML.escape(step.name.rawValue))/release">\(viewer.csrfField)<button type="submit">Release lease</button></form> 
                        """
                }
                if !step.status.isTerminal {
                    html += """
                        <form class="inline" method="post" action="/ui/queue/\(HTML.escape(step.name.rawValue))">\(viewer.csrfField)<input type="hidden" name="paused" value="true"><input type="hidden" name="back" value="/ui/workflow/\(workflow.token)"><button type="submit">Pause queue</button></form>
                        """
                }
                html += "</td>"
            }
            html += "</tr>"
        }
        return html + "</tbody></table>"
    }

    static func historyTable(token: String, _ history: HistoryPage, viewer: Viewer, now: Timestamp) -> String {
        guard !history.events.isEmpty else { return #"<p class="muted">No events recorded.</p>"# }
        var html = ""
        if history.first > 1 {
            html +=
                #"<p class="muted">Events before #\#(history.first) were dropped (a workflow keeps \#(HistoryEvent.limit)).</p>"#
        }
        html +=
            #"<table id="history"><thead><tr><th class="num">#</th><th>When</th><th>Event</th><th>Step</th><th>Change</th><th>By</th><th>Details</th></tr></thead><tbody>"#
        for event in history.events.reversed() {
            var change = ""
            if let from = event.from, let to = event.to { change = "\(from.rawValue) → \(to.rawValue)" }
            if let attempt = event.attempt { change += (change.isEmpty ? "" : ", ") + "attempt \(attempt)" }
            if event.kind.isSummarised { change += (change.isEmpty ? "" : ", ") + "×\(event.count)" }
            var details = [event.detail, event.reason].compactMap { $0 }.map(HTML.escape).joined(separator: " — ")
            if let webhook = event.webhook { details += " <span class=\"muted\">webhook \(webhook)</span>" }
            if viewer.isAdmin, let delivery = event.delivery {
                details += """
                     <form class="inline" method="post" action="/ui/delivery/\(delivery)/redeliver">\(viewer.csrfField)<input type="hidden" name="back" value="/ui/workflow/\(token)"><button type="submit">Redeliver</button></form>
                    """
            }
            html +=
                "<tr><td class=\"num\">\(event.sequence)</td><td>\(age(event.at, now: now))</td><td>\(event.kind.rawValue)</td>"
            html += "<td>\(event.step.map { HTML.escape($0.rawValue) } ?? "")</td><td>\(change)</td>"
            html += "<td>\(HTML.escape(HistoryShapes.describe(event.origin)))</td><td>\(details)</td></tr>"
        }
        return html + "</tbody></table>"
    }
}

extension Pages {
    /// `2026-12-01`, `2026-12-01T08:00` or `2026-12-01T08:00:30` (UTC; a trailing `Z` allowed) as a
    /// time, or nil.
    public static func parseUTC(_ text: String) -> Timestamp? {
        var text = Substring(text)
        if text.hasSuffix("Z") { text = text.dropLast() }
        let halves = text.split(separator: "T", omittingEmptySubsequences: false)
        guard (1...2).contains(halves.count) else { return nil }
        let date = halves[0].split(separator: "-", omittingEmptySubsequences: false).map { Int64($0) }
        let clock =
            halves.count == 2 ? halves[1].split(separator: ":", omittingEmptySubsequences: false).map { Int64($0) } : []
        guard date.count == 3, let year = date[0], let month = date[1], let day = date[2], (1...12).contains(month),
            (1...31).contains(day), (1970...9999).contains(year), halves.count == 1 || (2...3).contains(clock.count)
        else { return nil }
        let parts = clock.compactMap { $0 }
        guard parts.count == clock.count else { return nil }
        let hour = parts.first ?? 0
        let minute = parts.count > 1 ? parts[1] : 0
        let second = parts.count > 2 ? parts[2] : 0
        guard (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second) else { return nil }
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return Timestamp(milliseconds: ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000)
    }
}
