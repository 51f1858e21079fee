import Foundation
import LMDB
import TestSupport
import Testing

/// Where an environment may live (RELIABILITY.md L12, L13; test plan T10).
struct LocationTests {
    @Test(arguments: [
        (Int64(0x6969), "nfs"), (0xFF53_4D42, "cifs"), (0xFE53_4D42, "smb2"), (0x6573_5546, "fuse"),
        (0x0102_1997, "9p"), (0x00C3_6400, "ceph"),
    ])
    func networkFileSystemsAreRecognised(type: Int64, name: String) {
        #expect(Location.networkFileSystem(type: type) == name)
    }

    @Test(arguments: [Int64(0xEF53), 0x5846_5342, 0x9123_683E, 0x0102_1994, 0x794C_7630])
    func localFileSystemsAreAllowed(type: Int64) {
        // ext4, xfs, btrfs, tmpfs, overlayfs
        #expect(Location.networkFileSystem(type: type) == nil)
    }

    func setMode(_ path: String, _ mode: Int) throws {
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    @Test func refusesWhatOthersMayWriteOrRead() throws {
        let directory = try TemporaryDirectory("location")
        defer { directory.remove() }
        let data = directory.appending("data")
        // Missing: fine, it will be created 0700.
        try Location.check(directory: data)
        let environment = try Environment.open(path: data)
        _ = environment
        try Location.check(directory: data)

        try setMode(data, 0o777)
        #expect(throws: LocationProblem.tooOpen(path: data, mode: 0o777, allowed: 0o755)) {
            try Location.check(directory: data)
        }
        try setMode(data, 0o700)
        try setMode(data + "/data.mdb", 0o666)
        #expect(throws: LocationProblem.tooOpen(path: data + "/data.mdb", mode: 0o666, allowed: 0o755)) {
            try Location.check(directory: data)
        }
        try setMode(data + "/data.mdb", 0o644)
        try Location.check(directory: data)

        _ = FileManager.default.createFile(atPath: data + "/secret", contents: Data("k".utf8))
        try setMode(data + "/secret", 0o640)
        #expect(throws: LocationProblem.tooOpen(path: data + "/secret", mode: 0o640, allowed: 0o700)) {
            try Location.check(directory: data, privateFiles: ["secret"])
        }
        try setMode(data + "/secret", 0o600)
        try Location.check(directory: data, privateFiles: ["secret"])
    }

    /// The message says what is wrong in the file's own terms (issue 16: a 0660 data.mdb was
    /// explained as "others may not have more than 755").
    @Test func messagesNameWhoHasTooMuch() {
        let data = LocationProblem.tooOpen(path: "/srv/b/data.mdb", mode: 0o660, allowed: 0o755).description
        #expect(data.contains("its group may write it"), "\(data)")
        #expect(data.contains("corrupt the data"))
        #expect(data.contains("chmod 640 /srv/b/data.mdb"))
        #expect(!data.contains("others may not"))
        let key = LocationProblem.tooOpen(path: "/srv/b/admin.key", mode: 0o644, allowed: 0o700).description
        #expect(key.contains("its group may read it and anyone may read it"), "\(key)")
        #expect(key.contains("holds a secret"))
        #expect(key.contains("chmod 600 /srv/b/admin.key"))
    }

    @Test func messagesSayWhatToDo() {
        let problem = LocationProblem.tooOpen(path: "/srv/bomflow", mode: 0o777, allowed: 0o755)
        #expect(problem.description.contains("chmod 755 /srv/bomflow"))
        #expect(
            LocationProblem.networkFileSystem(path: "/mnt/x", fileSystem: "nfs").description.contains(
                "network file system"))
    }
}
