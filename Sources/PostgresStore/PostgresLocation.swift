// The backend exists in builds with the package trait PostgreSQL (on by default).
#if PostgreSQL
    internal import Foundation

    /// Where a PostgreSQL store lives: `postgres://user:password@host:port/database?sslmode=…`
    /// (`postgresql://` too), parsed strictly so that a typo is a clear error at start, not a
    /// connection attempt somewhere else.
    ///
    /// Query parameters: `sslmode` (`disable`, `prefer`, `require`, `verify-full`; default `prefer`),
    /// `sslrootcert` (a PEM file of CAs for `verify-full`), `host` (a directory holding the server's
    /// unix socket, which replaces the TCP host), `application_name`. Anything else is refused.
    public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
        /// How the connection is protected.
        public enum TLSMode: String, Sendable, CaseIterable {
            /// Plain TCP.
            case disable
            /// TLS when the server offers it, without verifying the certificate (libpq's default).
            case prefer
            /// TLS or no connection; the certificate is not verified (libpq's `require`).
            case require
            /// TLS with the certificate verified against the system's CAs or `sslrootcert`, and the
            /// host name checked.
            case verifyFull = "verify-full"
        }

        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var database: String
        public var tls: TLSMode
        public var rootCertificatePath: String?
        /// A directory holding `.s.PGSQL.<port>`: connect through the unix socket instead of TCP.
        public var socketDirectory: String?
        public var applicationName: String

        /// True when `text` names a PostgreSQL store (rather than an LMDB data directory).
        public static func isPostgresURL(_ text: String) -> Bool {
            text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
        }

        /// Parses a URL. - Throws: ``PostgresLocationError`` saying what is wrong.
        public init(_ text: String) throws(PostgresLocationError) {
            guard Self.isPostgresURL(text) else {
                throw .init("a PostgreSQL store is named by a postgres:// or postgresql:// URL")
            }
            guard let components = URLComponents(string: text) else { throw .init("the URL cannot be parsed") }
            guard let user = components.user, !user.isEmpty else { throw .init("the URL names no user") }
            let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
            guard !path.isEmpty, !path.contains("/") else { throw .init("the URL names no database (…/DATABASE)") }
            self.user = user
            self.password = components.password
            self.database = path
            self.host = components.host ?? ""
            self.port = components.port ?? 5432
            guard (1...65535).contains(port) else { throw .init("port \(port) is out of range") }
            self.tls = .prefer
            self.applicationName = "bomflow"
            for item in components.queryItems ?? [] {
                guard let value = item.value, !value.isEmpty else {
                    throw .init("query parameter \(item.name) has no value")
                }
                switch item.name {
                case "sslmode":
                    guard let mode = TLSMode(rawValue: value) else {
                        throw .init(
                            "sslmode \(value) is not one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))"
                        )
                    }
                    tls = mode
                case "sslrootcert": rootCertificatePath = value
                case "host": socketDirectory = value
                case "application_name": applicationName = value
                default: throw .init("unknown query parameter \(item.name)")
                }
            }
            if socketDirectory == nil, host.isEmpty { throw .init("the URL names no host") }
            if rootCertificatePath != nil, tls != .verifyFull { throw .init("sslrootcert needs sslmode=verify-full") }
        }

        /// The URL without the password (for logs and error messages).
        public var description: String {
            var text = "postgres://\(user)@\(host)"
            if socketDirectory == nil || port != 5432 { text += ":\(port)" }
            text += "/\(database)"
            if let socketDirectory { text += "?host=\(socketDirectory)" }
            return text
        }
    }

    /// A `--store` URL that cannot be used.
    public struct PostgresLocationError: Error, Equatable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
#endif
