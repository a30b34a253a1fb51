# Shared by the libraries that run a real server for the tests (tests/dns
# NSD, tests/imap Dovecot): who the server runs as, and whether a process
# group still lives. Sourced by those libraries; defines functions only.

# daemon_identity: sets DAEMON_USER, DAEMON_GROUP and DAEMON_AS (the command
# prefix that runs as them). Root hands servers over to nobody (Dovecot's
# imap-login refuses root); anyone else runs them as themselves.
daemon_identity() {
  if [[ $(id -u) == 0 ]]; then
    DAEMON_USER=nobody
    DAEMON_GROUP=nogroup
    DAEMON_AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  else
    DAEMON_USER=$(id -un)
    DAEMON_GROUP=$(id -gn)
    DAEMON_AS=()
  fi
}

# process_group_alive PGID: true while a (non-zombie) process of that group lives.
process_group_alive() {
  local f line rest
  local -a fields
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    rest=${line##*) }
    read -r -a fields <<<"$rest"
    [[ "${fields[2]:-}" == "$1" && "${fields[0]}" != Z && "${fields[0]}" != X ]] && return 0
  done
  return 1
}
