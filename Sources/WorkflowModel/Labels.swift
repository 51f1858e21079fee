/// Free-form `key → value` strings on a workflow (project name, version, UUID, …), kept
/// sorted by key. At most ``Limits/maxLabels``; keys 1...256 and values 0...256 UTF-8 bytes.
public struct Labels: Sendable, Equatable, Sequence {
    /// One label.
    public struct Label: Sendable, Equatable, Hashable {
        /// The key (non-empty).
        public let key: String
        /// The value.
        public let value: String

        /// Creates a label (not validated; ``Labels/init(_:)`` validates).
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// The labels, sorted by key.
    public private(set) var items: [Label]

    /// No labels.
    public init() { items = [] }

    /// Validates and sorts `dictionary`.
    /// - Throws: ``WorkflowError/invalidLabel(_:)`` when a limit is broken.
    public init(_ dictionary: [String: String]) throws(WorkflowError) {
        guard dictionary.count <= Limits.maxLabels else {
            throw .invalidLabel("at most \(Limits.maxLabels) labels are allowed, got \(dictionary.count)")
        }
        for (key, value) in dictionary {
            guard !key.isEmpty else { throw .invalidLabel("a label key must not be empty") }
            guard key.utf8.count <= Limits.maxLabelBytes else {
                throw .invalidLabel("key of \(key.utf8.count) bytes; at most \(Limits.maxLabelBytes)")
            }
            guard value.utf8.count <= Limits.maxLabelBytes else {
                throw .invalidLabel(
                    "value of label '\(key)' has \(value.utf8.count) bytes; at most \(Limits.maxLabelBytes)")
            }
        }
        items = dictionary.map { Label(key: $0.key, value: $0.value) }.sorted { $0.key < $1.key }
    }

    /// The value of `key`, if present.
    public subscript(key: String) -> String? { items.first { $0.key == key }?.value }

    /// The number of labels.
    public var count: Int { items.count }

    public func makeIterator() -> IndexingIterator<[Label]> { items.makeIterator() }

    /// The labels as a dictionary.
    public var dictionary: [String: String] {
        Dictionary(uniqueKeysWithValues: items.map { ($0.key, $0.value) })
    }
}
