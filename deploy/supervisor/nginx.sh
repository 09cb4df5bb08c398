#!/bin/sh
# nginx for supervisord (supervisord.conf.template): nginx RUN_DIR
#
# A master killed outright (SIGKILL, the OOM killer) leaves its workers running, still
# listening on the port, so the master supervisord starts next could not bind it. supervisord
# starts each program as the leader of a process group, which the workers share: the nginx
# processes left in the previous master's group are ended first, then nginx starts as usual.
set -eu
nginx=$1
run_dir=$2
previous=$(cat "$run_dir/pids/nginx.pid" 2>/dev/null || true)
if [ -n "$previous" ] && ! kill -0 "$previous" 2>/dev/null; then
    pkill -KILL -g "$previous" -x nginx || true
fi
exec "$nginx" -p "$run_dir" -c "$run_dir/nginx.conf" -e "$run_dir/logs/nginx-error.log"
