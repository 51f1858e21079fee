internal import Codecs
internal import HTTP1
internal import Storage
internal import WebUI
internal import WorkflowModel

/// The operator page (docs/UI.md): server-rendered HTML under `/ui`, signed in with an API key
/// (a session cookie), READ keys see and ADMIN keys act; every action is a POST with a CSRF token
/// and answers with a redirect (or an error page). Not part of the REST API (no OpenAPI entry):
/// the router lets these routes through, and each checks its session itself.
extension WorkflowService {
    static let uiRoutes: [Route] = [
        Route(.get, "/ui/assets/style.css", nil) { _, _, respond throws(Problem) in
            respond(asset(Assets.stylesheet, type: "text/css; charset=utf-8"))
        }.fromMemory(),
        Route(.get, "/ui/assets/app.js", nil) { _, _, respond throws(Problem) in
            respond(asset(Assets.script, type: "text/javascript; charset=utf-8"))
        }.fromMemory(),
        Route(.get, "/ui/assets/icon.svg", nil) { _, _, respond throws(Problem) in
            respond(asset(Assets.icon, type: "image/svg+xml"))
        }.fromMemory(),
        Route(.get, "/ui/signin", nil) { service, context, respond throws(Problem) in
            respond(service.signInPage(context, error: nil, status: .ok))
        },
        Route(.post, "/ui/signin", nil) { service, context, respond throws(Problem) in
            respond(service.signIn(context))
        },
        Route(.post, "/ui/signout", nil) { service, context, respond throws(Problem) in
            respond(service.signOut(context))
        },
        Route(.get, "/ui", nil) { service, context, respond throws(Problem) in
            respond(service.page(context) { viewer throws(Problem) in try service.overviewPage(context, viewer) })
        },
        Route(.get, "/ui/workflows", nil) { service, context, respond throws(Problem) in
            respond(service.page(context) { viewer throws(Problem) in try service.listPage(context, viewer) })
        },
        Route(.get, "/ui/workflow/{uuid}", nil) { service, context, respond throws(Problem) in
            respond(service.page(context) { viewer throws(Problem) in try service.detailPage(context, viewer) })
        },
        Route(.post, "/ui/workflow/{uuid}/cancel", nil) { service, context, respond throws(Problem) in
            service.act(context, respond) { form throws(Problem) in
                let token = try service.ownToken(context)
                let reason = form["reason"].flatMap { $0.isEmpty ? nil : $0 } ?? CancelRequest.defaultReason
                return (.cancel(token: token, reason: reason), "/ui/workflow/\(token)", "cancelled")
            }
        },
        Route(.post, "/ui/workflow/{uuid}/restart", nil) { service, context, respond throws(Problem) in
            service.act(context, respond) { form throws(Problem) in
                let token = try service.ownToken(context)
                guard let text = form["step"], let step = StepName(text) else {
                    throw Problem.validation("Choose the step to restart from")
                }
                return (.restart(token: token, step: step), "/ui/workflow/\(token)", "restarted")
            }
        },
        Route(.post, "/ui/workflow/{uuid}/step/{step}/release", nil) { service, context, respond throws(Problem) in
            service.act(context, respond) { _ throws(Problem) in
                let token = try service.ownToken(context)
                let step = try service.stepParameter(context)
                let operation = WriteOperation.update(token: token, step: step, command: .release, actor: .admin)
                return (operation, "/ui/workflow/\(token)", "released")
            }
        },
        Route(.post, "/ui/queue/{step}", nil) { service, context, respond throws(Problem) in
            service.act(context, respond) { form throws(Problem) in
                let step = try service.stepParameter(context)
                let paused = form["paused"] == "true"
                return (.pauseQueue(step, paused: paused), "/ui", paused ? "paused" : "resumed")
            }
        },
        Route(.post, "/ui/delivery/{sequence}/redeliver", nil) { service, context, respond throws(Problem) in
            service.act(context, respond) { _ throws(Problem) in
                guard let sequence = context.parameters["sequence"].flatMap(UInt64.init) else {
                    throw Problem.validation("The delivery is a sequence number")
                }
                return (.redeliver(sequence), "/ui", "redelivered")
            }
        },
    ]

