internal import Interchange
internal import Notifications
internal import Storage
internal import WorkflowModel

/// The two SVG charts, drawn with presentation attributes only (no style attributes: the
/// Content-Security-Policy allows no inline style).
enum Charts {
    /// Workflows finished per minute over the hour before `now`: 60 bars, the newest on the right.
    static func throughput(_ throughput: Throughput, now: Timestamp) -> String {
        let width = 720
        let height = 140
        let plotTop = 16
        let plotHeight = height - plotTop - 22
        let newest = Throughput.minute(of: now)
        let minutes = (0..<60).map { newest - Int64(59 - $0) * 60_000 }
        let counts = minutes.map { throughput.perMinute[$0] ?? 0 }
        let total = counts.reduce(0, +)
        let peak = max(1, counts.max() ?? 1)
        let bar = width / 60
        var svg =
            #"<svg id="throughput" role="img" aria-label="Workflows finished per minute, last hour" viewBox="0 0 \#(width) \#(height)" width="\#(width)" height="\#(height)" xmlns="http://www.w3.org/2000/svg">"#
        svg +=
            #"<text x="4" y="12">\#(total)\#(throughput.complete ? "" : "+") finished, peak \#(peak == 1 && total == 0 ? 0 : peak)/min</text>"#
        for (index, count) in counts.enumerated() where count > 0 {
            let barHeight = max(1, count * plotHeight / peak)
            let x = index * bar
            let y = plotTop + plotHeight - barHeight
            svg +=
                #"<rect x="\#(x + 1)" y="\#(y)" width="\#(bar - 2)" height="\#(barHeight)" fill="\#(Self.color(.pending))"><title>\#(ISOTime.string(Timestamp(milliseconds: minutes[index]))): \#(count)</title></rect>"#
        }
        let baseline = plotTop + plotHeight
        svg += #"<line x1="0" y1="\#(baseline)" x2="\#(width)" y2="\#(baseline)" stroke="\#(Self.grid)"/>"#
        svg +=
            #"<text x="2" y="\#(height - 6)">60 min ago</text><text x="\#(width - 30)" y="\#(height - 6)">now</text>"#
        return svg + "</svg>"
    }

    /// One bar per step from when it could run to when it finished (or now): waiting light, worked
    /// on (claimed or started) dark, coloured by status; claim holder and attempts as labels.
    /// Times come from the history since the last restart (the creation time for root steps).
    static func timeline(_ workflow: Workflow, history: [HistoryEvent], now: Timestamp) -> String {
        let lastRestart = history.lastIndex { $0.kind == .restarted }
        let events = lastRestart.map { Array(history[$0...]) } ?? history
        let origin = lastRestart.map { history[$0].at } ?? workflow.createdAt
        var finished: [StepName: Timestamp] = [:]
        var worked: [StepName: Timestamp] = [:]
        for event in events {
            guard let step = event.step else {
                if event.kind == .cancelled {
                    for step in workflow.steps where step.status == .cancelled && finished[step.name] == nil {
                        finished[step.name] = event.at
                    }
                }
                continue
            }
            switch event.kind {
            case .claimed, .started: if worked[step] == nil { worked[step] = event.at }
            case .status: if event.to?.isTerminal == true { finished[step] = event.at }
            default: break
            }
        }
        let steps = workflow.stepsInTreeOrder
        let end = max(now.milliseconds, finished.values.map(\.milliseconds).max() ?? 0)
        let span = max(1, end - origin.milliseconds)
        let labelWidth = 180
        let width = 900
        let rowHeight = 22
        let height = steps.count * rowHeight + 30
        let plot = width - labelWidth - 10
        func x(_ time: Timestamp) -> Int {
            labelWidth + Int(Double(max(0, time.milliseconds - origin.milliseconds)) / Double(span) * Double(plot))
        }
        var svg =
            #"<svg id="timeline" role="img" aria-label="Step timeline" viewBox="0 0 \#(width) \#(height)" width="\#(width)" height="\#(height)" xmlns="http://www.w3.org/2000/svg">"#
        for (row, step) in steps.enumerated() {
            let y = 6 + row * rowHeight
            let ready: Timestamp =
                step.parent.flatMap { finished[$0] } ?? (step.parent == nil ? origin : (worked[step.name] ?? now))
            let stop = finished[step.name] ?? (step.status.isTerminal ? step.updatedAt : now)
            let color = Self.color(step.status)
            svg += #"<text x="4" y="\#(y + 13)">\#(HTML.escape(step.name.rawValue))</text>"#
            if step.status == .notApplicable {
                svg += #"<text x="\#(labelWidth)" y="\#(y + 13)">not applicable</text>"#
                continue
            }
            let start = x(ready)
            let stopX = max(start + 2, x(stop))
            svg +=
                #"<rect x="\#(start)" y="\#(y + 3)" width="\#(stopX - start)" height="12" fill="\#(color)" opacity="0.3"><title>\#(HTML.escape(step.name.rawValue)): \#(step.status.rawValue)</title></rect>"#
            if let began = worked[step.name] {
                let from = max(start, x(began))
                svg +=
                    #"<rect x="\#(from)" y="\#(y + 3)" width="\#(max(2, stopX - from))" height="12" fill="\#(color)"/>"#
            }
            var label = step.status.rawValue
            if let claim = step.claim { label += " · \(claim.worker)" }
            if step.attempts > 0 { label += " · attempt\(step.attempts == 1 ? "" : "s") \(step.attempts)" }
            let labelX = min(stopX + 4, width - 150)
            svg += #"<text x="\#(labelX)" y="\#(y + 13)">\#(HTML.escape(label))</text>"#
        }
        svg += #"<text x="\#(labelWidth)" y="\#(height - 6)">\#(ISOTime.string(origin))</text>"#
        svg += #"<text x="\#(width - 170)" y="\#(height - 6)">\#(ISOTime.string(Timestamp(milliseconds: end)))</text>"#
        return svg + "</svg>"
    }

    static let grid = "#d6dbe1"

    static func color(_ status: StepStatus) -> String {
        switch status {
        case .completed: "#2e7d4f"
        case .failed: "#b3261e"
        case .cancelled: "#6b5b95"
        case .timedOut: "#a05a00"
        case .pending: "#2957a4"
        case .notApplicable: "#8a939e"
        }
    }
}
