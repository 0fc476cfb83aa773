#!/usr/bin/env bash
# The real servers the tests talk to, all on 127.0.0.1 (SERVICES.md):
#   nginx       HTTP and HTTPS (own test CA) assets (ETag, Last-Modified) from a directory
#   s3s-fs ×2   S3 with SigV4 checked; two servers with different credentials, so bucket-scoped
#               endpoints and credentials are tested for real (a wrong key gets 403)
#   Azurite     Azure Blob
#   ferro-oci-server    an OCI registry with the OCI 1.1 referrers API
#   docker-registry ×3  OCI registries: open, htpasswd Basic auth, and bearer tokens from a small
#               token service (scripts/token-server.py)
#   Slurm       a one-node cluster (munged, slurmctld, slurmd on 127.0.0.1, as root) that runs
#               the scale-out tests' job arrays
#
#   scripts/services.sh install      install what is missing (apt, cargo install, npm) into .tools/
#   scripts/services.sh start DIR [nginx|s3|azure|oci|slurm]...
#                                    start everything (or the named ones) with state in DIR;
#                                    writes DIR/services.env
#   scripts/services.sh stop DIR     stop what `start` started
#
# The tests find the servers through STACPKG_TEST_SERVICES (= DIR/services.env, KEY=VALUE lines).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
export PATH="$tools/bin:$tools/npm/node_modules/.bin:$PATH"

S3S_VERSION=0.14.1
AZURITE_VERSION=3.35.0
# A registry with the OCI 1.1 referrers API (docker-registry 2.8 has none).
FERRO_OCI_VERSION=1.0.0

