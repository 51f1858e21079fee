#!/usr/bin/env bash
# Static checks of the house rules (STYLE.md, docs/ARCHITECTURE.md): unsafe code only in the two
# C-boundary modules, each C module imported only by its wrapper, every module importing only
# what the module table allows, no JSON built by hand, no Swift file over ~800 lines, no Foundation `Process` in the tests,
# Tests/Sanitized (the ThreadSanitizer step's package) mirroring Package.swift's targets, formatting.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0

unsafe=$(grep -rnw --include='*.swift' -e 'unsafe' -e '@unsafe' Sources | grep -v -e '^Sources/LMDB/' -e '^Sources/Sockets/' || true)
if [ -n "$unsafe" ]; then
    echo "check: 'unsafe' outside Sources/LMDB and Sources/Sockets:"; echo "$unsafe"; status=1
fi

# Each C module is imported only by its wrapper.
for pair in "CLMDB:Sources/LMDB/" "CPosix:Sources/Sockets/"; do
    module=${pair%%:*}
    home=${pair#*:}
    hits=$(grep -rnE --include='*.swift' "import $module\$" Sources | grep -v "^$home" || true)
    if [ -n "$hits" ]; then echo "check: only $home may import $module:"; echo "$hits"; status=1; fi
done

# module -> the project modules (and Foundation) it may import; the table of docs/ARCHITECTURE.md.
# Foundation (swift-corelibs-foundation, which brings ICU's 30 MB of data into the binary) only
# where the PostgreSQL or test tools need it: the shipped embedded modules use FoundationEssentials,
# Dispatch and Sockets' threads instead. Anything not listed here (swift-log's Logging,
# ArgumentParser, Synchronization, Glibc, FoundationEssentials, Dispatch) is checked by
# Package.swift's dependency lists instead.
project="CLMDB LMDB WorkflowModel JSON HTTP1 Codecs Notifications Storage LMDBStore PostgresStore Interchange WebUI CPosix Sockets HTTPServer BomflowClient WorkflowAPI WebhookDelivery BomflowServer Foundation"
declare -A allowed=(
    [LMDB]="CLMDB"
    [WorkflowModel]=""
    [JSON]=""
    [HTTP1]=""
    [Codecs]=""
    [Notifications]="WorkflowModel JSON Codecs"
    [Storage]="WorkflowModel Notifications"
    [LMDBStore]="LMDB Storage Notifications WorkflowModel"
    [PostgresStore]="Storage Notifications WorkflowModel Foundation"
    [Interchange]="JSON Storage WorkflowModel"
    [Sockets]="CPosix"
    [HTTPServer]="Sockets HTTP1 JSON"
    [BomflowClient]="Sockets HTTP1 JSON WorkflowModel"
    [WebUI]="WorkflowModel Storage Notifications Interchange"
    [WorkflowAPI]="WorkflowModel Storage JSON Interchange HTTP1 Codecs Notifications WebUI Sockets"
    [WebhookDelivery]="Storage Notifications HTTP1 WorkflowModel Sockets"
    [BomflowServer]="WorkflowAPI HTTPServer HTTP1 Storage LMDBStore WorkflowModel JSON WebhookDelivery Notifications Sockets"
    [bomflow]="BomflowServer BomflowClient WorkflowAPI Interchange LMDBStore PostgresStore Storage WorkflowModel JSON HTTPServer HTTP1 Notifications WebhookDelivery Sockets"
    [StoreDriver]="LMDBStore Storage WorkflowModel JSON Foundation"
    [HTTPFixture]="HTTPServer HTTP1 Foundation"
)
for module in "${!allowed[@]}"; do
    [ -d "Sources/$module" ] || { echo "check: the module table names $module, which does not exist"; status=1; continue; }
    for dependency in $project; do
        [ "$dependency" = "$module" ] && continue
        case " ${allowed[$module]} " in *" $dependency "*) continue ;; esac
        hits=$(grep -rnE --include='*.swift' "^(@testable |public |package |internal |private )?import $dependency\$" "Sources/$module" || true)
        if [ -n "$hits" ]; then echo "check: $module must not import $dependency:"; echo "$hits"; status=1; fi
    done
