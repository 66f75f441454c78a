#!/usr/bin/env bash
# Make sure the Postgres and Redis the tests use are running; start them if this machine has them.
set -u
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  return 1
}

if ! port_open "$PGPORT"; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL ..."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  if ! wait_port "$PGPORT"; then
    echo "PostgreSQL is not running on $PGHOST:$PGPORT and could not be started here." >&2
    echo "Start it, for example: docker compose up -d postgres redis" >&2
    exit 1
  fi
fi

if ! port_open "$REDIS_PORT"; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "starting Redis ..."
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  if ! wait_port "$REDIS_PORT"; then
    echo "Redis is not running on 127.0.0.1:$REDIS_PORT and could not be started here." >&2
    echo "Start it, for example: docker compose up -d postgres redis" >&2
    exit 1
  fi
fi
echo "PostgreSQL and Redis are up."