    /// The security headers of every page: no script or style but bomflow's own files, no
    /// framing, no sniffing, no referrer beyond the origin, nothing cached.
    static let pageHeaders: [(String, String)] = [
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
                + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"), ("X-Frame-Options", "DENY"),
        ("Cache-Control", "no-store"),
    ]

    static func html(_ status: HTTPStatus, _ text: String, headers extra: [(String, String)] = []) -> HTTPResponse {
        var response = HTTPResponse(status: status, body: Array(text.utf8))
        response.headers.add("Content-Type", "text/html; charset=utf-8")
        for (name, value) in pageHeaders + extra { response.headers.add(name, value) }
        return response
    }

    static func asset(_ text: String, type: String) -> HTTPResponse {
        var response = HTTPResponse(status: .ok, body: Array(text.utf8))
        response.headers.add("Content-Type", type)
        response.headers.add("X-Content-Type-Options", "nosniff")
        response.headers.add("Cache-Control", "public, max-age=86400")
        return response
    }

    static func redirect(_ location: String, headers extra: [(String, String)] = []) -> HTTPResponse {
        var response = HTTPResponse(status: HTTPStatus(code: 303, reason: "See Other"))
        response.headers.add("Location", location)
        for (name, value) in pageHeaders + extra { response.headers.add(name, value) }
        return response
    }

    // MARK: Sessions

    /// Who looks, from the session cookie; nil when not signed in (or the session ended). Without
    /// keys (`--insecure-no-auth`) everyone is an admin, and forms carry the CSRF cookie's token.
    func viewer(_ request: HTTPRequest) throws(Problem) -> (Viewer, UISessions.Session?)? {
        guard authenticator != nil else {
            guard let csrf = UISessions.cookie(UISessions.csrfCookie, in: request) else { return nil }
            return (Viewer(name: nil, isAdmin: true, csrf: csrf), nil)
        }
        guard let secret = UISessions.cookie(UISessions.cookie, in: request), !secret.isEmpty, secret.utf8.count <= 128
        else { return nil }
        // Looked up in the store every time (not the key cache): a sign-out ends the session at
        // once, in every process. (The secret is 256 random bits: nothing to throttle.)
        let found = try reading { () throws(StoreError) in try store.apiKey(digest: Authenticator.digest(of: secret)) }
        guard let record = found, let (keyName, expires) = UISessions.parse(record.name) else { return nil }
        let now = store.options.clock().milliseconds
        // The key itself, as it is now: a revoked key ends its sessions; a session never has
        // more than its key.
        let keys = try reading { () throws(StoreError) in try store.apiKeys() }
        guard expires > now, let key = keys.first(where: { $0.name == keyName }) else {
            _ = try? store.revokeAPIKey(name: record.name)
            return nil
        }
        let permissions = Permission(rawValue: key.permissions & record.permissions)
        let session = UISessions.Session(
            storedName: record.name, keyName: keyName, permissions: permissions, secret: secret)
        return (Viewer(name: keyName, isAdmin: permissions.contains(.admin), csrf: session.csrf), session)
    }

    /// A page for a signed-in viewer (READ at least), else the way to the sign-in.
    func page(_ context: RequestContext, _ render: (Viewer) throws(Problem) -> String) -> HTTPResponse {
        do {
            // Not signed in (without keys: no CSRF cookie yet): the sign-in page deals with it.
            guard let (viewer, session) = try viewer(context.request) else { return Self.redirect("/ui/signin") }
            if let session, !session.permissions.allows(.read) {
                return Self.html(
                    .forbidden, Pages.error(title: "Forbidden", message: "This key may not read.", viewer: viewer))
            }
            return Self.html(.ok, try render(viewer))
        } catch {
            return uiError(error, viewer: nil)
        }
    }

