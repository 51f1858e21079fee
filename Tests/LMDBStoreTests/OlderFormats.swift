import LMDB

/// Rewrites parts of a current store into the layout of an older format, for migration tests.
enum OlderFormats {
    /// Moves every workflow record from `steps` (at the workflow's ID, format 9) back into
    /// `workflows`, where formats 1 to 8 kept it. - Returns: how many moved.
    @discardableResult
    static func moveRecordsToWorkflows(
        in txn: borrowing WriteTransaction, steps: Database, workflows: Database
    ) throws -> Int {
        var records: [([UInt8], [UInt8])] = []
        try txn.withCursor(steps) { cursor in
            var more = try cursor.first()
            while more {
                if cursor.key.count == 8 { records.append((cursor.key, cursor.value)) }
                more = try cursor.next()
            }
        }
        for (key, value) in records {
            _ = try txn.delete(key, in: steps)
            try txn.put(value, forKey: key, in: workflows)
        }
        return records.count
    }
}
