#!/bin/sh
# Like the official redis image, which builds redis with protected mode off: the other
# containers of the compose network connect without a password. Arguments given after it
# (the compose file's command) still win.
if [ "$1" = redis-server ]; then
    shift
    exec redis-server --protected-mode no "$@"
fi
exec "$@"