    /// A refused action or read as an error page with the problem's status.
    func uiError(_ problem: Problem, viewer: Viewer?) -> HTTPResponse {
        if problem.status.code >= 500 { _ = answer(problem, requestID: nil, at: "GET /ui") }  // logged
        return Self.html(
            problem.status, Pages.error(title: problem.title, message: problem.detail, viewer: viewer))
    }

    func signInPage(_ context: RequestContext, error: String?, status: HTTPStatus) -> HTTPResponse {
        let existing = UISessions.cookie(UISessions.csrfCookie, in: context.request)
        let csrf = existing.flatMap { $0.utf8.count == 64 ? $0 : nil } ?? UISessions.randomToken()
        if authenticator == nil {
            // Without keys there is nothing to sign in with: the CSRF cookie is the whole session.
            return Self.redirect(
                "/ui",
                headers: [
                    UISessions.setCookie(
                        UISessions.csrfCookie, csrf, maxAge: UISessions.lifetime / 1000, secure: secureCookies)
                ])
        }
        return Self.html(
            status, Pages.signIn(csrf: csrf, error: error),
            headers: [UISessions.setCookie(UISessions.csrfCookie, csrf, maxAge: 3600, secure: secureCookies)])
    }

    func signIn(_ context: RequestContext) -> HTTPResponse {
        guard let authenticator else { return signInPage(context, error: nil, status: .ok) }
        let form: [String: String]
        do { form = try Self.form(context.request) } catch {
            return signInPage(context, error: error.detail, status: .badRequest)
        }
        guard let expected = UISessions.cookie(UISessions.csrfCookie, in: context.request),
            let sent = form["csrf"], UISessions.same(expected, sent)
        else {
            return signInPage(context, error: "The form expired; sign in again.", status: .forbidden)
        }
        var headers = HTTPHeaders()
        headers.add("X-Api-Key", form["key"] ?? "")
        let record: APIKeyRecord
        switch authenticator.authenticate(headers, from: context.request.remoteAddress) {
        case .success(let found): record = found
        case .failure(let problem) where problem.status == .tooManyRequests:
            return signInPage(context, error: problem.detail, status: .tooManyRequests)
        case .failure(let problem) where problem.status.code >= 500:
            return signInPage(context, error: problem.detail, status: problem.status)
        default:
            return signInPage(context, error: "That API key is not valid.", status: .unauthorized)
        }
        let now = store.options.clock().milliseconds
        let expires = now + UISessions.lifetime
        let secret = UISessions.randomToken()
        do {
            // Ended sessions are deleted here (sign-ins are rare; no pass needed for them).
            for stale in try store.apiKeys() {
                if let (_, ends) = UISessions.parse(stale.name), ends <= now {
                    _ = try store.revokeAPIKey(name: stale.name)
                }
            }
            guard
                try store.addAPIKey(
                    digest: Authenticator.digest(of: secret),
                    name: UISessions.storedName(key: record.name, expires: expires),
                    permissions: record.permissions)
            else { return signInPage(context, error: "Try again.", status: .serviceUnavailable) }
        } catch {
            return signInPage(context, error: Problem.storage(error).detail, status: Problem.storage(error).status)
        }
        return Self.redirect(
            "/ui",
            headers: [
                UISessions.setCookie(
                    UISessions.cookie, secret, maxAge: UISessions.lifetime / 1000, secure: secureCookies)
            ])
    }

