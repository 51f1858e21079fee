#!/usr/bin/env bash
# Static checks of the house rules (STYLE.md): unsafe code only in the two C-boundary modules,
# each C module imported only by its wrapper, dependencies pointing one way, formatting.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0

unsafe=$(grep -rnw --include='*.swift' -e 'unsafe' -e '@unsafe' Sources | grep -v -e '^Sources/LMDB/' -e '^Sources/HTTPServer/Posix/' || true)
if [ -n "$unsafe" ]; then
    echo "check: 'unsafe' outside Sources/LMDB and Sources/HTTPServer/Posix:"; echo "$unsafe"; status=1
fi

# Each C module is imported only by its wrapper.
for pair in "CLMDB:Sources/LMDB/" "CPosix:Sources/HTTPServer/Posix/"; do
    module=${pair%%:*}
    home=${pair#*:}
    hits=$(grep -rnE --include='*.swift' "import $module\$" Sources | grep -v "^$home" || true)
    if [ -n "$hits" ]; then echo "check: only $home may import $module:"; echo "$hits"; status=1; fi
done

# module -> modules it must not import
declare -A forbidden=(
    [WorkflowModel]="CLMDB LMDB LMDBStore WorkflowAPI HTTP1 HTTPServer CPosix Foundation"
    [LMDBStore]="CLMDB WorkflowAPI HTTP1 HTTPServer CPosix"
    [WorkflowAPI]="CLMDB LMDB HTTPServer CPosix"
    [bomflow]="CLMDB LMDB CPosix"
    [StoreDriver]="CLMDB"
    [HTTP1]="CLMDB LMDB CPosix LMDBStore WorkflowModel WorkflowAPI HTTPServer Foundation Glibc"
    [HTTPServer]="CLMDB LMDB LMDBStore WorkflowModel WorkflowAPI"
    [HTTPFixture]="CLMDB LMDB CPosix LMDBStore WorkflowModel WorkflowAPI"
)
for module in "${!forbidden[@]}"; do
    [ -d "Sources/$module" ] || continue
    for dependency in ${forbidden[$module]}; do
        hits=$(grep -rnE --include='*.swift' "^(@testable |public |package |internal |private )?import $dependency\$" "Sources/$module" || true)
        if [ -n "$hits" ]; then echo "check: $module must not import $dependency:"; echo "$hits"; status=1; fi
    done
done

if ! swift format lint --strict -r Sources Tests Package.swift; then
    echo "check: swift format lint --strict failed (run: swift format format -i -r Sources Tests Package.swift)"; status=1
fi
exit $status
