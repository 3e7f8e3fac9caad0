#!/usr/bin/env bash
# A throwaway PostgreSQL server for the cluster tests: its own data folder under /tmp, its own
# loopback port, trust authentication (nothing listens beyond 127.0.0.1).
#
#   scripts/pg-test-server.sh start   prints `export CAUSALD_TEST_PG_URL=... CAUSALD_TEST_PG_DIR=...`
#                                     (use: eval "$(scripts/pg-test-server.sh start)")
#   scripts/pg-test-server.sh stop DIR  stops the server of DIR and removes DIR
#
# The server refuses to run as root, so as root it runs as the system user `causald-pg`
# (created when missing). Needs the `postgresql` binaries (Debian: /usr/lib/postgresql/*/bin).
set -euo pipefail

bindir=""
if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
  bindir="$(dirname "$(command -v pg_ctl)")"
else
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && bindir="$d"; done
fi
if [ -z "$bindir" ]; then
  echo "pg-test-server: no PostgreSQL binaries (initdb, pg_ctl) found; install postgresql" >&2
  exit 2
fi

# As root, from / : the server's user may not be able to enter the caller's folder (a clone under
# a private mktemp folder), and postgres complains when it cannot.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u causald-pg -- "$@"); else "$@"; fi
}

case "${1:-}" in
  start)
    if [ "$(id -u)" -eq 0 ] && ! id causald-pg >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /usr/sbin/nologin causald-pg
    fi
    dir="$(mktemp -d /tmp/causald-pg.XXXXXX)"
    [ "$(id -u)" -eq 0 ] && chown causald-pg "$dir"
    # A free loopback port: bind to port 0 and read back what the kernel chose.
    port="$(bun -e 'const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } }); console.log(s.port); s.stop(true)')"
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
      || { echo "pg-test-server: initdb failed, see $dir/initdb.log" >&2; exit 1; }
    # Unix socket in the data folder: /var/run/postgresql may not exist or be writable.
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-h 127.0.0.1 -p $port -k $dir/data -c fsync=off -c max_connections=200" start >/dev/null \
      || { echo "pg-test-server: server did not start, see $dir/server.log" >&2; exit 1; }
    echo "export CAUSALD_TEST_PG_URL=postgres://postgres@127.0.0.1:$port/postgres CAUSALD_TEST_PG_DIR=$dir"
    ;;
  stop)
    dir="${2:?usage: pg-test-server.sh stop DIR}"
    case "$dir" in /tmp/causald-pg.*) ;; *) echo "pg-test-server: $dir is not a test server folder" >&2; exit 2 ;; esac
    if [ -d "$dir/data" ]; then as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true; fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: pg-test-server.sh start | stop DIR" >&2
    exit 2
    ;;
esac
