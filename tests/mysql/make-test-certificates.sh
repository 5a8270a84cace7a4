#!/usr/bin/env bash
# Makes the certificates of the TLS tests in DIR: a CA (ca.pem), a server certificate for IP
# 127.0.0.1 signed by it (server.pem, server.key), and a second CA that signed nothing
# (other-ca.pem), so that verification can be seen to fail. Valid for two days.
#
#   make-test-certificates.sh DIR
set -euo pipefail
dir="${1:?usage: make-test-certificates.sh DIR}"
command -v openssl >/dev/null || { echo "make-test-certificates: openssl is not installed" >&2; exit 1; }
mkdir -p "$dir"
for subject in ca other-ca; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=lifeguard-test-$subject" \
        -keyout "$dir/$subject.key" -out "$dir/$subject.pem" 2>/dev/null
done
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$dir/server.key" \
    -out "$dir/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$dir/server.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
# The server reads its key as whoever it runs as.
chmod 644 "$dir/server.key"
