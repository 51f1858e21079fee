internal import Storage
internal import WorkflowModel

/// Key layouts of the named databases (docs/STORAGE.md). All integers big-endian; timestamps
/// with the sign bit flipped so that `memcmp` order is time order.
enum Keys {
    /// `workflows`, `processing`, `done` key and `steps` prefix: the workflow's internal ID (8 bytes).
    static func workflow(_ id: UInt64) -> [UInt8] {
        var writer = ByteWriter(capacity: 8)
        writer.append(id)
        return writer.bytes
    }

    /// `steps`: workflow ID (8) ‖ step ordinal (1).
    static func step(_ id: UInt64, _ ordinal: Int) -> [UInt8] {
        var writer = ByteWriter(capacity: 9)
        writer.append(id)
        writer.append(UInt8(ordinal))
        return writer.bytes
    }

    /// `deadlines`: filing time (8: `updatedAt`, or earlier when filed lazily) ‖ workflow ID (8) ‖ step ordinal (1).
    static func deadline(_ time: Timestamp, _ id: UInt64, _ ordinal: Int) -> [UInt8] {
        var writer = ByteWriter(capacity: 17)
        writer.append(ordered: time.milliseconds)
        writer.append(id)
        writer.append(UInt8(ordinal))
        return writer.bytes
    }

    /// `ready` prefix: step name length (1) ‖ step name.
    static func readyPrefix(_ step: StepName) -> [UInt8] {
        var writer = ByteWriter(capacity: 1 + step.rawValue.utf8.count)
        writer.appendShortString(step.rawValue)
        return writer.bytes
    }

    /// `ready`: ``readyPrefix(_:)`` ‖ 100 − priority (1) ‖ ready since (8) ‖ workflow ID (8) ‖ step
    /// ordinal (1): per step name, the claimable steps, higher priority first, each priority in the
    /// order its steps became ready (format 5; format 2 to 4 had no priority byte).
    static func ready(_ step: StepName, priority: Int, since time: Timestamp, _ id: UInt64, _ ordinal: Int)
        -> [UInt8]
    {
        var writer = ByteWriter(capacity: 19 + step.rawValue.utf8.count)
        writer.appendShortString(step.rawValue)
        writer.append(UInt8(clamping: 100 - priority))
        writer.append(ordered: time.milliseconds)
        writer.append(id)
        writer.append(UInt8(ordinal))
        return writer.bytes
    }

    /// Bytes of a `ready` key after its ``readyPrefix(_:)``.
    static let readySuffixLength = 18

    /// `leases`: lease end (8) ‖ workflow ID (8) ‖ step ordinal (1).
    static func lease(_ time: Timestamp, _ id: UInt64, _ ordinal: Int) -> [UInt8] { deadline(time, id, ordinal) }

    /// `finished`: last update (8) ‖ workflow ID (8).
    static func finished(_ time: Timestamp, _ id: UInt64) -> [UInt8] {
        var writer = ByteWriter(capacity: 16)
        writer.append(ordered: time.milliseconds)
        writer.append(id)
        return writer.bytes
    }

    /// Label values longer than this are indexed by their first bytes only (LMDB keys are at
    /// most 511 bytes); a list by such a label checks each candidate's full value.
    static let labelValuePrefixLimit = 230

    /// `labels` prefix: key length (1) ‖ key ‖ full value length (2) ‖ value (first 230 bytes).
    static func labelPrefix(key: String, value: String) -> [UInt8] {
        var writer = ByteWriter(capacity: 16 + key.utf8.count + value.utf8.count)
        writer.appendShortString(key)
        let valueBytes = Array(value.utf8)
        writer.append(UInt16(valueBytes.count))
        writer.append(contentsOf: Array(valueBytes.prefix(labelValuePrefixLimit)))
        return writer.bytes
    }