done
for directory in Sources/*/; do
    module=$(basename "$directory")
    case "$module" in CLMDB | CPosix) continue ;; esac
    [ -n "${allowed[$module]+set}" ] || { echo "check: Sources/$module is missing from the module table"; status=1; }
done

# JSON is written by the JSON module's writer only (issue 10): no Foundation serialization, no
# JSON text assembled by string interpolation.
hits=$(grep -rn --include='*.swift' -e 'JSONSerialization' -e 'JSONEncoder' -e 'JSONDecoder' Sources | grep -v '^Sources/JSON/' || true)
if [ -n "$hits" ]; then echo "check: JSON outside the JSON module's writer and parser:"; echo "$hits"; status=1; fi
hits=$(grep -rnE --include='*.swift' '[{,]\\?"[A-Za-z]+\\?": ?\\?"?\\#?\(' Sources || true)
if [ -n "$hits" ]; then echo "check: JSON built by string interpolation:"; echo "$hits"; status=1; fi

# No Swift file in Sources over 800 lines (split by concern instead).
long=$(find Sources -name '*.swift' -exec wc -l {} + | awk '$2 != "total" && $1 > 800 {print}')
if [ -n "$long" ]; then echo "check: Swift files over 800 lines:"; echo "$long"; status=1; fi

# Tests start children with TestSupport's SpawnedProcess, never Foundation's Process: its run() in
# swift-corelibs-foundation 6.3.1 over-reads /proc/self/fd entries and crashes the test process
# at random once it holds ~1,360 descriptors (Tests/TestSupport/SpawnedProcess.swift says more).
hits=$(grep -rnE --include='*.swift' '\bProcess\(\)|: Process\b' Tests || true)
if [ -n "$hits" ]; then echo "check: Foundation's Process in the tests (use SpawnedProcess):"; echo "$hits"; status=1; fi

# Tests/Sanitized (the HTTP server's tests alone, for the ThreadSanitizer step) mirrors the root
# package's targets: same sources, dependencies and settings, or the sanitized build would test
# something else than the shipped one.
if ! mirror=$(python3 - <<'PY'
import json, os, subprocess, sys
import tempfile
def dump(path):
    # A scratch directory of its own: the build directory's lock may be held by a build.
    with tempfile.TemporaryDirectory() as scratch:
        return json.loads(subprocess.run(["swift", "package", "--package-path", path, "--scratch-path", scratch,
                                          "dump-package"], check=True, capture_output=True, text=True).stdout)
root, sanitized = dump("."), dump("Tests/Sanitized")
targets = {target["name"]: target for target in root["targets"]}
def where(package, target):
    default = "Tests" if target["type"] == "test" else "Sources"
    return os.path.realpath(os.path.join(package, target.get("path") or f"{default}/{target['name']}"))
def names(target):
    return [json.dumps(dependency, sort_keys=True) for dependency in target["dependencies"]]
problems = []
for target in sanitized["targets"]:
    mine = targets.get(target["name"])
    if mine is None:
        problems.append(f"{target['name']} is not a target of the root package")
        continue
    for label, ours, theirs in [("sources", where("Tests/Sanitized", target), where(".", mine)),
                                ("type", target["type"], mine["type"]),
                                ("dependencies", names(target), names(mine)),
                                ("settings", target["settings"], mine["settings"])]:
        if ours != theirs: problems.append(f"{target['name']}: its {label} differ from the root package's")
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
); then
    echo "check: Tests/Sanitized/Package.swift no longer mirrors Package.swift:"; echo "$mirror"; status=1
fi

if ! swift format lint --strict -r Sources Tests Package.swift; then
    echo "check: swift format lint --strict failed (run: swift format format -i -r Sources Tests Package.swift)"; status=1
fi
exit $status