install() {
  local need=()
  command -v nginx >/dev/null || need+=(nginx-light)
  command -v ab >/dev/null || need+=(apache2-utils)
  command -v openssl >/dev/null || need+=(openssl)
  command -v docker-registry >/dev/null || need+=(docker-registry)
  # The OCI tests talk to the registries with curl too, as a client that is not stacpkg.
  command -v curl >/dev/null || need+=(curl)
  command -v slurmctld >/dev/null || need+=(slurm-wlm)
  command -v munged >/dev/null || need+=(munge)
  if [ ${#need[@]} -gt 0 ]; then
    echo "==> apt-get install ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if ! command -v s3s-fs >/dev/null; then
    echo "==> cargo install s3s-fs@$S3S_VERSION (a few minutes on 2 cores)"
    cargo install "s3s-fs@$S3S_VERSION" --features binary --locked --root "$tools" --quiet
  fi
  if ! command -v ferro-oci-server >/dev/null; then
    echo "==> cargo install ferro-oci-server@$FERRO_OCI_VERSION (a few minutes on 2 cores)"
    cargo install "ferro-oci-server@$FERRO_OCI_VERSION" --locked --root "$tools" --quiet
  fi
  if ! command -v azurite-blob >/dev/null; then
    echo "==> npm install azurite@$AZURITE_VERSION"
    mkdir -p "$tools/npm"
    npm install --prefix "$tools/npm" --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION" >/dev/null
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
  local port=$1 name=$2
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "services.sh: $name did not start on port $port; its log:" >&2
  cat "$dir/$name.log" >&2 || true
  exit 1
}

start() {
  dir=$1
  shift
  local want=" ${*:-nginx s3 azure oci slurm} "
  mkdir -p "$dir"
  chmod 755 "$dir"
  : >"$dir/services.env"

  if [[ $want == *" nginx "* ]]; then
    mkdir -p "$dir/www" "$dir/nginx"
    chmod 755 "$dir/www"
    local http_port https_port
    http_port=$(free_port)
    https_port=$(free_port)
    # A throwaway CA and a certificate for 127.0.0.1, so https is tested with real TLS; clients
    # trust the CA through SSL_CERT_FILE.
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -keyout "$dir/nginx/ca.key" -out "$dir/nginx/ca.pem" -days 7 \
      -subj /CN=stacpkg-test-ca -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req "${ec[@]}" -keyout "$dir/nginx/server.key" -out "$dir/nginx/server.csr" \
      -subj /CN=127.0.0.1 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
      >"$dir/nginx/server.ext"
    openssl x509 -req -in "$dir/nginx/server.csr" -CA "$dir/nginx/ca.pem" -CAkey "$dir/nginx/ca.key" \
      -CAcreateserial -out "$dir/nginx/server.pem" -days 7 -extfile "$dir/nginx/server.ext" 2>/dev/null
    cat >"$dir/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
pid $dir/nginx/nginx.pid;
error_log $dir/nginx.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$http_port;
    root $dir/www;
    # Directory listings let rclone's http backend copy a tree (bench/relocate.sh).
    autoindex on;
    # A slow path, for tests that need a transfer to take a while (the progress line).
    location /slow/ {
      limit_rate 256k;
    }
  }
  server {
    listen 127.0.0.1:$https_port ssl;
    ssl_certificate $dir/nginx/server.pem;
    ssl_certificate_key $dir/nginx/server.key;
    root $dir/www;
  }
}
EOF
    nginx -c "$dir/nginx/nginx.conf" -p "$dir/nginx" >"$dir/nginx.log" 2>&1 &
    echo $! >"$dir/nginx.pid"
    wait_port "$http_port" nginx
    wait_port "$https_port" nginx
    printf '%s\n' "HTTP_URL=http://127.0.0.1:$http_port" "HTTP_ROOT=$dir/www" \
      "HTTPS_URL=https://127.0.0.1:$https_port" "HTTPS_CA=$dir/nginx/ca.pem" >>"$dir/services.env"
  fi

  if [[ $want == *" s3 "* ]]; then
    # Two S3 servers, each with its own credentials; bucket names exercise the env-name mangling.
    local s3a_port s3b_port
    s3a_port=$(free_port)
    mkdir -p "$dir/s3a/stacpkg-a" "$dir/s3b/stacpkg.b-2"
    s3s-fs --host 127.0.0.1 --port "$s3a_port" --access-key AKIDSTACPKGA --secret-key secret-a-0123456789 "$dir/s3a" >"$dir/s3a.log" 2>&1 &
    echo $! >"$dir/s3a.pid"
    s3b_port=$(free_port)
    s3s-fs --host 127.0.0.1 --port "$s3b_port" --access-key AKIDSTACPKGB --secret-key secret-b-9876543210 "$dir/s3b" >"$dir/s3b.log" 2>&1 &
    echo $! >"$dir/s3b.pid"
    wait_port "$s3a_port" s3a
    wait_port "$s3b_port" s3b
    printf '%s\n' \
      "S3A_URL=http://127.0.0.1:$s3a_port" "S3A_ROOT=$dir/s3a" "S3A_BUCKET=stacpkg-a" \
      "S3A_ACCESS_KEY=AKIDSTACPKGA" "S3A_SECRET_KEY=secret-a-0123456789" \
      "S3B_URL=http://127.0.0.1:$s3b_port" "S3B_ROOT=$dir/s3b" "S3B_BUCKET=stacpkg.b-2" \
      "S3B_ACCESS_KEY=AKIDSTACPKGB" "S3B_SECRET_KEY=secret-b-9876543210" >>"$dir/services.env"
  fi

  if [[ $want == *" azure "* ]]; then
    local az_port
    az_port=$(free_port)
    mkdir -p "$dir/azurite"
    azurite-blob --blobHost 127.0.0.1 --blobPort "$az_port" --location "$dir/azurite" --loose --skipApiVersionCheck --silent >"$dir/azurite.log" 2>&1 &
    echo $! >"$dir/azurite.pid"
    wait_port "$az_port" azurite
    python3 "$root/scripts/azurite.py" "http://127.0.0.1:$az_port" create-container stacpkg-az
    printf '%s\n' "AZURE_URL=http://127.0.0.1:$az_port" "AZURE_CONTAINER=stacpkg-az" \
      "AZURE_CLIENT=$root/scripts/azurite.py" >>"$dir/services.env"
  fi
  if [[ $want == *" oci "* ]]; then
    start_oci
  fi
  if [[ $want == *" slurm "* ]]; then
    start_slurm
  fi
  echo "==> services up:$want($dir/services.env)"
}