    func signOut(_ context: RequestContext) -> HTTPResponse {
        let cleared = UISessions.setCookie(UISessions.cookie, "", maxAge: 0, secure: secureCookies)
        do {
            guard let (viewer, session) = try viewer(context.request) else {
                return Self.redirect("/ui/signin", headers: [cleared])
            }
            let form = try Self.form(context.request)
            guard let sent = form["csrf"], UISessions.same(viewer.csrf, sent) else {
                return Self.html(
                    .forbidden,
                    Pages.error(title: "Forbidden", message: "The form expired; reload the page.", viewer: viewer))
            }
            if let session {
                _ = try reading { () throws(StoreError) in try store.revokeAPIKey(name: session.storedName) }
            }
            return Self.redirect("/ui/signin", headers: [cleared])
        } catch {
            return uiError(error, viewer: nil)
        }
    }

    /// An ADMIN action: the viewer must be signed in with ADMIN and send the page's CSRF token;
    /// `operation` names the write, the page to go back to and the notice shown there.
    func act(
        _ context: RequestContext, _ respond: @escaping Respond,
        _ operation: ([String: String]) throws(Problem) -> (WriteOperation, String, String)
    ) {
        let viewer: Viewer
        let form: [String: String]
        let write: (WriteOperation, String, String)
        do {
            guard let (found, _) = try self.viewer(context.request) else { return respond(Self.redirect("/ui/signin")) }
            viewer = found
            form = try Self.form(context.request)
            guard let sent = form["csrf"], UISessions.same(viewer.csrf, sent) else {
                return respond(
                    Self.html(
                        .forbidden,
                        Pages.error(
                            title: "Forbidden",
                            message: "The form expired (CSRF check); reload the page and try again.", viewer: viewer)))
            }
            guard viewer.isAdmin else {
                return respond(
                    Self.html(
                        .forbidden,
                        Pages.error(title: "Forbidden", message: "Only an ADMIN key may act.", viewer: viewer)))
            }
            write = try operation(form)
        } catch {
            return respond(uiError(error, viewer: nil))
        }
        let (operation, page, notice) = write
        let back = Self.safeBack(form["back"]) ?? page
        writer.submit([.attributed(operation, to: .key(viewer.name))]) { [self] result in
            switch result {
            case .success(let results):
                switch results[0] {
                case .success: respond(Self.redirect(back + (back.contains("?") ? "&" : "?") + "notice=\(notice)"))
                case .failure(let refusal): respond(uiError(Problem.refused(refusal), viewer: viewer))
                }
            case .failure(let error): respond(uiError(Problem.storage(error), viewer: viewer))
            }
        }
    }

    /// A `back` page only within `/ui` (never another site: no open redirect).
    static func safeBack(_ value: String?) -> String? {
        guard let value, value.hasPrefix("/ui"), !value.hasPrefix("//"), value.utf8.count < 200,
            value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") })
        else { return nil }
        return value
    }

    /// The notices an action's redirect may ask for (never text from the request).
    static let notices = [
        "cancelled": "The workflow was cancelled.", "restarted": "The workflow was restarted.",
        "released": "The lease was released; the step is ready again.", "paused": "The queue was paused.",
        "resumed": "The queue was resumed.", "redelivered": "The notification was queued for delivery again.",
    ]

    /// An `application/x-www-form-urlencoded` body (or query) as names and values; a name given
    /// twice keeps the first.
    static func form(_ request: HTTPRequest) throws(Problem) -> [String: String] {
        var form: [String: String] = [:]
        for (name, value) in try queryItems(String(decoding: request.body, as: UTF8.self)) where form[name] == nil {
            form[name] = value
        }
        return form
    }

    // MARK: Pages

    func overviewPage(_ context: RequestContext, _ viewer: Viewer) throws(Problem) -> String {
        let now = store.options.clock()
        let overview = try reading { () throws(StoreError) in
            let done = try store.list(WorkflowQuery(state: .done, limit: 100)).workflows
            let processing = try store.list(WorkflowQuery(state: .processing, limit: 100)).workflows
            return Pages.Overview(
                figures: try store.cheapFigures(), queues: try store.queues(),
                throughput: try store.throughput(since: Timestamp(milliseconds: now.milliseconds - 3_600_000)),
                failures: Array(
                    done.filter { $0.steps.contains { $0.status == .failed || $0.status == .cancelled } }.prefix(10)),
                timeouts: Array(processing.filter { $0.steps.contains { $0.status == .timedOut } }.prefix(10)), now: now
            )
        }
        return Pages.overview(overview, viewer: viewer, notice: notice(context))
    }