    /// `labels` entry: ``labelPrefix(key:value:)`` ‖ workflow ID (8).
    static func label(key: String, value: String, _ id: UInt64) -> [UInt8] {
        var bytes = labelPrefix(key: key, value: value)
        var writer = ByteWriter(capacity: 8)
        writer.append(id)
        bytes.append(contentsOf: writer.bytes)
        return bytes
    }

    /// `queues` prefix: key length (2) ‖ concurrency key.
    static func queuePrefix(_ key: String) -> [UInt8] {
        var writer = ByteWriter(capacity: 2 + key.utf8.count)
        writer.append(UInt16(key.utf8.count))
        writer.append(contentsOf: Array(key.utf8))
        return writer.bytes
    }

    /// `queues`: ``queuePrefix(_:)`` ‖ workflow ID (8): per key, the processing workflows in
    /// creation order (IDs grow).
    static func queue(_ key: String, _ id: UInt64) -> [UInt8] {
        var bytes = queuePrefix(key)
        var writer = ByteWriter(capacity: 8)
        writer.append(id)
        bytes.append(contentsOf: writer.bytes)
        return bytes
    }

    /// `project-names` prefix: name length (2) ‖ name.
    static func projectNamePrefix(_ name: String) -> [UInt8] { queuePrefix(name) }

    /// `project-names`: ``projectNamePrefix(_:)`` ‖ 0 (no version) or 1 ‖ version.
    static func projectName(_ name: String, version: String?) -> [UInt8] {
        var bytes = projectNamePrefix(name)
        if let version {
            bytes.append(1)
            bytes.append(contentsOf: Array(version.utf8))
        } else {
            bytes.append(0)
        }
        return bytes
    }

    /// `history`: workflow ID (8) ‖ sequence number (8): one workflow's events in order.
    static func historyEvent(_ id: UInt64, _ sequence: UInt64) -> [UInt8] {
        var writer = ByteWriter(capacity: 17)
        writer.append(id)
        writer.append(historyMarker)
        writer.append(sequence)
        return writer.bytes
    }

    /// The prefix of a workflow's events in `steps`: workflow ID (8) ‖ 0xFF.
    static func historyPrefix(_ id: UInt64) -> [UInt8] {
        var writer = ByteWriter(capacity: 9)
        writer.append(id)
        writer.append(historyMarker)
        return writer.bytes
    }

    /// The byte after the workflow ID that marks an event key in `steps` (a step row has its
    /// ordinal there and is 9 bytes long; an event key is 17).
    static let historyMarker: UInt8 = 0xFF

    /// The length of an event key (``historyEvent(_:_:)``).
    static let historyKeyCount = 17

    /// The workflow ID in the last eight bytes of an index key.
    static func trailingID(_ key: [UInt8]) -> UInt64 { loadUInt64(key, at: key.count - 8) }

    /// `meta` keys.
    static let formatVersion = Array("format-version".utf8)

    /// The value of a `tokens` entry: the workflow's ID (8 bytes, big-endian) and its token
    /// status (``RecordCodec/code(_:)-(TokenStatus)``), which the poll answers from.
    static func tokenEntry(_ id: UInt64, _ status: TokenStatus) -> [UInt8] {
        var bytes = workflow(id)
        bytes.append(RecordCodec.code(status))
        return bytes
    }

    /// The size of a `tokens` entry.
    static let tokenEntryCount = 9
    static let nextWorkflowID = Array("next-workflow-id".utf8)
    /// `meta`: the next outbox sequence number (8 bytes).
    static let nextDeliverySequence = Array("next-delivery-sequence".utf8)
    static let maintenanceLease = Array("lease/maintenance".utf8)
    /// The largest map size a process opened the store with (UInt64); written when a process
    /// opens with a larger map than the file records, so that the meta page records it.
    static let mapSize = Array("map-size".utf8)
    /// The `--sync` mode the store is used with: one byte, 1 full, 0 none.
    static let syncMode = Array("sync-mode".utf8)
    /// Bytes of all stored BOMs (UInt64), kept with every BOM put and delete.
    static let bomBytes = Array("bom-bytes".utf8)
}
