#!/usr/bin/env bash
# A throw-away Matrix homeserver (Synapse from PyPI) on loopback, for trying the bot and for
# the integration tests.
#
#   scripts/synapse.sh up       install (once) into a venv, start, create the test users
#   scripts/synapse.sh down     stop and delete the server's data
#   scripts/synapse.sh status   is it answering?
#   scripts/synapse.sh env      print RATHAUS_MATRIX__* settings for the bot user
#
# Settings: RATHAUS_SYNAPSE_PORT (8008), RATHAUS_SYNAPSE_DIR (server data, default
# ~/.cache/rathaus-synapse), RATHAUS_SYNAPSE_VENV (~/.cache/rathaus-synapse-venv).
# Users (password = "<name>-password"): rathaus (the bot), presse (press office),
# moderation (moderator), buergerin (a citizen), admin (server admin).
set -euo pipefail

SYNAPSE_VERSION=1.163.2
PORT=${RATHAUS_SYNAPSE_PORT:-8008}
DATA=${RATHAUS_SYNAPSE_DIR:-$HOME/.cache/rathaus-synapse}
VENV=${RATHAUS_SYNAPSE_VENV:-$HOME/.cache/rathaus-synapse-venv}
URL="http://127.0.0.1:$PORT"
USERS=(rathaus presse moderation buergerin admin)

answering() { curl -fsS -m 2 "$URL/_matrix/client/versions" >/dev/null 2>&1; }

install() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import synapse" 2>/dev/null; then
    return
  fi
  echo "installing matrix-synapse $SYNAPSE_VERSION into $VENV (about a minute)…"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION"
}

configure() {
  mkdir -p "$DATA"
  [ -f "$DATA/secret" ] || head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$DATA/secret"
  local secret; secret=$(cat "$DATA/secret")
  cat > "$DATA/homeserver.yaml" <<YAML
server_name: "localhost"
public_baseurl: "$URL/"
pid_file: "$DATA/homeserver.pid"
listeners:
  - port: $PORT
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "$DATA/homeserver.db"
log_config: "$DATA/log.yaml"
media_store_path: "$DATA/media"
signing_key_path: "$DATA/signing.key"
registration_shared_secret: "$secret"
enable_registration: false
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
presence:
  enabled: false
url_preview_enabled: false
rc_message: {per_second: 1000, burst_count: 1000}
rc_login:
  address: {per_second: 1000, burst_count: 1000}
  account: {per_second: 1000, burst_count: 1000}
  failed_attempts: {per_second: 1000, burst_count: 1000}
rc_registration: {per_second: 1000, burst_count: 1000}
rc_joins:
  local: {per_second: 1000, burst_count: 1000}
  remote: {per_second: 1000, burst_count: 1000}
rc_invites:
  per_room: {per_second: 1000, burst_count: 1000}
  per_user: {per_second: 1000, burst_count: 1000}
rc_room_creation: {per_second: 1000, burst_count: 1000}
rc_admin_redaction: {per_second: 1000, burst_count: 1000}
YAML
  cat > "$DATA/log.yaml" <<YAML
version: 1
formatters:
  precise: {format: '%(asctime)s %(levelname)s %(name)s %(message)s'}
handlers:
  file: {class: logging.FileHandler, formatter: precise, filename: "$DATA/homeserver.log"}
root: {level: WARNING, handlers: [file]}
disable_existing_loggers: false
YAML
  [ -f "$DATA/signing.key" ] || (cd "$DATA" && "$VENV/bin/python" -m synapse.app.homeserver -c homeserver.yaml --generate-keys >/dev/null)
}

register_users() {
  "$VENV/bin/python" - "$URL" "$(cat "$DATA/secret")" "${USERS[@]}" <<'PY'
import hashlib, hmac, json, sys, urllib.request, urllib.error
url, secret, users = sys.argv[1], sys.argv[2].encode(), sys.argv[3:]
def call(method, path, body=None):
    req = urllib.request.Request(url + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
for user in users:
    nonce = call("GET", "/_synapse/admin/v1/register")["nonce"]
    password = f"{user}-password"
    admin = user == "admin"
    mac = hmac.new(secret, digestmod=hashlib.sha1)
    mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(), b"admin" if admin else b"notadmin"]))
    try:
        call("POST", "/_synapse/admin/v1/register", {"nonce": nonce, "username": user,
             "password": password, "admin": admin, "mac": mac.hexdigest()})
    except urllib.error.HTTPError as e:
        if e.code != 400:  # 400: the user exists already
            raise
PY
}

case "${1:-}" in
  up)
    install
    configure
    if ! answering; then
      (cd "$DATA" && "$VENV/bin/python" -m synapse.app.homeserver -c homeserver.yaml --daemonize)
      for _ in $(seq 1 150); do answering && break; sleep 0.2; done
      answering || { echo "Synapse did not start; see $DATA/homeserver.log" >&2; exit 1; }
    fi
    register_users
    echo "Synapse is up at $URL (server name: localhost)."
    echo "Users: ${USERS[*]} — password: <name>-password, e.g. presse / presse-password"
    ;;
  down)
    if [ -f "$DATA/homeserver.pid" ]; then
      kill "$(cat "$DATA/homeserver.pid")" 2>/dev/null || true
      for _ in $(seq 1 50); do answering || break; sleep 0.1; done
    fi
    rm -rf "$DATA"
    echo "Synapse stopped and its data removed."
    ;;
  status)
    if answering; then echo "up at $URL"; else echo "down"; exit 1; fi
    ;;
  env)
    echo "RATHAUS_MATRIX__HOMESERVER_URL=$URL"
    echo "RATHAUS_MATRIX__USER_ID=@rathaus:localhost"
    echo "RATHAUS_MATRIX__PASSWORD=rathaus-password"
    ;;
  *)
    echo "usage: scripts/synapse.sh up|down|status|env" >&2
    exit 2
    ;;
esac