    func notice(_ context: RequestContext) -> String? {
        let items = (try? Self.queryItems(context.request.query)) ?? []
        return items.first { $0.0 == "notice" }.flatMap { Self.notices[$0.1] }
    }

    func detailPage(_ context: RequestContext, _ viewer: Viewer) throws(Problem) -> String {
        let token = try ownToken(context)
        let found = try reading { () throws(StoreError) in
            (try store.workflow(token), try store.history(token, after: 0, limit: HistoryEvent.limit))
        }
        guard let workflow = found.0, let history = found.1 else {
            throw Problem.notFound(WorkflowError.unknownWorkflow(token).description)
        }
        return Pages.workflow(
            workflow, history: history, viewer: viewer, now: store.options.clock(), notice: notice(context))
    }

    /// Workflows newest first, about 50 to a page, with filters: state and label (or project) by the
    /// store's indexes; template and creation time checked on each workflow read, at most 1,000
    /// read per page.
    func listPage(_ context: RequestContext, _ viewer: Viewer) throws(Problem) -> String {
        var filters = Pages.ListFilters()
        var cursor: UInt64?
        var query = WorkflowQuery(limit: 50)
        var error: String?
        for (name, value) in try Self.queryItems(context.request.query) {
            switch name {
            case "state": filters.state = value
            case "template": filters.template = value
            case "label": filters.label = value
            case "project": filters.project = value
            case "createdAfter": filters.createdAfter = value
            case "cursor": cursor = UInt64(value)
            default: break
            }
        }
        let now = store.options.clock()
        var extraLabel: Labels.Label?
        var after: Timestamp?
        switch filters.state {
        case "": break
        case "processing": query.state = .processing
        case "done": query.state = .done
        default: error = "State is processing or done."
        }
        if !filters.label.isEmpty {
            if let colon = filters.label.firstIndex(of: ":") {
                query.label = Labels.Label(
                    key: String(filters.label[..<colon]),
                    value: String(filters.label[filters.label.index(after: colon)...]))
            } else {
                error = "A label filter is key:value."
            }
        }
        if !filters.project.isEmpty {
            if let project = Token(filters.project) {
                extraLabel = query.label
                query.label = Labels.Label(key: "project", value: project.description)
            } else {
                error = "The project is a UUID."
            }
        }
        if !filters.createdAfter.isEmpty {
            after = Pages.parseUTC(filters.createdAfter)
            if after == nil { error = "Created after is a UTC time such as 2026-12-01T08:00." }
        }
        var shown: [Workflow] = []
        var scanned = 0
        var next: UInt64? = nil
        if error == nil {
            query.cursor = cursor
            scanning: while true {
                let page = try reading { () throws(StoreError) in try store.list(query) }
                for workflow in page.workflows {
                    scanned += 1
                    if let after, workflow.createdAt.milliseconds < after.milliseconds {
                        next = nil
                        break scanning  // newest first: everything after is older
                    }
                    if !filters.template.isEmpty, workflow.template?.rawValue != filters.template { continue }
                    if let extraLabel, workflow.labels[extraLabel.key] != extraLabel.value { continue }
                    shown.append(workflow)
                }
                next = page.nextCursor
                guard let more = page.nextCursor, shown.count < 50, scanned < 1000 else { break }
                query.cursor = more
                query.limit = min(100, max(10, 50 - shown.count))
            }
        }
        return Pages.workflowList(
            shown, filters: filters, nextCursor: next, scanned: scanned, viewer: viewer, now: now, error: error)
    }
}
