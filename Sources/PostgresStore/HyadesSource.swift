// The backend exists in builds with the package trait PostgreSQL (on by default).
#if PostgreSQL
    internal import Foundation
    internal import Logging
    internal import PostgresNIO
    public import Storage

    /// Hyades' own database as an import source (`bomflow import --hyades postgres://…`): its
    /// `WORKFLOW_STATE` rows, read in one snapshot and rendered as the CSV that `psql`'s `\copy …
    /// CSV HEADER` writes, so that one parser (`HyadesImport`) serves the dump and the database.
    public enum HyadesSource {
        /// The rows of `WORKFLOW_STATE` at `location` as CSV (header `ID,PARENT_STEP_ID,TOKEN,
        /// STARTED_AT,UPDATED_AT,STEP,STATUS,FAILURE_REASON`), in `ID` order.
        public static func csv(from location: PostgresLocation) throws(StoreError) -> [UInt8] {
            let pool = try SessionPool(
                location: location, size: 1, statementTimeoutMilliseconds: 600_000,
                logger: Logger(label: "bomflow.hyades"))
            defer {
                pool.close()
            }
            do throws(SQLFailure) {
                return try pool.withSession { session throws(SQLFailure) in
                    let rows = try session.query(
                        """
                        SELECT "ID"::TEXT, "PARENT_STEP_ID"::TEXT, "TOKEN"::TEXT, "STARTED_AT"::TEXT, "UPDATED_AT"::TEXT,
                            "STEP"::TEXT, "STATUS"::TEXT, "FAILURE_REASON"
                        FROM "WORKFLOW_STATE" ORDER BY "ID"
                        """)
                    var csv = Array("ID,PARENT_STEP_ID,TOKEN,STARTED_AT,UPDATED_AT,STEP,STATUS,FAILURE_REASON\n".utf8)
                    for row in rows {
                        let cells = Cells(row)
                        var fields: [String?] = []
                        for index in 0..<8 {
                            let value: String? = try PostgresStore.decoding { try cells[index] }
                            fields.append(value)
                        }
                        csv += Array(fields.map(field).joined(separator: ",").utf8) + [0x0A]
                    }
                    return csv
                }
            } catch {
                throw error.storeError
            }
        }

        /// One CSV field: empty for NULL, quoted (quotes doubled) when it holds a comma, quote or
        /// line break, or is empty text (so that it is not read back as NULL).
        static func field(_ value: String?) -> String {
            guard let value else { return "" }
            guard value.isEmpty || value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else {
                return value
            }
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
    }
#endif
