#if PostgreSQL
    import Storage
    import Testing
    import WorkflowModel
    @testable import PostgresStore

    /// How the store sorts what PostgreSQL answers, for both of postgres-nio's error types: the
    /// named prepared statements fail with its older `PostgresError`, the other statements with
    /// `PSQLError`. A lost race must be retried, a refused statement must fail alone, and neither
    /// may be taken for a lost connection (which drops it and answers "unreachable").
    @Suite struct PostgresFailureTests {
        static let raceSQL = "DO $$ BEGIN RAISE EXCEPTION 'lost a race' USING ERRCODE = '40P01'; END $$"

        @Test(arguments: [true, false])
        func serverErrorsAreSortedBySQLSTATE(prepared: Bool) throws {
            let fixture = try StoreFixture(.postgres)
            let store = try #require(fixture.store as? PostgresStore)
            func failure(_ sql: String) -> SQLFailure? {
                do throws(SQLFailure) {
                    try store.pool.withSession { session throws(SQLFailure) in
                        if prepared {
                            _ = try session.run(prepared: sql, [])
                        } else {
                            try session.execute(script: sql)
                        }
                    }
                    return nil
                } catch {
                    return error
                }
            }
            guard case .retry(let why)? = failure(Self.raceSQL) else {
                Issue.record("a deadlock was not sorted as a lost race: \(String(describing: failure(Self.raceSQL)))")
                return
            }
            #expect(why.contains("40P01"))
            guard case .store(.failed(let reason))? = failure("SELECT 1 / 0") else {
                Issue.record("a division by zero was not a failed statement")
                return
            }
            #expect(reason.contains("22012"))
            // Neither dropped the connection: the pool still has the one it made.
            #expect(try store.isProcessing(Token.random()) == false)
            #expect(store.pool.openConnections == 1)
        }
    }
#endif
