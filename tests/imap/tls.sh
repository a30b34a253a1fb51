#!/usr/bin/env bash
# IMAP over TLS against a real Dovecot: implicit TLS and STARTTLS work; an
# untrusted, wrong-host or expired certificate, a server without STARTTLS,
# and a server refusing plaintext login are all refused before any
# credentials are sent; a wrong password is a clear error.
set -euo pipefail
here=$(dirname "$0")
source "$here/../cli/lib.sh"
source "$here/lib.sh"
source "$here/common.sh"
cli_setup "$@"
imap_certs "$work/certs"
make_reports "$work/mail" 3 tls

dovecot_start good .
# Implicit TLS, by name (SNI and host name check).
dovecot_deliver "$work"/mail/*.eml
imap_config t "host=\"localhost\"" "port=$IMAPS_PORT" "tls=\"implicit\"" "ca_file=\"$IMAP_CA\"" "timeout_seconds=5"
expect_exit 0 ingest_imap t
expect_eq "reports after implicit TLS" 3 "$(reports_in_db)"
expect_eq "INBOX emptied" 0 "$(dovecot_folder_count INBOX)"
expect_eq "moved to INBOX.Processed" 3 "$(dovecot_folder_count INBOX.Processed)"
expect_eq "Invalid made, empty" 0 "$(dovecot_folder_count INBOX.Invalid)"

# STARTTLS on the cleartext port, by IP address (checked against the SAN IP).
make_reports "$work/mail2" 2 starttls
dovecot_deliver "$work"/mail2/*.eml
imap_config t "host=\"127.0.0.1\"" "port=$IMAP_PORT" "tls=\"starttls\"" "ca_file=\"$IMAP_CA\"" "timeout_seconds=5"
expect_exit 0 ingest_imap t
expect_eq "reports after STARTTLS" 5 "$(reports_in_db)"
expect_eq "STARTTLS: INBOX emptied" 0 "$(dovecot_folder_count INBOX)"

# A wrong password: exit 2, named, nothing moved.
dovecot_deliver "$work"/mail/tls-1.eml
printf 'wrong\n' >"$work/imap-password"
expect_exit 2 "$DMARQ" --db "$db" --config "$work/cfg.toml" ingest --imap t
expect_contains "wrong password" "login as tester failed" "$err"
expect_eq "nothing moved after a failed login" 1 "$(dovecot_folder_count INBOX)"

# No TLS without asking, and even when asked, Dovecot refuses plaintext
# LOGIN from 127.0.0.1 to 127.0.0.2: dmarq stops without sending the password.
imap_config t "host=\"127.0.0.2\"" "port=$IMAP_PORT" "tls=\"none\"" "timeout_seconds=5"
before=$(dovecot_auth_attempts)
expect_exit 2 ingest_imap t
expect_contains "plaintext refused" "LOGINDISABLED" "$err"
expect_eq "no credentials over plaintext" "$before" "$(dovecot_auth_attempts)"

# Bad certificates: refused at the handshake, before any login.
for cert in untrusted wronghost expired; do
  dovecot_start "$cert" .
  dovecot_deliver "$work"/mail/tls-1.eml
  imap_config t "host=\"localhost\"" "port=$IMAPS_PORT" "tls=\"implicit\"" "ca_file=\"$IMAP_CA\"" "timeout_seconds=5"
  before=$(dovecot_auth_attempts)
  expect_exit 2 ingest_imap t
  case $cert in
    untrusted) expect_contains "$cert" "untrusted certificate" "$err" ;;
    wronghost) expect_contains "$cert" "wrong host" "$err" ;;
    expired) expect_contains "$cert" "expired" "$err" ;;
  esac
  expect_contains "$cert: nothing sent" "nothing was sent" "$err"
  expect_eq "$cert: no login attempt" "$before" "$(dovecot_auth_attempts)"
  # The same over STARTTLS.
  imap_config t "host=\"localhost\"" "port=$IMAP_PORT" "tls=\"starttls\"" "ca_file=\"$IMAP_CA\"" "timeout_seconds=5"
  expect_exit 2 ingest_imap t
  expect_contains "$cert over STARTTLS" "nothing was sent" "$err"
  expect_eq "$cert over STARTTLS: no login attempt" "$before" "$(dovecot_auth_attempts)"
  expect_eq "$cert: message untouched" 1 "$(dovecot_folder_count INBOX)"
done
# Without ca_file the system CAs are used, and they do not know the test CA.
dovecot_start good .
imap_config t "host=\"localhost\"" "port=$IMAPS_PORT" "tls=\"implicit\"" "timeout_seconds=5"
expect_exit 2 ingest_imap t
expect_contains "system CAs do not trust the test CA" "untrusted certificate" "$err"

# A server that does not offer STARTTLS (the fake one): nothing but
# CAPABILITY and STARTTLS is sent.
fake_imap_start no-starttls plain
imap_config t "host=\"127.0.0.1\"" "port=$FAKE_IMAP_PORT" "tls=\"starttls\"" "timeout_seconds=5"
expect_exit 2 ingest_imap t
expect_contains "no STARTTLS" "does not offer STARTTLS" "$err"
fake_imap_stop
sent=$(fake_imap_client_commands)
expect_not_contains "no LOGIN without STARTTLS" "LOGIN" "$sent"
expect_not_contains "no AUTHENTICATE without STARTTLS" "AUTHENTICATE" "$sent"
