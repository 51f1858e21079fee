internal import LMDB
public import Storage
internal import WorkflowModel

extension LMDBStore {
    private static func digestKey(_ digest: [UInt8]) -> [UInt8] { Array("d:".utf8) + digest }
    private static func nameKey(_ name: String) -> [UInt8] { Array("n:".utf8) + Array(name.utf8) }

    /// Stores a key's digest under a unique name. - Returns: false when the name is taken.
    public func addAPIKey(digest: [UInt8], name: String, permissions: UInt8) throws(StoreError) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 192, digest.count == 32 else {
            throw .failed("invalid key name or digest")
        }
        let now = options.clock().milliseconds
        return try write { txn in
            guard try txn.value(forKey: Self.nameKey(name), in: databases.keys) == nil else { return false }
            var writer = ByteWriter(capacity: 48)
            writer.append(permissions)
            writer.append(UInt64(bitPattern: now))
            writer.appendString(name)
            try txn.put(writer.bytes, forKey: Self.digestKey(digest), in: databases.keys)
            try txn.put(digest, forKey: Self.nameKey(name), in: databases.keys)
            return true
        }
    }

    /// The key whose digest this is, or nil.
    public func apiKey(digest: [UInt8]) throws(StoreError) -> APIKeyRecord? {
        try read { txn in
            try txn.withValue(forKey: Self.digestKey(digest), in: databases.keys) { span in
                try Self.decodeKey(span)
            }
        }
    }

    /// Every key, by name.
    public func apiKeys() throws(StoreError) -> [APIKeyRecord] {
        try read { txn in
            try txn.withCursor(databases.keys) { cursor in
                var records: [APIKeyRecord] = []
                var more = try cursor.seek(atOrAfter: Array("d:".utf8))
                while more,
                    let record = try cursor.withCurrent({ key, value in
                        key.count == 34 && key[0] == UInt8(ascii: "d") ? try Self.decodeKey(value) : nil
                    })
                {
                    records.append(record)
                    more = try cursor.next()
                }
                return records.sorted { $0.name < $1.name }
            }
        }
    }

    /// Removes the key named `name`. - Returns: false when there is none.
    public func revokeAPIKey(name: String) throws(StoreError) -> Bool {
        try write { txn in
            guard let digest = try txn.value(forKey: Self.nameKey(name), in: databases.keys) else { return false }
            try txn.delete(Self.nameKey(name), in: databases.keys)
            try txn.delete(Self.digestKey(digest), in: databases.keys)
            return true
        }
    }

    private static func decodeKey(_ span: Span<UInt8>) throws -> APIKeyRecord {
        var reader = ByteReader()
        let permissions = try reader.uint8(span)
        let createdAt = try reader.int64(span)
        let name = try reader.string(span)
        return APIKeyRecord(name: name, permissions: permissions, createdAt: createdAt)
    }
}