# One docker-registry: name, port, extra config (auth), and whether to keep an access log (the
# open one does: tests count the blobs a command fetched from it). Its variables must not start
# with REGISTRY_ (the registry reads those as configuration).
registry() {
  local name=$1 port=$2 auth=$3 accesslog_off=${4:-true}
  mkdir -p "$dir/$name/data"
  cat >"$dir/$name/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: $accesslog_off
storage:
  filesystem:
    rootdirectory: $dir/$name/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: stacpkg-test-$name
$auth
EOF
  docker-registry serve "$dir/$name/config.yml" >"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}

start_oci() {
  local open_port basic_port token_port auth_port
  open_port=$(free_port)
  registry oci "$open_port" "" false
  basic_port=$(free_port)
  mkdir -p "$dir/oci-basic"
  htpasswd -Bbn stacpkg-user 'basic-pass-0123' >"$dir/oci-basic/htpasswd"
  registry oci-basic "$basic_port" "auth:
  htpasswd:
    realm: stacpkg-test
    path: $dir/oci-basic/htpasswd"
  # Bearer tokens: an RSA key and self-signed certificate the registry trusts, and the token
  # service that signs with them.
  auth_port=$(free_port)
  token_port=$(free_port)
  mkdir -p "$dir/oci-token"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/oci-token/key.pem" -out "$dir/oci-token/cert.pem" \
    -days 7 -subj /CN=stacpkg-token-issuer 2>/dev/null
  python3 "$root/scripts/token-server.py" "$auth_port" "$dir/oci-token/key.pem" "$dir/oci-token/cert.pem" \
    stacpkg-issuer stacpkg-registry stacpkg-token-user 'token-pass-0123' >"$dir/oci-auth.log" 2>&1 &
  echo $! >"$dir/oci-auth.pid"
  registry oci-token "$token_port" "auth:
  token:
    realm: http://127.0.0.1:$auth_port/token
    service: stacpkg-registry
    issuer: stacpkg-issuer
    rootcertbundle: $dir/oci-token/cert.pem"
  # The referrers API: ferro-oci-server, open, state in DIR/oci-ferro.
  local ferro_port
  ferro_port=$(free_port)
  mkdir -p "$dir/oci-ferro"
  FERRO_OCI_LISTEN=127.0.0.1:$ferro_port FERRO_OCI_STORAGE_DIR=$dir/oci-ferro RUST_LOG=warn \
    ferro-oci-server >"$dir/oci-ferro.log" 2>&1 &
  echo $! >"$dir/oci-ferro.pid"
  # The open registry behind a proxy that sends at most 48 MB/s, and ferro-oci-server behind
  # one too, both logging the bytes of every request and response: resumed transfers are
  # measured there, and a pull is slow enough to be killed halfway.
  local slow_port ferro_proxy_port
  slow_port=$(free_port)
  ferro_proxy_port=$(free_port)
  mkdir -p "$dir/oci-slow"
  cat >"$dir/oci-slow/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
pid $dir/oci-slow/nginx.pid;
error_log $dir/oci-slow.log;
events { worker_connections 1024; }
http {
  log_format bytes '\$request_method \$uri \$status \$request_length \$bytes_sent';
  access_log $dir/oci-slow/access.log bytes;
  server {
    listen 127.0.0.1:$slow_port;
    client_max_body_size 0;
    location / {
      proxy_pass http://127.0.0.1:$open_port;
      proxy_set_header Host \$http_host;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_http_version 1.1;
      limit_rate 48m;
    }
  }
  server {
    listen 127.0.0.1:$ferro_proxy_port;
    client_max_body_size 0;
    location / {
      proxy_pass http://127.0.0.1:$ferro_port;
      proxy_set_header Host \$http_host;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_http_version 1.1;
    }
  }
}
NGINX
  nginx -c "$dir/oci-slow/nginx.conf" -p "$dir/oci-slow" >"$dir/oci-slow.log" 2>&1 &
  echo $! >"$dir/oci-slow.pid"
  wait_port "$open_port" oci
  wait_port "$slow_port" oci-slow
  wait_port "$ferro_proxy_port" oci-slow
  wait_port "$ferro_port" oci-ferro
  wait_port "$basic_port" oci-basic
  wait_port "$auth_port" oci-auth
  wait_port "$token_port" oci-token
  printf '%s\n' "OCI_HOST=127.0.0.1:$open_port" "OCI_ROOT=$dir/oci/data" "OCI_LOG=$dir/oci.log" \
    "OCI_BASIC_HOST=127.0.0.1:$basic_port" "OCI_BASIC_USER=stacpkg-user" "OCI_BASIC_PASS=basic-pass-0123" \
    "OCI_TOKEN_HOST=127.0.0.1:$token_port" "OCI_TOKEN_USER=stacpkg-token-user" \
    "OCI_TOKEN_PASS=token-pass-0123" "OCI_REFERRERS_HOST=127.0.0.1:$ferro_port" \
    "OCI_SLOW_HOST=127.0.0.1:$slow_port" "OCI_SLOW_LOG=$dir/oci-slow/access.log" \
    "OCI_REFERRERS_PROXY_HOST=127.0.0.1:$ferro_proxy_port" >>"$dir/services.env"
}

# A one-node Slurm cluster with its own munge key and socket, ports and spool under $dir/slurm;
# clients find it through SLURM_CONF. Jobs run as root, like the tests.
start_slurm() {
  local s="$dir/slurm" host ctld_port d_port
  mkdir -p "$s/state" "$s/spool" "$s/log"
  head -c 1024 /dev/urandom >"$s/munge.key"
  chmod 400 "$s/munge.key"
  munged --force --key-file="$s/munge.key" --socket="$s/munge.socket" --pid-file="$dir/munged.pid" \
    --log-file="$s/log/munged.log" --seed-file="$s/munged.seed"
  host=$(hostname -s)
  ctld_port=$(free_port)
  d_port=$(free_port)
  printf '%s\n' "ClusterName=stacpkg" "SlurmctldHost=$host(127.0.0.1)" \
    "SlurmctldPort=$ctld_port" "SlurmdPort=$d_port" "SlurmUser=root" "SlurmdUser=root" \
    "AuthType=auth/munge" "CredType=cred/munge" "AuthInfo=socket=$s/munge.socket" \
    "StateSaveLocation=$s/state" "SlurmdSpoolDir=$s/spool" \
    "SlurmctldPidFile=$dir/slurmctld.pid" "SlurmdPidFile=$dir/slurmd.pid" \
    "SlurmctldLogFile=$s/log/slurmctld.log" "SlurmdLogFile=$s/log/slurmd.log" \
    "ProctrackType=proctrack/linuxproc" "TaskPlugin=task/none" \
    "JobAcctGatherType=jobacct_gather/none" "AccountingStorageType=accounting_storage/none" \
    "SelectType=select/cons_tres" "SelectTypeParameters=CR_CPU" "MpiDefault=none" \
    "ReturnToService=2" "NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN" \
    "PartitionName=stacpkg Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE" \
    >"$s/slurm.conf"
  slurmctld -f "$s/slurm.conf"
  slurmd -f "$s/slurm.conf"
  for _ in $(seq 1 200); do
    if SLURM_CONF="$s/slurm.conf" sinfo -h -o %t 2>/dev/null | grep -q idle; then
      printf '%s\n' "SLURM_CONF=$s/slurm.conf" >>"$dir/services.env"
      return 0
    fi
    sleep 0.1
  done
  echo "services.sh: slurm did not come up; its logs:" >&2
  cat "$s/log/"*.log >&2 || true
  exit 1
}

stop() {
  local dir=$1
  for name in nginx s3a s3b azurite oci oci-basic oci-token oci-auth oci-ferro oci-slow slurmd slurmctld munged; do
    if [ -f "$dir/$name.pid" ]; then
      kill "$(cat "$dir/$name.pid")" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) stop "$2" ;;
  *) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
