import BomflowClient
import HTTP1
import WorkflowAPI

/// Processes of one store share a port (`SO_REUSEPORT`), and the kernel spreads connections over
/// every listener of the port without asking what they serve: a `serve` of another data directory
/// (or database) on a port already served would answer each request from either store. Before it
/// listens, `serve` asks the process already on its port for its health; a bomflow answers with
/// the `Bomflow-Store` tag of its store (``WorkflowService/storeTag(of:)``), and a different tag is
/// refused. Nobody answering, or an answer without the tag (another program, whose port the bind
/// then refuses unless it shares ports too, or a bomflow from before the tag), lets the bind decide.
/// Two processes starting in the same instant can both find the port free; this check is for the
/// everyday mistake, not a lock.
enum PortNeighbour {
    /// Why serving `port` would split the state, or nil when it would not.
    static func conflict(host: String, port: Int, storeTag: String) -> String? {
        let probe =
            switch host {
            case "0.0.0.0": "127.0.0.1"
            case "::": "::1"
            default: host
            }
        let client = HTTPClient(host: probe, port: port)
        guard let response = try? client.request("GET", "/health/live", timeout: 2),
            let theirs = response.headers[WorkflowService.storeHeader], theirs != storeTag
        else { return nil }
        return "port \(port) on \(host) is already served by a bomflow process of another store (tag \(theirs), "
            + "this one \(storeTag)); processes sharing a port must serve the same data directory or database: "
            + "choose another --port, or the --data-dir/--store of the process already there"
    }
}
